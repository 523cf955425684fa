// Transport-neutral request/response values passed between the Beast server and the handlers.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_HTTP_TYPES_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_HTTP_TYPES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace cloudsim {

struct HttpRequest {
  std::string method;                                     // upper case, e.g. "PATCH"
  std::string target;                                     // as received, with the query string
  std::string path;                                       // percent-decoded path without the query
  std::string query;                                      // raw query string without '?'
  absl::flat_hash_map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool remote_is_loopback = true;

  const std::string* Header(absl::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_HTTP_TYPES_H_
