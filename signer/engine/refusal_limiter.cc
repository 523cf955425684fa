#include "signer/engine/refusal_limiter.h"

#include <algorithm>
#include <utility>

#include <boost/json/object.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/log/log.h"

namespace signer::engine {
namespace {

constexpr char kOtherPeers[] = "other peers";

}  // namespace

RefusalLimiter::RefusalLimiter(audit::AuditLog* audit, RefusalLimits limits) : audit_(audit), limits_(limits) {
  absl::MutexLock lock(&mu_);
  global_ = {limits_.global_burst, absl::Now()};
}

RefusalLimiter::~RefusalLimiter() {
  std::thread timer;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    timer = std::move(timer_);
  }
  if (timer.joinable()) timer.join();
  std::vector<Summary> last;
  {
    absl::MutexLock lock(&mu_);
    last = TakeDue(absl::Now(), /*all=*/true);
  }
  Write(last);
}

std::string RefusalLimiter::PeerIdentity(const std::string& grpc_peer) {
  const bool ip = grpc_peer.rfind("ipv4:", 0) == 0 || grpc_peer.rfind("ipv6:", 0) == 0;
  const size_t colon = grpc_peer.rfind(':');
  if (!ip || colon <= 5 || grpc_peer.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return grpc_peer;
  }
  return grpc_peer.substr(0, colon);
}

RefusalLimiter::Peer& RefusalLimiter::PeerFor(const std::string& identity, absl::Time now) {
  std::string key = identity;
  if (peers_.size() >= limits_.max_peers && !peers_.count(key)) {
    // Forget peers that are back to a full bucket with nothing pending: they lose nothing.
    for (auto it = peers_.begin(); it != peers_.end();) {
      const bool idle = it->second.suppressed == 0 &&
                        it->second.bucket.Refill(limits_.peer_per_second, absl::Seconds(1), limits_.peer_burst, now) >=
                            limits_.peer_burst;
      it = idle ? peers_.erase(it) : std::next(it);
    }
    if (peers_.size() >= limits_.max_peers) key = kOtherPeers;
  }
  auto [it, inserted] = peers_.try_emplace(key);
  if (inserted) it->second.bucket = {limits_.peer_burst, now};
  return it->second;
}

bool RefusalLimiter::Admit(const std::string& grpc_peer) {
  const absl::Time now = absl::Now();
  std::vector<Summary> due;
  bool admitted = false;
  {
    absl::MutexLock lock(&mu_);
    const std::string identity = PeerIdentity(grpc_peer);
    Peer& p = PeerFor(identity, now);
    // Check both buckets before taking from either, so a refusal by one costs the other nothing.
    admitted = HasToken(p.bucket, limits_.peer_per_second, limits_.peer_burst, now) &&
               HasToken(global_, limits_.global_per_second, limits_.global_burst, now);
    if (admitted) {
      p.bucket.tokens -= 1;
      global_.tokens -= 1;
      if (p.suppressed > 0) due.push_back({identity, p.suppressed, now - p.first_suppressed});
      p.suppressed = 0;
    } else {
      if (p.suppressed++ == 0) p.first_suppressed = now;
      if (!timer_.joinable()) timer_ = std::thread([this] { TimerLoop(); });
    }
  }
  Write(due);
  return admitted;
}

std::vector<RefusalLimiter::Summary> RefusalLimiter::TakeDue(absl::Time now, bool all) {
  std::vector<Summary> due;
  for (auto& [identity, p] : peers_) {
    if (p.suppressed == 0 || (!all && now - p.first_suppressed < limits_.summary_interval)) continue;
    if (!all) {
      if (!HasToken(global_, limits_.global_per_second, limits_.global_burst, now)) break;
      global_.tokens -= 1;
    }
    due.push_back({identity, p.suppressed, now - p.first_suppressed});
    p.suppressed = 0;
  }
  return due;
}

void RefusalLimiter::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), limits_.summary_interval)) {
    std::vector<Summary> due = TakeDue(absl::Now(), /*all=*/false);
    mu_.Unlock();
    Write(due);
    mu_.Lock();
  }
}

void RefusalLimiter::Write(const std::vector<Summary>& summaries) {
  for (const Summary& s : summaries) {
    const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(s.over, absl::Seconds(1))));
    const std::string message =
        absl::StrCat(s.count, " refusals from ", s.peer, " suppressed in the last ", seconds, " s");
    platform::log::Warn("refused calls not audited one by one (rate limit)",
                        {{"peer", s.peer}, {"suppressed", static_cast<int64_t>(s.count)}, {"seconds", seconds}});
    if (audit_ == nullptr) continue;
    absl::StatusOr<std::string> written = audit_->Append(boost::json::object{{"event", "refusals_suppressed"},
                                                                             {"peer", s.peer},
                                                                             {"suppressed", s.count},
                                                                             {"seconds", seconds},
                                                                             {"message", message}});
    if (!written.ok()) {
      platform::log::Error("audit log write failed for a refusal summary",
                           {{"peer", s.peer}, {"error", std::string(written.status().message())}});
    }
  }
}

}  // namespace signer::engine
