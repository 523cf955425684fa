#include "platform/transport/peer_allowlist.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>

namespace platform {
namespace {

// True if `uid`'s user has `gid` as primary or supplementary group (per the group database).
bool UserInGroup(uid_t uid, gid_t gid) {
  std::vector<char> buf(16384);
  struct passwd pw;
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return false;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &n) < 0) return false;
  }
  groups.resize(static_cast<size_t>(n));
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

}  // namespace

PeerAllowlist PeerAllowlist::Only(uid_t own_uid, std::vector<uid_t> uids, std::vector<gid_t> gids) {
  PeerAllowlist out;
  out.restricted_ = true;
  out.uids_ = std::move(uids);
  out.uids_.push_back(own_uid);
  out.gids_ = std::move(gids);
  return out;
}

bool PeerAllowlist::Allows(uid_t uid, gid_t gid) const {
  if (!restricted_) return true;
  if (std::find(uids_.begin(), uids_.end(), uid) != uids_.end()) return true;
  return std::any_of(gids_.begin(), gids_.end(),
                     [&](gid_t allowed) { return gid == allowed || UserInGroup(uid, allowed); });
}

}  // namespace platform
