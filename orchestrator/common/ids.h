// Operation ids: "op_" + 26 characters of Crockford base32 (48-bit milliseconds since the epoch,
// then 80 random bits), so ids sort roughly by creation time and never collide in practice.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_COMMON_IDS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_COMMON_IDS_H_

#include <string>

#include "absl/time/time.h"

namespace orchestrator {

std::string NewOperationId(absl::Time now);

}  // namespace orchestrator

#endif  // ONCHAIN_KMS_ORCHESTRATOR_COMMON_IDS_H_
