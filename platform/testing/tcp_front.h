// Test support: a TCP front on 127.0.0.1 before a real server that, per accepted connection,
// closes it at once (a connection or handshake that fails) or holds it before relaying (a slow
// handshake on a loaded machine). For tests of clients' connection handling with real sockets.
#ifndef ONCHAIN_KMS_PLATFORM_TESTING_TCP_FRONT_H_
#define ONCHAIN_KMS_PLATFORM_TESTING_TCP_FRONT_H_

#include <atomic>
#include <functional>
#include <thread>
#include <variant>
#include <vector>

#include "absl/time/time.h"

namespace platform::testing {

// What the front does with its n-th accepted connection (1-based).
struct Abort {};
struct Relay {
  absl::Duration hold;  // before relaying
};
using FrontPolicy = std::function<std::variant<Abort, Relay>(int n)>;

// A TCP front on 127.0.0.1 for the server at 127.0.0.1:`backend_port`, applying `policy`.
class TcpFront {
 public:
  TcpFront(int backend_port, FrontPolicy policy);
  ~TcpFront();
  TcpFront(const TcpFront&) = delete;
  TcpFront& operator=(const TcpFront&) = delete;

  int port() const { return port_; }
  // Connections accepted so far.
  int accepted() const { return accepted_; }

 private:
  void AcceptLoop();

  const int backend_port_;
  const FrontPolicy policy_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread accepter_;
  std::vector<std::thread> relays_;
};

}  // namespace platform::testing

#endif  // ONCHAIN_KMS_PLATFORM_TESTING_TCP_FRONT_H_
