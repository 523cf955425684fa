// The flows of every operation kind, ready for the OperationManager.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_FLOWS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_FLOWS_H_

#include <memory>

#include "orchestrator/engine/flow.h"

namespace orchestrator::flows {

std::unique_ptr<engine::Flow> NewDeployFlow();
std::unique_ptr<engine::Flow> NewUpdateEnvVarsFlow();
std::unique_ptr<engine::Flow> NewUpdateDockerComposeFlow();
std::unique_ptr<engine::Flow> NewUpdateComposeFileFlow();
std::unique_ptr<engine::Flow> NewAddComposeHashFlow();
std::unique_ptr<engine::Flow> NewUpdateAppContractFlow();

// All of them, by kind.
engine::FlowRegistry AllFlows();

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_FLOWS_H_
