// What an orchestrator client controls: the five mutating requests (as text protos, which a
// mutator edits far better than wire bytes; gRPC's own wire parsing is the library's) through
// their validation, and List page tokens. Invariants: validation normalizes to a fixed point
// (the idempotency digest relies on it), no env var value ever appears in an error, and a page
// token that decodes re-encodes to one that decodes to the same cursor.
// Input: one byte choosing the request (0-4) or a page token (5+), then the text.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orchestrator/service/orchestrator_service_impl.h"
#include "orchestrator/service/validation.h"
#include "tools/fuzz/check.h"

namespace {

namespace v1 = onchainkms::orchestrator::v1;
using orchestrator::service::ValidationContext;

const ValidationContext& Context() {
  static const ValidationContext* ctx = [] {
    auto* c = new ValidationContext;
    c->chains = {1, 8453, 31337};
    c->default_signer_key = chain::Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").value();
    cloudapi::KmsInfo kms;
    kms.id = "kms-base-prod7";
    kms.slug = "base-prod7";
    kms.chain_id = 8453;
    kms.kms_contract_address = chain::Address::Parse("0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C").value();
    c->kms.push_back(kms);
    return c;
  }();
  return *ctx;
}

// No env value (6+ bytes) may appear in a validation error. A value the error would contain
// anyway (e.g. "vars[0].ke" inside the field path "env_vars[0].key", or "valid UTF-" inside
// another value's "not valid UTF-8") is a coincidence, not a leak: it is told apart by validating
// again with only that value replaced by other bytes of the same length (masking every value at
// once changed which error came first, and the coincidence looked like a leak).
template <typename Request, typename Validate>
void CheckNoValueLeaks(const Request& request, const absl::Status& status, Validate validate) {
  for (int i = 0; i < request.env_vars_size(); ++i) {
    const std::string& value = request.env_vars(i).value();
    if (value.size() < 6 || !absl::StrContains(status.message(), value)) continue;
    Request masked = request;
    masked.mutable_env_vars(i)->set_value(std::string(value.size(), absl::StartsWith(value, "Q") ? 'Z' : 'Q'));
    std::optional<chain::Address> key;
    const absl::StatusOr<Request> other = validate(masked, Context(), &key);
    FUZZ_CHECK(!other.ok() && absl::StrContains(other.status().message(), value));
  }
}

// Parse errors are expected by the thousand: not logged.
class Silent final : public google::protobuf::io::ErrorCollector {
  void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
};

template <typename Request, typename Validate>
void Check(absl::string_view text, Validate validate) {
  Request request;
  Silent silent;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&silent);
  if (!parser.ParseFromString(std::string(text), &request)) return;
  std::optional<chain::Address> key;
  absl::StatusOr<Request> normalized = validate(request, Context(), &key);
  if (!normalized.ok()) {
    if constexpr (requires { request.env_vars(); }) CheckNoValueLeaks(request, normalized.status(), validate);
    return;
  }
  absl::StatusOr<Request> again = validate(*normalized, Context(), &key);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*again, *normalized));
}

void CheckPageToken(absl::string_view token) {
  v1::ListOperationsRequest filters;
  absl::StatusOr<orchestrator::journal::ListCursor> cursor = orchestrator::service::DecodePageToken(token, filters);
  if (!cursor.ok()) return;
  const std::string again = orchestrator::service::EncodePageToken(*cursor, filters);
  absl::StatusOr<orchestrator::journal::ListCursor> decoded = orchestrator::service::DecodePageToken(again, filters);
  FUZZ_CHECK(decoded.ok() && decoded->create_time == cursor->create_time && decoded->id == cursor->id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace svc = orchestrator::service;
  switch (data[0]) {
    case 0:
      Check<v1::DeployCvmRequest>(text, svc::ValidateDeploy);
      break;
    case 1:
      Check<v1::UpdateEnvVarsRequest>(text, svc::ValidateUpdateEnvVars);
      break;
    case 2:
      Check<v1::UpdateDockerComposeRequest>(text, svc::ValidateUpdateDockerCompose);
      break;
    case 3:
      Check<v1::UpdateComposeFileRequest>(text, svc::ValidateUpdateComposeFile);
      break;
    case 4:
      Check<v1::AddComposeHashRequest>(text, svc::ValidateAddComposeHash);
      break;
    default:
      CheckPageToken(text);
      break;
  }
  return 0;
}
