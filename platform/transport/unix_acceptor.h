// A Unix socket whose connections we accept ourselves, so that each one's peer credentials
// (SO_PEERCRED) are read before gRPC sees it: an allowed connection is handed over (the
// transport gives it to grpc::AddInsecureChannelFromFd), a refused one is closed and counted.
// Calls on a handed-over connection carry the gRPC peer "fd:N", which PeerOf(N) maps back to the
// credentials.
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_UNIX_ACCEPTOR_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_UNIX_ACCEPTOR_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/transport/caller.h"
#include "platform/transport/peer_allowlist.h"

namespace platform {

class UnixAcceptor {
 public:
  using HandOver = std::function<void(int fd)>;
  using Refused = std::function<void(const Caller::UnixPeer& peer)>;
  using Failed = std::function<void(const absl::Status& error)>;

  // Removes a stale socket file (a live server there: FAILED_PRECONDITION; a missing directory:
  // FAILED_PRECONDITION naming it), binds with mode 0600 from the first instant, then applies
  // `mode` and `group`, and listens. UNAVAILABLE when bind or listen fails.
  static absl::StatusOr<std::unique_ptr<UnixAcceptor>> Listen(const std::string& path, mode_t mode,
                                                              const std::string& group);
  ~UnixAcceptor();
  UnixAcceptor(const UnixAcceptor&) = delete;
  UnixAcceptor& operator=(const UnixAcceptor&) = delete;

  // Starts the accept thread. `on_refused` and `on_failure` may be empty.
  void Start(PeerAllowlist allowlist, HandOver hand_over, Refused on_refused, Failed on_failure);
  // The credentials of the connection accepted on `fd`.
  std::optional<Caller::UnixPeer> PeerOf(int fd) const;
  // Connections refused so far.
  uint64_t refused() const { return refused_.load(); }
  // Stops accepting, closes the socket and removes its file. Idempotent.
  void Stop();
  // Ends every connection still open (shutdown(2) both ways; gRPC still closes the fd), for a
  // server that stops: no call can arrive on them any more, and a call in flight sees a lost
  // connection (UNAVAILABLE to the client) instead of being cancelled by the server's shutdown
  // deadline (CANCELLED, which a client takes for its own). Only sockets still bound to our path.
  void EndConnections();

 private:
  UnixAcceptor(std::string path, int fd) : path_(std::move(path)), listen_fd_(fd) {}
  void AcceptLoop(const PeerAllowlist& allowlist, const HandOver& hand_over, const Refused& on_refused,
                  const Failed& on_failure);
  // Accepts one connection: its fd, -1 to retry, or an error that ends the loop.
  absl::StatusOr<int> AcceptOne();

  const std::string path_;
  int listen_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refused_{0};
  bool stopped_ = false;
  mutable absl::Mutex mu_;
  std::map<int, Caller::UnixPeer> peers_ ABSL_GUARDED_BY(mu_);  // by fd; a reused fd replaces its entry
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_UNIX_ACCEPTOR_H_
