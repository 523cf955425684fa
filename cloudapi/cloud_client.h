// The typed Phala Cloud client: one method per API call the deploy/update flows use
// (facts/phala-cloud-api.md §1-§5), over the platform HTTP(S) client (platform/http/client.h:
// verified TLS, keep-alive pool, timeouts). What is Phala's stays here: the headers and the API
// key's redaction, the retry policy with Retry-After, the 465 value.
//
// Every call blocks, and the client is thread-safe: share one instance.
//
// Headers, as the SDK sends them: X-API-Key, X-Phala-Version (2026-01-21),
// Content-Type (application/json; text/yaml for the docker-compose update), Accept (*/* for GET,
// application/json otherwise), plus a User-Agent of our own (the SDK sets none).
//
// Retries (RetryPolicy): a call is repeated, with exponential backoff and jitter, when
//   - the request never reached the server (resolve/connect/TLS failure, or a write failure),
//     for any method;
//   - the server answered 429 or 503 (it did not process the request), for any method, waiting
//     at least Retry-After (seconds or HTTP date); if Retry-After exceeds max_retry_after the
//     call stops and returns the error with the delay in its ApiErrorInfo;
//   - the call is a GET and the connection broke after the request was sent, or the server
//     answered 408, 425, 500, 502 or 504.
// A POST/PATCH whose connection broke after the request was written is not retried: the call
// fails UNAVAILABLE (DEADLINE_EXCEEDED on a timeout) with "the request may have been applied",
// and the caller (the orchestrator's journal) decides.
//
// Errors: see api_error.h for the HTTP -> absl::StatusCode mapping and the message format. The
// API key never appears in a status message or a CallEvent: every server-supplied text is
// redacted before use.
#ifndef ONCHAIN_KMS_CLOUDAPI_CLOUD_CLIENT_H_
#define ONCHAIN_KMS_CLOUDAPI_CLOUD_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cloudapi/api_key.h"
#include "cloudapi/types.h"
#include "platform/http/client.h"
#include "platform/http/message.h"

namespace cloudapi {

inline constexpr char kDefaultBaseUrl[] = "https://cloud-api.phala.com/api/v1";
inline constexpr char kApiVersion[] = "2026-01-21";

// Timeouts, pool size, response limit and extra CA file of the HTTP(S) connection to the API.
using TransportOptions = platform::http::ClientOptions;

struct RetryPolicy {
  int max_attempts = 4;  // including the first
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(8);
  // The longest Retry-After the client waits for; a longer one ends the call.
  absl::Duration max_retry_after = absl::Seconds(60);
  // Every attempt and every wait of one call.
  absl::Duration total_timeout = absl::Minutes(3);
};

// One attempt of one call, for logs and metrics. Carries no header and no body.
struct CallEvent {
  std::string operation;  // "provision cvm"
  std::string method;     // "POST"
  std::string path;       // API-relative, with the query: "/kms?is_onchain=true"
  int attempt = 1;
  absl::Time started;
  absl::Duration elapsed;
  int http_status = 0;                     // 0: no response
  absl::Status error;                      // the transport failure of this attempt (redacted), OK otherwise
  std::optional<absl::Duration> retry_in;  // set when another attempt follows after this wait
};

struct CloudClientOptions {
  std::string base_url = kDefaultBaseUrl;
  ApiKey api_key;
  TransportOptions transport;
  RetryPolicy retry;
  // Plain http:// is refused unless the host is loopback (tests) or this is set.
  bool allow_insecure_http = false;
  std::string user_agent = "onchain-kms-cloudapi/1";
  // Called after every attempt, on the calling thread. Must be thread-safe if the client is
  // shared.
  std::function<void(const CallEvent&)> observer;

  // base_url from PHALA_CLOUD_API_PREFIX (else the default), api_key from
  // ApiKey::FromEnvironment(). The rest keeps its defaults.
  static absl::StatusOr<CloudClientOptions> FromEnvironment();
};

class CloudClient {
 public:
  // InvalidArgument for a bad base URL, plain http to a non-loopback host without
  // allow_insecure_http, an empty API key, or a bad transport option.
  static absl::StatusOr<std::unique_ptr<CloudClient>> Create(CloudClientOptions options);
  ~CloudClient();
  CloudClient(const CloudClient&) = delete;
  CloudClient& operator=(const CloudClient&) = delete;

  // GET /auth/me: checks the API key (UNAUTHENTICATED when wrong).
  absl::StatusOr<CurrentUser> GetCurrentUser();

