#include "platform/transport/unix_acceptor.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "platform/listen.h"
#include "platform/status_macros.h"

namespace platform {
namespace {

absl::Status CheckDirectory(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on unix:", path, ": directory ", dir.string(), " does not exist"));
  }
  return absl::OkStatus();
}

// bind() under umask 0177, so the socket is 0600 until the configured mode is applied. umask is
// process-wide: this belongs to start-up, before other threads create files.
absl::Status BindPrivately(int fd, const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), std::min(path.size(), sizeof(sa.sun_path) - 1));
  const mode_t old_umask = ::umask(0177);
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
  const int err = errno;
  ::umask(old_umask);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("cannot listen on unix:", path, ": ", std::strerror(err)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixAcceptor>> UnixAcceptor::Listen(const std::string& path, mode_t mode,
                                                                   const std::string& group) {
  RETURN_IF_ERROR(CheckDirectory(path));
  RETURN_IF_ERROR(RemoveStaleUnixSocket(path));
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  std::unique_ptr<UnixAcceptor> acceptor(new UnixAcceptor(path, fd));
  if (absl::Status s = BindPrivately(fd, path); !s.ok()) {
    ::close(fd);
    acceptor->listen_fd_ = -1;
    acceptor->stopped_ = true;  // the file is not ours to remove
    return s;
  }
  if (absl::Status s = ApplyUnixSocketPermissions(path, mode, group); !s.ok()) return s;  // ~ removes it
  if (::listen(fd, 512) != 0) return absl::UnavailableError(absl::StrCat("listen: ", std::strerror(errno)));
  return acceptor;
}

UnixAcceptor::~UnixAcceptor() { Stop(); }

void UnixAcceptor::Start(PeerAllowlist allowlist, HandOver hand_over, Refused on_refused, Failed on_failure) {
  thread_ = std::thread(
      [this, allowlist = std::move(allowlist), hand_over = std::move(hand_over), on_refused = std::move(on_refused),
       on_failure = std::move(on_failure)] { AcceptLoop(allowlist, hand_over, on_refused, on_failure); });
}

absl::StatusOr<int> UnixAcceptor::AcceptOne() {
  // Non-blocking: gRPC's endpoint reads until EAGAIN.
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd >= 0) return fd;
  const int err = errno;
  if (err == EINTR || err == ECONNABORTED) return -1;
  if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
    ::usleep(10000);  // out of descriptors or memory: wait for some to be released
    return -1;
  }
  return absl::UnavailableError(absl::StrCat("unix socket accept failed: ", std::strerror(err)));
}

void UnixAcceptor::AcceptLoop(const PeerAllowlist& allowlist, const HandOver& hand_over, const Refused& on_refused,
                              const Failed& on_failure) {
  while (!stopping_.load()) {
    absl::StatusOr<int> fd = AcceptOne();
    if (!fd.ok()) {
      if (!stopping_.load() && on_failure) on_failure(fd.status());
      return;
    }
    if (*fd < 0) continue;
    struct ucred cred {};
    socklen_t len = sizeof(cred);
    if (::getsockopt(*fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !allowlist.Allows(cred.uid, cred.gid)) {
      refused_.fetch_add(1);
      if (on_refused) on_refused(Caller::UnixPeer{cred.uid, cred.gid, cred.pid});
      ::close(*fd);
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      peers_[*fd] = Caller::UnixPeer{cred.uid, cred.gid, cred.pid};
    }
    if (stopping_.load()) {
      ::close(*fd);
      return;
    }
    hand_over(*fd);
  }
}

std::optional<Caller::UnixPeer> UnixAcceptor::PeerOf(int fd) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

void UnixAcceptor::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(path_.c_str());
}

void UnixAcceptor::EndConnections() {
  absl::MutexLock lock(&mu_);
  for (const auto& [fd, peer] : peers_) {
    // gRPC may have closed this fd and the number been reused: only a socket accepted on our path.
    sockaddr_un local{};
    socklen_t len = sizeof(local);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 || local.sun_family != AF_UNIX ||
        len <= offsetof(sockaddr_un, sun_path) ||
        std::strncmp(local.sun_path, path_.c_str(), sizeof(local.sun_path)) != 0) {
      continue;
    }
    ::shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace platform
