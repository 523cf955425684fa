#include "cloudapi/cloud_client.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cloudapi/api_error.h"
#include "cloudapi/base_url.h"
#include "cloudapi/env_encryption.h"
#include "cloudapi/env_pubkey_signature.h"
#include "cloudapi/js_json.h"
#include "cloudapi/wire.h"

namespace cloudapi {
namespace {

namespace json = boost::json;
using platform::http::Response;

bool RetryableStatus(int status, bool idempotent) {
  if (status == 429 || status == 503) return true;  // not processed: safe for any method
  return idempotent && (status == 408 || status == 425 || status == 500 || status == 502 || status == 504);
}

// Keeps the code, puts "<operation>: " in front of the message.
absl::Status WithOperation(absl::string_view operation, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(operation, ": ", s.message()));
}

std::string Segment(absl::string_view s) { return CvmRef::Id(s).path_segment(); }

bool IsHex40(absl::string_view s) {
  if (s.size() == 42 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.size() != 40) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

absl::StatusOr<CloudClientOptions> CloudClientOptions::FromEnvironment() {
  CloudClientOptions options;
  if (const char* prefix = std::getenv("PHALA_CLOUD_API_PREFIX"); prefix != nullptr && *prefix) {
    options.base_url = prefix;
  }
  absl::StatusOr<ApiKey> key = ApiKey::FromEnvironment();
  if (!key.ok()) return key.status();
  options.api_key = std::move(*key);
  return options;
}

absl::StatusOr<std::unique_ptr<CloudClient>> CloudClient::Create(CloudClientOptions options) {
  absl::StatusOr<platform::http::Url> url = ParseBaseUrl(options.base_url);
  if (!url.ok()) return url.status();
  if (!url->tls && !url->IsLoopback() && !options.allow_insecure_http) {
    return absl::InvalidArgumentError(
        "base url: plain http is allowed only for loopback hosts (or with allow_insecure_http)");
  }
  if (options.api_key.empty()) return absl::InvalidArgumentError("api key: empty");
  if (options.retry.max_attempts < 1) {
    return absl::InvalidArgumentError("retry: max_attempts must be at least 1");
  }
  for (char c : options.user_agent) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("user agent: control characters are not allowed");
    }
  }
  absl::StatusOr<std::unique_ptr<platform::http::Client>> transport =
      platform::http::Client::Create(*url, options.transport);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<CloudClient>(new CloudClient(std::move(options), std::move(*transport)));
}

