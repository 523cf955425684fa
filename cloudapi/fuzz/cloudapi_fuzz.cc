// Phala Cloud API answers, read as cloudapi's client reads them: every response reader of
// wire.h, the error-body reader with its status mapping (its message must never carry the API
// key), Retry-After, the env-encryption public key and KMS signature, app ids and base URLs.
// The first input byte picks the HTTP status of the error reading; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cloudapi/api_error.h"
#include "cloudapi/base_url.h"
#include "cloudapi/env_encryption.h"
#include "cloudapi/env_pubkey_signature.h"
#include "cloudapi/types.h"
#include "cloudapi/wire.h"
#include "tools/fuzz/check.h"

namespace {

constexpr absl::string_view kApiKey = "phak_fuzzsecret";
constexpr int kStatuses[] = {400, 401, 402, 403, 404, 408, 409, 422, 429, 465, 466, 500, 501, 503};

void ReadBody(const boost::json::value& v) {
  namespace wire = cloudapi::wire;
  (void)wire::ParseCurrentUser(v);
  (void)wire::ParseKmsInfo(v);
  (void)wire::ParseKmsList(v);
  (void)wire::ParseProvisionCvmResponse(v);
  (void)wire::ParseCommitCvmProvisionResponse(v);
  (void)wire::ParseCvmInfo(v);
  (void)wire::ParseComposeFileUpdateProvision(v);
  (void)wire::ParseUpdateAccepted(v, true);
  (void)wire::ParseUpdateAccepted(v, false);
  (void)wire::PreconditionFromBody(v);
  if (absl::StatusOr<wire::RawPubkey> raw = wire::ParseAppEnvEncryptPubkey(v); raw.ok()) {
    (void)cloudapi::ParseX25519PublicKeyHex(raw->public_key);
    (void)cloudapi::ParseEnvPubkeySignature(raw->signature);
  }
}

void ReadError(int status, absl::string_view body) {
  const cloudapi::ApiError error = cloudapi::ParseApiError(status, body);
  (void)cloudapi::wire::PreconditionFromError(error);
  const absl::Status s = cloudapi::ApiErrorStatus("op", error, kApiKey, absl::Seconds(1));
  FUZZ_CHECK(!s.ok());
  FUZZ_CHECK(!absl::StrContains(s.message(), kApiKey));
  (void)cloudapi::GetApiErrorInfo(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int status = kStatuses[data[0] % (sizeof(kStatuses) / sizeof(kStatuses[0]))];
  const absl::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  ReadError(status, body);
  (void)cloudapi::ParseRetryAfter(body, absl::FromUnixSeconds(1767225600));
  (void)cloudapi::ParseAppId(body);
  (void)cloudapi::ParseBaseUrl(body);
  (void)cloudapi::ParseEnvPubkeySignature(body);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(boost::json::string_view(body.data(), body.size()), ec);
  if (!ec) ReadBody(v);
  return 0;
}
