// JSON <-> types.h, as the SDK puts requests on the wire and reads responses. Used by
// CloudClient; exposed for tests and for the simulator's authors.
//
// Response readers are tolerant (unknown keys ignored, numbers accepted as integers or integral
// doubles) and fail with INTERNAL "unexpected <what> response: <path>: want <type>" when a
// required field is missing or has the wrong type. Request builders fail with INVALID_ARGUMENT
// where the SDK itself refuses before sending (provision name, 200 KiB compose payload).
#ifndef ONCHAIN_KMS_CLOUDAPI_WIRE_H_
#define ONCHAIN_KMS_CLOUDAPI_WIRE_H_

#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cloudapi/api_error.h"
#include "cloudapi/types.h"

namespace cloudapi::wire {

// --- Requests ---------------------------------------------------------------------------------
//
// Typed values go on the wire as the SDK sends them: compose hashes and app ids in the API's
// own form (lowercase hex without 0x; an on-chain commit's app id EIP-55, as the CLI),
// transaction hashes as 0x + lowercase hex, addresses EIP-55.

// The API's own form of a compose hash or app id: lowercase hex without 0x.
std::string HexOf(const chain::Hash32& hash);
std::string HexOf(const chain::Address& app_id);

// MAX_COMPOSE_PAYLOAD_BYTES: UTF-8 bytes of docker_compose_file + pre_launch_script.
inline constexpr size_t kMaxComposePayloadBytes = 200 * 1024;

// The SDK's isValidHostname + 5..63 characters.
bool IsValidCvmName(absl::string_view name);

absl::StatusOr<boost::json::object> ProvisionCvmBody(const ProvisionCvmRequest& request);
boost::json::object CommitCvmProvisionBody(const CommitCvmProvisionRequest& request);
boost::json::object UpdateCvmEnvsBody(const UpdateCvmEnvsRequest& request);
absl::StatusOr<boost::json::object> ProvisionComposeFileUpdateBody(const ProvisionComposeFileUpdateRequest& request);
boost::json::object CommitComposeFileUpdateBody(const CommitComposeFileUpdateRequest& request);
// "?is_onchain=true&page=1" or "".
std::string ListKmsQuery(const ListKmsRequest& request);
// "?page=2&page_size=50&node_id=3" or "" (the SDK's getCvmList params, in its order).
std::string ListCvmsQuery(const ListCvmsRequest& request);

// --- Responses --------------------------------------------------------------------------------

absl::StatusOr<CurrentUser> ParseCurrentUser(const boost::json::value& v);
absl::StatusOr<KmsInfo> ParseKmsInfo(const boost::json::value& v);
absl::StatusOr<KmsList> ParseKmsList(const boost::json::value& v);
absl::StatusOr<ProvisionCvmResponse> ParseProvisionCvmResponse(const boost::json::value& v);
absl::StatusOr<CommitCvmProvisionResponse> ParseCommitCvmProvisionResponse(const boost::json::value& v);
absl::StatusOr<CvmInfo> ParseCvmInfo(const boost::json::value& v);
// GET /cvms/paginated: {items: CvmInfo[], total, page, page_size, pages}.
absl::StatusOr<CvmList> ParseCvmList(const boost::json::value& v);
// GET /teepods/available: {tier, capacity, nodes: TeepodCapacity[], kms_list} (nodes only).
absl::StatusOr<AvailableNodes> ParseAvailableNodes(const boost::json::value& v);
absl::StatusOr<ComposeFileUpdateProvision> ParseComposeFileUpdateProvision(const boost::json::value& v);
// {status, message, correlation_id[, allowed_envs_changed]}; `envs` requires the last one, as
// the SDK's schema does.
absl::StatusOr<UpdateAccepted> ParseUpdateAccepted(const boost::json::value& v, bool envs);
// {public_key, signature} (signature may be absent or empty).
struct RawPubkey {
  std::string public_key;
  std::string signature;
};
absl::StatusOr<RawPubkey> ParseAppEnvEncryptPubkey(const boost::json::value& v);

// The SDK's reading of a 465 error (facts §5): details [{field, value}...] -> the value. nullopt
// when compose_hash or app_id is missing or empty (the SDK then rethrows the error as is);
// INTERNAL when kms_info is not a valid KmsInfo (the SDK's zod parse fails).
absl::StatusOr<std::optional<PreconditionRequired>> PreconditionFromError(const ApiError& error);
// A 2xx body {status: "precondition_required", message, compose_hash, app_id, device_id,
// kms_info}; nullopt when status is something else.
absl::StatusOr<std::optional<PreconditionRequired>> PreconditionFromBody(const boost::json::value& v);

}  // namespace cloudapi::wire

#endif  // ONCHAIN_KMS_CLOUDAPI_WIRE_H_