CloudClient::CloudClient(CloudClientOptions options, std::unique_ptr<platform::http::Client> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

CloudClient::~CloudClient() = default;

std::string CloudClient::Redacted(absl::string_view text) const { return Redact(text, options_.api_key.value()); }

void CloudClient::Notify(const CallEvent& event) const {
  if (options_.observer) options_.observer(event);
}

absl::Duration CloudClient::Backoff(int attempt) {
  absl::Duration base = options_.retry.initial_backoff;
  for (int i = 1; i < attempt && base < options_.retry.max_backoff; ++i) base *= 2;
  base = std::min(base, options_.retry.max_backoff);
  double factor;
  {
    absl::MutexLock lock(&rng_mu_);
    factor = absl::Uniform(rng_, 0.5, 1.0);  // "equal jitter": half fixed, half random
  }
  return base * factor;
}

absl::StatusOr<Response> CloudClient::Execute(const Call& call) {
  const bool idempotent = absl::string_view(call.method) == "GET";
  platform::http::Request req;
  req.method = call.method;
  req.target = absl::StrCat(transport_->url().path, call.path);
  req.headers = {
      {"X-Phala-Version", kApiVersion},
      {"Content-Type", call.content_type},
      {"Accept", idempotent ? "*/*" : "application/json"},
      {"User-Agent", options_.user_agent},
      {"X-API-Key", std::string(options_.api_key.value())},
  };
  for (const auto& h : call.headers) req.headers.push_back(h);
  req.body = call.body;

  const absl::Time deadline = absl::Now() + options_.retry.total_timeout;
  for (int attempt = 1;; ++attempt) {
    CallEvent ev;
    ev.operation = call.operation;
    ev.method = call.method;
    ev.path = call.path;
    ev.attempt = attempt;
    ev.started = absl::Now();
    platform::http::SendInfo info;
    absl::StatusOr<Response> res = transport_->Send(req, deadline, &info);
    ev.elapsed = absl::Now() - ev.started;
    // The client reports a timeout as UNAVAILABLE; ours is DEADLINE_EXCEEDED (cloud_client.h).
    if (!res.ok() && info.timed_out) res = absl::DeadlineExceededError(res.status().message());

    bool retry = false;
    std::optional<absl::Duration> retry_after;
    if (res.ok()) {
      ev.http_status = res->status;
      retry = RetryableStatus(res->status, idempotent);
      if (retry && (res->status == 429 || res->status == 503)) {
        if (const std::string* h = res->Header("retry-after")) {
          retry_after = ParseRetryAfter(*h, absl::Now());
        }
        if (retry_after && *retry_after > options_.retry.max_retry_after) retry = false;
      }
    } else {
      ev.error = absl::Status(res.status().code(), Redacted(res.status().message()));
      retry = !info.certificate_rejected && (!info.request_written || idempotent);
    }

    if (retry && attempt < options_.retry.max_attempts) {
      absl::Duration delay = Backoff(attempt);
      if (retry_after) delay = std::max(delay, *retry_after);
      if (absl::Now() + delay < deadline) {
        ev.retry_in = delay;
        Notify(ev);
        absl::SleepFor(delay);
        continue;
      }
    }
    Notify(ev);
    if (res.ok()) return res;

    std::string message = absl::StrCat(call.operation, ": ", Redacted(res.status().message()));
    if (info.request_written && !idempotent) {
      absl::StrAppend(&message, "; the request may have been applied (a ", call.method, " is not retried once sent)");
    } else if (attempt > 1) {
      absl::StrAppend(&message, " (after ", attempt, " attempts)");
    }
    return absl::Status(res.status().code(), message);
  }
}

absl::Status CloudClient::ErrorFor(const Call& call, const Response& response) const {
  ApiError error = ParseApiError(response.status, response.body);
  std::optional<absl::Duration> retry_after;
  if (response.status == 429 || response.status == 503) {
    if (const std::string* h = response.Header("retry-after")) {
      retry_after = ParseRetryAfter(*h, absl::Now());
    }
  }
  return ApiErrorStatus(call.operation, error, options_.api_key.value(), retry_after);
}

absl::StatusOr<json::value> CloudClient::JsonResult(const Call& call) {
  absl::StatusOr<Response> res = Execute(call);
  if (!res.ok()) return res.status();
  if (res->status < 200 || res->status >= 300) return ErrorFor(call, *res);
  json::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(call.operation, ": response (HTTP ", res->status, ") is not JSON"));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Calls

absl::StatusOr<CurrentUser> CloudClient::GetCurrentUser() {
  Call call{"get current user", "GET", "/auth/me"};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<CurrentUser> user = wire::ParseCurrentUser(*v);
  if (!user.ok()) return WithOperation(call.operation, user.status());
  return user;
}

absl::StatusOr<KmsList> CloudClient::ListKms(const ListKmsRequest& request) {
  if ((request.page && *request.page < 1) || (request.page_size && *request.page_size < 1)) {
    return absl::InvalidArgumentError("list kms: page and page_size must be at least 1");
  }
  Call call{"list kms", "GET", absl::StrCat("/kms", wire::ListKmsQuery(request))};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<KmsList> list = wire::ParseKmsList(*v);
  if (!list.ok()) return WithOperation(call.operation, list.status());
  return list;
}

absl::StatusOr<KmsInfo> CloudClient::GetKmsInfo(absl::string_view kms_id) {
  if (kms_id.empty()) return absl::InvalidArgumentError("get kms info: KMS ID is required");
  Call call{"get kms info", "GET", absl::StrCat("/kms/", Segment(kms_id))};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<KmsInfo> info = wire::ParseKmsInfo(*v);
  if (!info.ok()) return WithOperation(call.operation, info.status());
  return info;
}

absl::StatusOr<AppEnvEncryptPubkey> CloudClient::GetAppEnvEncryptPubkey(absl::string_view kms, absl::string_view app_id,
                                                                        const PubkeyVerification& verification) {
  constexpr char kOp[] = "get app env encrypt pubkey";
  if (kms.empty()) return absl::InvalidArgumentError(absl::StrCat(kOp, ": kms is required"));
  if (!IsHex40(app_id)) {
    return absl::InvalidArgumentError(absl::StrCat(kOp, ": app_id: want 40 hex digits, optionally 0x-prefixed"));
  }
  Call call{kOp, "GET", absl::StrCat("/kms/", Segment(kms), "/pubkey/", app_id)};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<wire::RawPubkey> raw = wire::ParseAppEnvEncryptPubkey(*v);
  if (!raw.ok()) return WithOperation(kOp, raw.status());

  AppEnvEncryptPubkey out;
  out.public_key_hex = raw->public_key;
  out.signature_hex = raw->signature;
  absl::StatusOr<crypto::X25519PublicKey> key = ParseX25519PublicKeyHex(raw->public_key);
  if (!key.ok()) {
    return absl::InternalError(absl::StrCat(kOp, ": unexpected response: ", key.status().message()));
  }
  out.public_key = *key;
  if (raw->signature.empty()) {
    if (verification.trusted_signer) {
      return absl::PermissionDeniedError(
          absl::StrCat(kOp,
                       ": the server sent no kms signature over the env encryption key, and a trusted "
                       "kms signer is configured"));
    }
    return out;
  }
  absl::StatusOr<EnvPubkeySignature> sig = ParseEnvPubkeySignature(raw->signature);
  if (!sig.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(kOp, ": ", sig.status().message()));
  }
  absl::StatusOr<std::array<uint8_t, 33>> signer = RecoverEnvEncryptPubkeySigner(app_id, out.public_key, *sig);
  if (!signer.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(kOp, ": ", signer.status().message()));
  }
  out.signer = *signer;
  if (verification.trusted_signer) {
    absl::Status st =
        VerifyEnvEncryptPubkey(app_id, out.public_key, *sig, crypto::ByteView(*verification.trusted_signer));
    if (!st.ok()) return WithOperation(kOp, st);
    out.verified = true;
  }
  return out;
}

