// Who may use a Unix socket, decided per connection from the peer's credentials (SO_PEERCRED):
// either anyone the socket file's mode and group let connect, or only our own uid, the listed
// uids, and members (primary or supplementary group) of the listed gids.
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_PEER_ALLOWLIST_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_PEER_ALLOWLIST_H_

#include <sys/types.h>

#include <utility>
#include <vector>

namespace platform {

class PeerAllowlist {
 public:
  // Anyone who can open the socket (its file permissions decide).
  static PeerAllowlist Anyone() { return PeerAllowlist(); }
  // `own_uid`, `uids`, and members of `gids`.
  static PeerAllowlist Only(uid_t own_uid, std::vector<uid_t> uids, std::vector<gid_t> gids);

  bool Allows(uid_t uid, gid_t gid) const;

 private:
  PeerAllowlist() = default;

  bool restricted_ = false;
  std::vector<uid_t> uids_;
  std::vector<gid_t> gids_;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_PEER_ALLOWLIST_H_
