// Pieces shared by the flows: converting API values, the compose-hash and chain checks the SDK
// does not make, the env-encryption key, and the transaction steps (journaled signing, resume).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_COMMON_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_COMMON_H_

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/onchain/operations.h"
#include "cloudapi/types.h"
#include "orchestrator/engine/flow.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/flows/resource_names.h"
#include "orchestrator/state/fields.h"

namespace orchestrator::flows {

namespace v1 = ::onchainkms::orchestrator::v1;
namespace state = ::orchestrator::state::v1;
using engine::OpContext;
using engine::StepRun;
// The journaled hex forms (orchestrator/state/fields.h).
using ::orchestrator::state::AddressField;
using ::orchestrator::state::HashField;
using ::orchestrator::state::OptionalAddressField;
using ::orchestrator::state::OptionalHashField;
using ::orchestrator::state::ToField;

// Step names (proto/onchainkms/orchestrator/v1/orchestrator.proto, message Step).
inline constexpr char kProvision[] = "provision";
inline constexpr char kCheckKms[] = "check_kms";
inline constexpr char kDeployAppAuth[] = "deploy_app_auth";
inline constexpr char kGetEnvPubkey[] = "get_env_pubkey";
inline constexpr char kEncryptEnv[] = "encrypt_env";
inline constexpr char kCommit[] = "commit";
inline constexpr char kGetCvm[] = "get_cvm";
inline constexpr char kUpdateEnvVars[] = "update_env_vars";
inline constexpr char kUpdateDockerCompose[] = "update_docker_compose";
inline constexpr char kRegisterComposeHash[] = "register_compose_hash";
inline constexpr char kConfirmUpdate[] = "confirm_update";
inline constexpr char kGetComposeFile[] = "get_compose_file";
inline constexpr char kProvisionUpdate[] = "provision_update";
inline constexpr char kCommitUpdate[] = "commit_update";
inline constexpr char kReadAppState[] = "read_app_state";
inline constexpr char kAppCall[] = "app_call";

state::KmsInfo ToState(const cloudapi::KmsInfo& k);
// What the API said about a CVM (GET /cvms/{id}); app_compose_json is left to the caller.
state::Cvm ToState(const cloudapi::CvmInfo& info);

// The check the SDK does not make: the compose hash the API returned for what we sent must equal
// the one computed from it in the service's form (cloudapi::ComposeHashForm::kIndented), or
// nothing is signed: FAILED_PRECONDITION. With compose_hash_warn_only, a mismatch is logged and
// OK is returned (the API's hash is used).
absl::Status CheckComposeHash(OpContext& ctx, absl::string_view what, const chain::Hash32& api_hash,
                              const chain::Hash32& expected_hash);

// The service-form hash of an app compose object.
absl::StatusOr<chain::Hash32> ServiceComposeHash(const boost::json::object& app_compose);

// The chain of an on-chain KMS: FAILED_PRECONDITION when the orchestrator is not configured for
// it. With `check_rpc`, also asks the chain's RPC endpoint for its chain id (eth_chainId), the
// other check the SDK does not make: an unreachable RPC or a wrong chain stops the flow at the
// KMS check, before the deploy step (the jsonrpc client alone verifies each endpoint once).
absl::StatusOr<const engine::ChainBackend*> ChainFor(OpContext& ctx, uint64_t chain_id, bool check_rpc);

// The env-encryption public key of an app from GET /kms/{kms_ref}/pubkey/{app_id} (`app_id` in
// the form the CLI puts in that path: EIP-55 after a deploy, the API's form for updates), its signature
// verified against the trusted KMS key configured under any of `trust_names` (KMS id, slug; the
// CVM's kms_type for updates), or at least checked for form.
absl::StatusOr<state::EnvPubkey> FetchEnvPubkey(OpContext& ctx, absl::string_view kms_ref, absl::string_view app_id,
                                                const std::vector<std::string>& trust_names);

// The encrypt_env step: encrypts the held values to `public_key` (or the empty list when the
// request had none and `encrypt_empty`), journals the ciphertext, wipes the values. When the
// values were lost in a restart, puts the operation in WAITING_FOR_INPUT.
absl::Status EncryptEnvStep(OpContext& ctx, StepRun& run, absl::string_view public_key, bool encrypt_empty);

// Transaction steps: the journaled, resumable DstackKms.deployAndRegisterApp and
// DstackApp.addComposeHash. On resume the step's journaled transaction (repaired if a
// signature was interrupted) is adopted and waited for instead of sending a new one.
absl::StatusOr<chain::onchain::DeployAppAuthResult> RunDeployAppAuth(OpContext& ctx, StepRun& run,
                                                                     const engine::ChainBackend& chain,
                                                                     chain::onchain::DeployAppAuthRequest request);
absl::StatusOr<chain::onchain::AddComposeHashResult> RunAddComposeHash(OpContext& ctx, StepRun& run,
                                                                       const engine::ChainBackend& chain,
                                                                       chain::onchain::AddComposeHashRequest request);

absl::StatusOr<chain::onchain::MinedTx> RunAppCall(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain,
                                                   chain::onchain::AppCallRequest request);

// The get_cvm step of the flows that name a CVM: GET /cvms/{id} (and with `need_compose` its
// compose file) into FlowState.cvm; NOT_FOUND when the CVM's app belongs to another tenant.
absl::Status GetCvmStep(OpContext& ctx, StepRun& run, absl::string_view cvm_id, bool need_compose);

// The signer key of the operation (FlowState.signer_key_address). FAILED_PRECONDITION if none.
absl::StatusOr<chain::Address> SignerKey(OpContext& ctx);

// The register_compose_hash step: DstackApp(app).addComposeHash(compose_hash) on `chain_id`.
absl::Status RegisterComposeHashStep(OpContext& ctx, StepRun& run, uint64_t chain_id, const chain::Address& app,
                                     const chain::Hash32& compose_hash);

// Current state of a CVM as seen again (for the "did my call take effect" checks on resume).
absl::StatusOr<cloudapi::CvmInfo> ReadCvm(OpContext& ctx, absl::string_view cvm_id);

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_COMMON_H_