absl::StatusOr<ProvisionCvmResponse> CloudClient::ProvisionCvm(const ProvisionCvmRequest& request) {
  constexpr char kOp[] = "provision cvm";
  absl::StatusOr<json::object> body = wire::ProvisionCvmBody(request);
  if (!body.ok()) return WithOperation(kOp, body.status());
  Call call{kOp, "POST", "/cvms/provision", json::serialize(*body)};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<ProvisionCvmResponse> out = wire::ParseProvisionCvmResponse(*v);
  if (!out.ok()) return WithOperation(kOp, out.status());
  return out;
}

absl::StatusOr<CommitCvmProvisionResponse> CloudClient::CommitCvmProvision(const CommitCvmProvisionRequest& request) {
  constexpr char kOp[] = "commit cvm provision";
  Call call{kOp, "POST", "/cvms", json::serialize(wire::CommitCvmProvisionBody(request))};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<CommitCvmProvisionResponse> out = wire::ParseCommitCvmProvisionResponse(*v);
  if (!out.ok()) return WithOperation(kOp, out.status());
  return out;
}

absl::StatusOr<CvmInfo> CloudClient::GetCvmInfo(const CvmRef& cvm) {
  Call call{"get cvm info", "GET", absl::StrCat("/cvms/", cvm.path_segment())};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<CvmInfo> out = wire::ParseCvmInfo(*v);
  if (!out.ok()) return WithOperation(call.operation, out.status());
  return out;
}

absl::StatusOr<CvmList> CloudClient::ListCvms(const ListCvmsRequest& request) {
  if (request.page && *request.page < 1) return absl::InvalidArgumentError("list cvms: page must be at least 1");
  if (request.page_size && *request.page_size < 1) {
    return absl::InvalidArgumentError("list cvms: page_size must be at least 1");
  }
  if (request.node_id && *request.node_id < 1)
    return absl::InvalidArgumentError("list cvms: node_id must be at least 1");
  Call call{"list cvms", "GET", absl::StrCat("/cvms/paginated", wire::ListCvmsQuery(request))};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<CvmList> list = wire::ParseCvmList(*v);
  if (!list.ok()) return WithOperation(call.operation, list.status());
  return list;
}

absl::StatusOr<AvailableNodes> CloudClient::GetAvailableNodes() {
  Call call{"get available nodes", "GET", "/teepods/available"};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<AvailableNodes> nodes = wire::ParseAvailableNodes(*v);
  if (!nodes.ok()) return WithOperation(call.operation, nodes.status());
  return nodes;
}

absl::StatusOr<AppCompose> CloudClient::GetCvmComposeFile(const CvmRef& cvm) {
  Call call{"get cvm compose file", "GET", absl::StrCat("/cvms/", cvm.path_segment(), "/compose_file")};
  absl::StatusOr<Response> res = Execute(call);
  if (!res.ok()) return res.status();
  if (res->status < 200 || res->status >= 300) return ErrorFor(call, *res);
  // JSON.parse semantics (numbers, duplicate keys), so ComposeHash sees what the SDK sees.
  absl::StatusOr<json::value> v = ParseJsonLikeJs(res->body);
  if (!v.ok()) return absl::InternalError(absl::StrCat(call.operation, ": response is not JSON"));
  if (!v->is_object()) {
    return absl::InternalError(absl::StrCat(call.operation, ": unexpected response: not an object"));
  }
  const json::value* dcf = v->get_object().if_contains("docker_compose_file");
  if (dcf == nullptr || !dcf->is_string()) {
    return absl::InternalError(
        absl::StrCat(call.operation, ": unexpected response: docker_compose_file: missing string"));
  }
  return AppCompose::FromJson(v->get_object());
}

