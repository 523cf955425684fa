// Bounds the audit records that calls refused before authentication (an unknown peer, a bad
// token) can write, so a flood of them cannot fill the disk or bury the records that matter.
//
// Each refused call takes a token from its peer's bucket and from a global one; with both, it
// gets its own audit record as before. Without, it is only counted (metrics still count every
// call), and the count is written as one record {"event":"refusals_suppressed","peer",
// "suppressed":N,"seconds":T,"message":"N refusals from <peer> suppressed in the last T s"}
// before that peer's next admitted record, or by a timer every `summary_interval`, or when the
// limiter is destroyed: no refusal goes uncounted in the log. Summaries are at most one per
// admitted record plus one per peer per interval.
//
// A peer is the gRPC peer string without its port ("ipv4:10.0.0.7", "ipv6:[::1]", "unix:..."),
// so reconnecting does not earn a fresh bucket. At most `max_peers` are tracked; beyond that the
// rest share one bucket named "other peers".
#ifndef ONCHAIN_KMS_SIGNER_ENGINE_REFUSAL_LIMITER_H_
#define ONCHAIN_KMS_SIGNER_ENGINE_REFUSAL_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/token_bucket.h"
#include "signer/audit/audit_log.h"

namespace signer::engine {

struct RefusalLimits {
  double peer_per_second = 1;
  double peer_burst = 5;
  double global_per_second = 10;
  double global_burst = 20;
  absl::Duration summary_interval = absl::Seconds(10);
  size_t max_peers = 4096;
};

class RefusalLimiter {
 public:
  // `audit` must outlive the limiter (its destructor writes the last summaries).
  explicit RefusalLimiter(audit::AuditLog* audit, RefusalLimits limits = {});
  ~RefusalLimiter();
  RefusalLimiter(const RefusalLimiter&) = delete;
  RefusalLimiter& operator=(const RefusalLimiter&) = delete;

  // One refused call from `grpc_peer`: true if it gets its own audit record (then a pending
  // summary for that peer has just been written), false if it is only counted.
  bool Admit(const std::string& grpc_peer);

  // "ipv4:10.0.0.7:5123" -> "ipv4:10.0.0.7"; "ipv6:[::1]:5123" -> "ipv6:[::1]"; others as given.
  static std::string PeerIdentity(const std::string& grpc_peer);

 private:
  using Bucket = platform::TokenBucket;
  struct Peer {
    Bucket bucket;
    uint64_t suppressed = 0;
    absl::Time first_suppressed;
  };
  struct Summary {
    std::string peer;
    uint64_t count;
    absl::Duration over;
  };

  // Refills `b` to `now` (rates per second); true if it holds a whole token.
  static bool HasToken(Bucket& b, double rate, double burst, absl::Time now) {
    return b.Refill(rate, absl::Seconds(1), burst, now) >= 1;
  }
  Peer& PeerFor(const std::string& identity, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Summaries of peers counting refusals for at least summary_interval (each taking a global
  // token), or of every such peer when `all`.
  std::vector<Summary> TakeDue(absl::Time now, bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Write(const std::vector<Summary>& summaries);
  void TimerLoop();

  audit::AuditLog* const audit_;
  const RefusalLimits limits_;
  absl::Mutex mu_;
  Bucket global_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_ ABSL_GUARDED_BY(mu_);  // started at the first suppressed call
};

}  // namespace signer::engine

#endif  // ONCHAIN_KMS_SIGNER_ENGINE_REFUSAL_LIMITER_H_
