// Internal to the simulator: what its route handlers share. FastAPI-shaped responses (JSON as
// JSON.stringify writes it, {"detail": ...} errors, structured ResourceError bodies, pydantic-v2
// 422 lists), request parsing, small JSON accessors, and the per-request context.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_API_UTIL_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_API_UTIL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "test/cloudsim/http_types.h"
#include "test/cloudsim/simulator.h"

namespace cloudsim {

// One API request as a handler sees it.
struct Simulator::Ctx {
  const HttpRequest& req;
  std::vector<std::string> params;  // every path segment after the base path
  bool legacy = false;              // X-Phala-Version: 2025-10-28
};

namespace api {

namespace json = boost::json;

inline constexpr absl::string_view kLegacyVersion = "2025-10-28";
inline constexpr size_t kMaxComposePayload = 200 * 1024;  // the SDK's MAX_COMPOSE_PAYLOAD_BYTES

struct InstanceType {
  const char* name;
  int vcpu;
  int memory_mb;
};
inline constexpr InstanceType kInstanceTypes[] = {
    {"tdx.small", 1, 2048},   {"tdx.medium", 2, 4096},    {"tdx.large", 4, 8192},
    {"tdx.xlarge", 8, 16384}, {"tdx.2xlarge", 16, 32768},
};

// ---- responses ----
std::string NowIso();
std::string ToJson(const json::value& v);  // JSON.stringify(v)
HttpResponse JsonResponse(int status, const json::value& v);
HttpResponse Detail(int status, absl::string_view message);  // {"detail": message}
// {"detail": {"error_code", "message", "details", "suggestions", "links"}}: ResourceError.
HttpResponse Structured(int status, absl::string_view code, absl::string_view message, json::array details = {},
                        json::array suggestions = {});
HttpResponse RpcUnavailable(const absl::Status& s);  // 503
HttpResponse CvmNotFound(absl::string_view ref);     // 404 ERR-03-001
json::object ErrItem(json::array loc, absl::string_view type, absl::string_view msg,
                     const json::value& input);  // one pydantic error
std::optional<HttpResponse> QueryError(const char* key, absl::string_view type, absl::string_view msg,
                                       absl::string_view input);

// ---- requests ----
// The body as a JSON object, or the 422 FastAPI sends for an undecodable / non-object body.
std::optional<HttpResponse> ParseBodyObject(const HttpRequest& req, json::object* out);
std::map<std::string, std::string> QueryParams(absl::string_view query);
// `page` (>= 1) and `page_size` (1..100) from the query into *page / *page_size (left as they
// are when absent); the 422 FastAPI sends for a bad one.
std::optional<HttpResponse> PageParams(const std::map<std::string, std::string>& q, int64_t* page, int64_t* page_size);
// A positive integer query parameter `key`, or the 422 for a bad one; nullopt value when absent.
std::optional<HttpResponse> PositiveIntParam(const std::map<std::string, std::string>& q, const char* key,
                                             std::optional<int64_t>* value);
std::optional<bool> ParseBool(absl::string_view s);  // pydantic's lax boolean
std::vector<std::string> Segments(absl::string_view path);

// Pydantic-v2-like field checks over a JSON object; all errors become one 422 response.
class Fields {
 public:
  explicit Fields(const json::object& obj);
  // A nested object whose errors go to `parent`, with loc = parent's loc + [key].
  Fields(const json::object& obj, Fields& parent, const char* key);
  Fields(const Fields&) = delete;
  Fields& operator=(const Fields&) = delete;

  const json::value* Get(const char* key) const;  // nullptr when absent or null
  std::optional<std::string> Str(const char* key, bool required = false);
  std::optional<bool> Bool(const char* key);
  std::optional<int64_t> Int(const char* key);
  std::optional<json::array> StrList(const char* key);
  const json::object* Obj(const char* key, bool required = false);
  void Add(const char* key, absl::string_view type, absl::string_view msg, const json::value& input);
  void Missing(const char* key);
  // A value_error on a field, as pydantic reports a failed validator.
  void ValueError(const char* key, absl::string_view msg, const json::value& input);
  bool ok() const { return errors_->empty(); }
  HttpResponse Error() const;

 private:
  const json::object& obj_;
  json::array prefix_;
  json::array own_;
  json::array* errors_;
};

// ---- values ----
std::string Str(const json::object& o, const char* key);  // "" unless a string
int64_t Int(const json::object& o, const char* key, int64_t def = 0);
bool BoolOf(const json::object& o, const char* key, bool def);
json::value NullIfEmpty(const std::string& s);
json::value Number(double d);  // an integer when it is one
std::set<std::string> KeySet(const json::value* arr);
bool IsDigits(absl::string_view s);
bool IsHex(absl::string_view s);
std::string Pad32(absl::string_view hex40);  // an address as a 32-byte topic/word
bool ValidHostname(absl::string_view n);     // the SDK's isValidHostname
size_t ComposePayloadSize(const json::object& compose);
// The compose hash as Phala Cloud computes it (facts §9 form (b), the SDK's getHash()).
std::string ServiceComposeHash(const json::object& app_compose);

}  // namespace api
}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_API_UTIL_H_