absl::StatusOr<UpdateResult> CloudClient::UpdateCall(const Call& call, bool envs) {
  absl::StatusOr<Response> res = Execute(call);
  if (!res.ok()) return res.status();
  if (res->status >= 200 && res->status < 300) {
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    if (ec) return absl::InternalError(absl::StrCat(call.operation, ": response is not JSON"));
    absl::StatusOr<std::optional<PreconditionRequired>> pre = wire::PreconditionFromBody(v);
    if (!pre.ok()) return WithOperation(call.operation, pre.status());
    if (pre->has_value()) {
      (*pre)->message = Redacted((*pre)->message);
      return UpdateResult(std::move(**pre));
    }
    absl::StatusOr<UpdateAccepted> accepted = wire::ParseUpdateAccepted(v, envs);
    if (!accepted.ok()) return WithOperation(call.operation, accepted.status());
    return UpdateResult(std::move(*accepted));
  }
  if (res->status == 465) {
    const ApiError error = ParseApiError(res->status, res->body);
    absl::StatusOr<std::optional<PreconditionRequired>> pre = wire::PreconditionFromError(error);
    if (!pre.ok()) return WithOperation(call.operation, pre.status());
    if (pre->has_value()) {
      (*pre)->message = Redacted((*pre)->message);
      return UpdateResult(std::move(**pre));
    }
  }
  return ErrorFor(call, *res);
}

absl::StatusOr<UpdateResult> CloudClient::UpdateCvmEnvs(const CvmRef& cvm, const UpdateCvmEnvsRequest& request) {
  if (request.encrypted_env.empty()) {
    return absl::InvalidArgumentError("update cvm envs: encrypted_env is required");
  }
  Call call{"update cvm envs", "PATCH", absl::StrCat("/cvms/", cvm.path_segment(), "/envs"),
            json::serialize(wire::UpdateCvmEnvsBody(request))};
  return UpdateCall(call, /*envs=*/true);
}

absl::StatusOr<UpdateResult> CloudClient::UpdateDockerCompose(const CvmRef& cvm,
                                                              const UpdateDockerComposeRequest& request) {
  constexpr char kOp[] = "update docker compose";
  if (request.docker_compose_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kOp, ": docker_compose_file is required"));
  }
  Call call{kOp, "PATCH", absl::StrCat("/cvms/", cvm.path_segment(), "/docker-compose"), request.docker_compose_file,
            "text/yaml"};
  if (request.compose_hash) call.headers.emplace_back("X-Compose-Hash", wire::HexOf(*request.compose_hash));
  if (request.transaction_hash) call.headers.emplace_back("X-Transaction-Hash", request.transaction_hash->Hex());
  return UpdateCall(call, /*envs=*/false);
}

absl::StatusOr<ComposeFileUpdateProvision> CloudClient::ProvisionComposeFileUpdate(
    const CvmRef& cvm, const ProvisionComposeFileUpdateRequest& request) {
  constexpr char kOp[] = "provision compose file update";
  absl::StatusOr<json::object> body = wire::ProvisionComposeFileUpdateBody(request);
  if (!body.ok()) return WithOperation(kOp, body.status());
  Call call{kOp, "POST", absl::StrCat("/cvms/", cvm.path_segment(), "/compose_file/provision"), json::serialize(*body)};
  absl::StatusOr<json::value> v = JsonResult(call);
  if (!v.ok()) return v.status();
  absl::StatusOr<ComposeFileUpdateProvision> out = wire::ParseComposeFileUpdateProvision(*v);
  if (!out.ok()) return WithOperation(kOp, out.status());
  return out;
}

absl::StatusOr<CommitComposeFileUpdateResponse> CloudClient::CommitComposeFileUpdate(
    const CvmRef& cvm, const CommitComposeFileUpdateRequest& request) {
  constexpr char kOp[] = "commit compose file update";
  Call call{kOp, "PATCH", absl::StrCat("/cvms/", cvm.path_segment(), "/compose_file"),
            json::serialize(wire::CommitComposeFileUpdateBody(request))};
  absl::StatusOr<Response> res = Execute(call);
  if (!res.ok()) return res.status();
  if (res->status < 200 || res->status >= 300) return ErrorFor(call, *res);
  // The SDK ignores the body (z.any()); take the correlation id when there is one.
  CommitComposeFileUpdateResponse out;
  json::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* id = v.get_object().if_contains("correlation_id"); id && id->is_string()) {
      out.correlation_id = std::string(id->get_string());
    }
  }
  return out;
}

}  // namespace cloudapi
