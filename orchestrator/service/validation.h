// Validation and normalization of every Orchestrator request, before anything is journaled.
// A bad request is INVALID_ARGUMENT with a message that starts with the field path, e.g.
// "compose.docker_compose_file: required" or "env_vars[2].key: duplicate key FOO"; no value of
// an env var ever appears in a message.
//
// Normalization makes equal requests byte-equal for the idempotency digest: addresses in EIP-55
// form, 32-byte hex values as "0x" + lowercase, app ids as 40 lowercase hex.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVICE_VALIDATION_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVICE_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "cloudapi/types.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"

namespace orchestrator::service {

namespace v1 = ::onchainkms::orchestrator::v1;

// Limits (also in orchestrator/README.md).
inline constexpr size_t kMaxComposePayload = 200 * 1024;  // docker_compose_file + pre_launch_script
inline constexpr size_t kMaxEnvVars = 1000;
inline constexpr size_t kMaxEnvKey = 128;
inline constexpr size_t kMaxEnvValue = 64 * 1024;
inline constexpr size_t kMaxEnvTotal = 1024 * 1024;
inline constexpr absl::Duration kMaxReadinessTimeout = absl::Hours(24);  // ReadinessWait.timeout
inline constexpr size_t kMaxAppStateQueries = 100;                       // GetAppState device_ids, compose_hashes

// What validation needs to know about the deployment.
struct ValidationContext {
  // KMS instances the API lists (for DeployCvm's kms_id / kms_contract_address / kms_type).
  std::vector<cloudapi::KmsInfo> kms;
  // Chains the orchestrator is configured for.
  std::set<uint64_t> chains;
  // default_signer_key_address, if configured.
  std::optional<chain::Address> default_signer_key;
};

absl::Status ValidateRequestId(absl::string_view request_id);
absl::Status ValidateOperationId(absl::string_view field, absl::string_view id);
absl::Status ValidateEnvVars(const google::protobuf::RepeatedPtrField<v1::EnvVar>& vars, absl::string_view field);

// Each returns the normalized request (a copy) or INVALID_ARGUMENT. `signer_key` receives the
// resolved signer key (the request's or the default), if any.
absl::StatusOr<v1::DeployCvmRequest> ValidateDeploy(const v1::DeployCvmRequest& r, const ValidationContext& ctx,
                                                    std::optional<chain::Address>* signer_key);
absl::StatusOr<v1::UpdateEnvVarsRequest> ValidateUpdateEnvVars(const v1::UpdateEnvVarsRequest& r,
                                                               const ValidationContext& ctx,
                                                               std::optional<chain::Address>* signer_key);
absl::StatusOr<v1::UpdateDockerComposeRequest> ValidateUpdateDockerCompose(const v1::UpdateDockerComposeRequest& r,
                                                                           const ValidationContext& ctx,
                                                                           std::optional<chain::Address>* signer_key);
absl::StatusOr<v1::UpdateComposeFileRequest> ValidateUpdateComposeFile(const v1::UpdateComposeFileRequest& r,
                                                                       const ValidationContext& ctx,
                                                                       std::optional<chain::Address>* signer_key);
absl::StatusOr<v1::AddComposeHashRequest> ValidateAddComposeHash(const v1::AddComposeHashRequest& r,
                                                                 const ValidationContext& ctx,
                                                                 std::optional<chain::Address>* signer_key);

absl::StatusOr<v1::UpdateAppContractRequest> ValidateUpdateAppContract(const v1::UpdateAppContractRequest& r,
                                                                       const ValidationContext& ctx,
                                                                       std::optional<chain::Address>* signer_key);
// GetAppState (read-only: no request id, no signer key).
absl::StatusOr<v1::GetAppStateRequest> ValidateGetAppState(const v1::GetAppStateRequest& r,
                                                           const ValidationContext& ctx);

// The request digest stored with an operation: hex SHA-256 over the kind and the deterministic
// serialization of the normalized request with request_id cleared and every env var value
// cleared (values are compared through the manager's keyed digest instead).
std::string RequestDigest(v1::OperationKind kind, const google::protobuf::Message& normalized);

// The normalized request with every env var value cleared, serialized deterministically (what
// the journal keeps).
std::string StrippedRequest(const google::protobuf::Message& normalized);

}  // namespace orchestrator::service

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVICE_VALIDATION_H_
