// One HTTP/1.1 exchange as values: what Client::Send takes and gives back.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_MESSAGE_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_MESSAGE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace platform::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";  // "GET", "POST", "PATCH"
  std::string target = "/";    // origin-form, already percent-encoded: "/api/v1/kms?x=1"
  Headers headers;             // Host and Content-Length are added
  std::string body;
  // Safe to repeat: a request that fails on a reused keep-alive connection before any answer
  // byte arrived (the server most likely closed the idle connection) is sent once more on a
  // fresh connection.
  bool idempotent = false;
};

struct Response {
  int status = 0;
  Headers headers;  // names in lower case
  std::string body;

  // The first header of that (lower-case) name, or nullptr.
  const std::string* Header(absl::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return &value;
    }
    return nullptr;
  }
};

// How far a failed exchange got: what a caller needs to decide on a retry.
struct SendInfo {
  // Request bytes were handed to the connection: the server may have received them.
  bool write_started = false;
  // The whole request was handed over: the server may have acted on it.
  bool request_written = false;
  // A connect/request timeout or the caller's deadline ended the exchange.
  bool timed_out = false;
  // The server's certificate was rejected: repeating cannot help.
  bool certificate_rejected = false;
};

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_MESSAGE_H_
