#include "platform/testing/tcp_front.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/time/clock.h"

namespace platform::testing {
namespace {

int Listen(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    std::abort();
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways until either side closes.
void Pump(int a, int b) {
  char buf[16384];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, 200) < 0) break;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      closed = n <= 0 || write(fds[1 - i].fd, buf, n) != n;
    }
    if (closed) break;
  }
  close(a);
  close(b);
}

}  // namespace

TcpFront::TcpFront(int backend_port, FrontPolicy policy) : backend_port_(backend_port), policy_(std::move(policy)) {
  listener_ = Listen(&port_);
  accepter_ = std::thread([this] { AcceptLoop(); });
}

TcpFront::~TcpFront() {
  stop_ = true;
  shutdown(listener_, SHUT_RDWR);
  accepter_.join();
  for (std::thread& t : relays_) t.join();
  close(listener_);
}

void TcpFront::AcceptLoop() {
  for (;;) {
    int client = accept(listener_, nullptr, nullptr);
    if (client < 0 || stop_) {
      if (client >= 0) close(client);
      return;
    }
    const int n = ++accepted_;
    std::variant<Abort, Relay> action = policy_(n);
    if (std::holds_alternative<Abort>(action)) {
      close(client);
      continue;
    }
    const absl::Duration hold = std::get<Relay>(action).hold;
    relays_.emplace_back([this, client, hold] {
      absl::SleepFor(hold);
      int server = Connect(backend_port_);
      if (server < 0) {
        close(client);
        return;
      }
      Pump(client, server);
    });
  }
}

}  // namespace platform::testing