  // GET /kms[?page=&page_size=&is_onchain=].
  absl::StatusOr<KmsList> ListKms(const ListKmsRequest& request = {});
  // GET /kms/{kms_id} (id or slug).
  absl::StatusOr<KmsInfo> GetKmsInfo(absl::string_view kms_id);
  // GET /kms/{kms}/pubkey/{app_id}. app_id: 40 hex or 0x + 40 hex, sent as given (the CLI sends
  // the checksummed 0x form). The signature, when the server sends one, is checked (see
  // PubkeyVerification): PERMISSION_DENIED when it is malformed, not recoverable, absent while
  // a trusted signer is configured, or made by another key.
  absl::StatusOr<AppEnvEncryptPubkey> GetAppEnvEncryptPubkey(absl::string_view kms, absl::string_view app_id,
                                                             const PubkeyVerification& verification = {});

  // POST /cvms/provision.
  absl::StatusOr<ProvisionCvmResponse> ProvisionCvm(const ProvisionCvmRequest& request);
  // POST /cvms. An app id already committed: ALREADY_EXISTS (IsAppIdConflict).
  absl::StatusOr<CommitCvmProvisionResponse> CommitCvmProvision(const CommitCvmProvisionRequest& request);

  // GET /cvms/{id}.
  absl::StatusOr<CvmInfo> GetCvmInfo(const CvmRef& cvm);
  // GET /cvms/paginated[?page=&page_size=&node_id=] (the SDK's getCvmList). INVALID_ARGUMENT for
  // a page, page_size or node_id below 1, before sending.
  absl::StatusOr<CvmList> ListCvms(const ListCvmsRequest& request = {});
  // GET /teepods/available (the SDK's getAvailableNodes): the nodes with their device ids.
  absl::StatusOr<AvailableNodes> GetAvailableNodes();
  // GET /cvms/{id}/compose_file (read with JS JSON semantics, ready for ComposeHash).
  absl::StatusOr<AppCompose> GetCvmComposeFile(const CvmRef& cvm);

  // PATCH /cvms/{id}/envs. Precondition (465) -> PreconditionRequired; repeat with
  // compose_hash + transaction_hash after addComposeHash.
  absl::StatusOr<UpdateResult> UpdateCvmEnvs(const CvmRef& cvm, const UpdateCvmEnvsRequest& request);
  // PATCH /cvms/{id}/docker-compose (raw YAML; the proof goes in X-Compose-Hash /
  // X-Transaction-Hash).
  absl::StatusOr<UpdateResult> UpdateDockerCompose(const CvmRef& cvm, const UpdateDockerComposeRequest& request);

  // POST /cvms/{id}/compose_file/provision, then PATCH /cvms/{id}/compose_file.
  absl::StatusOr<ComposeFileUpdateProvision> ProvisionComposeFileUpdate(
      const CvmRef& cvm, const ProvisionComposeFileUpdateRequest& request);
  absl::StatusOr<CommitComposeFileUpdateResponse> CommitComposeFileUpdate(
      const CvmRef& cvm, const CommitComposeFileUpdateRequest& request);

  platform::http::Client::Stats transport_stats() const { return transport_->stats(); }
  // scheme://host:port of the API, for logs.
  std::string origin() const { return transport_->url().Origin(); }

 private:
  struct Call {
    Call(const char* operation, const char* method, std::string path, std::string body = "",
         const char* content_type = "application/json")
        : operation(operation),
          method(method),
          path(std::move(path)),
          body(std::move(body)),
          content_type(content_type) {}
    const char* operation;
    const char* method;
    std::string path;  // API-relative, with the query
    std::string body;
    const char* content_type;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  CloudClient(CloudClientOptions options, std::unique_ptr<platform::http::Client> transport);

  // The final response (any status) after the retries, or the transport failure.
  absl::StatusOr<platform::http::Response> Execute(const Call& call);
  // A 2xx body as JSON; the mapped error status otherwise.
  absl::StatusOr<boost::json::value> JsonResult(const Call& call);
  absl::Status ErrorFor(const Call& call, const platform::http::Response& response) const;
  absl::StatusOr<UpdateResult> UpdateCall(const Call& call, bool envs);
  absl::Duration Backoff(int attempt);
  void Notify(const CallEvent& event) const;
  std::string Redacted(absl::string_view text) const;

  const CloudClientOptions options_;
  const std::unique_ptr<platform::http::Client> transport_;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_CLOUD_CLIENT_H_
