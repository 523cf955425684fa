// Test-only: a hostile HTTP client that sends a request one byte at a time (a "slowloris"), to
// prove a server drops it instead of being held by it.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_TESTING_SLOW_CLIENT_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_TESTING_SLOW_CLIENT_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace platform::http::testing {

class TricklingClient {
 public:
  // Connects to 127.0.0.1:port and, on its own thread, sends `request` and then 'a' one byte every
  // `interval` until the server closes the connection (EOF, reset, or any answer) or `give_up` passed.
  TricklingClient(int port, std::string request, absl::Duration interval, absl::Duration give_up);
  ~TricklingClient();
  absl::Status connected() const { return connected_; }
  // Blocks until the thread ends; true if the server closed the connection, with how long it
  // took since the first byte.
  bool WaitClosed(absl::Duration* after);

 private:
  void Run(std::string request, absl::Duration interval, absl::Duration give_up);
  int fd_ = -1;
  absl::Status connected_;
  absl::Time started_;
  absl::Time closed_at_ = absl::InfiniteFuture();
  std::thread thread_;
};

}  // namespace platform::http::testing

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_TESTING_SLOW_CLIENT_H_
