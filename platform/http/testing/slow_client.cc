#include "platform/http/testing/slow_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace platform::http::testing {
namespace {

// Waits up to `d` for the server to send or close; true if it did either.
bool ServerSpokeOrClosed(int fd, absl::Duration d) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  const int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(d)));
  return r > 0;
}

}  // namespace

TricklingClient::TricklingClient(int port, std::string request, absl::Duration interval, absl::Duration give_up) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    connected_ = absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
    return;
  }
  started_ = absl::Now();
  thread_ = std::thread([this, request = std::move(request), interval, give_up] { Run(request, interval, give_up); });
}

TricklingClient::~TricklingClient() {
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void TricklingClient::Run(std::string request, absl::Duration interval, absl::Duration give_up) {
  const absl::Time end = started_ + give_up;
  for (size_t i = 0; absl::Now() < end; ++i) {
    const char byte = i < request.size() ? request[i] : 'a';  // then a header value that never ends
    if (::send(fd_, &byte, 1, MSG_NOSIGNAL) != 1 || ServerSpokeOrClosed(fd_, interval)) {
      closed_at_ = absl::Now();
      return;
    }
  }
}

bool TricklingClient::WaitClosed(absl::Duration* after) {
  if (thread_.joinable()) thread_.join();
  if (closed_at_ == absl::InfiniteFuture()) return false;
  *after = closed_at_ - started_;
  return true;
}

}  // namespace platform::http::testing
