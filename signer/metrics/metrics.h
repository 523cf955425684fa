// Prometheus metrics of the signer, in the text exposition format 0.0.4; served on a port of
// their own by platform::http::MetricsServer (GET /metrics), apart from the gRPC listener. Label values are method
// names, gRPC status names and policy rule names (bounded by the policy file), never secrets.
#ifndef ONCHAIN_KMS_SIGNER_METRICS_METRICS_H_
#define ONCHAIN_KMS_SIGNER_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signer::metrics {

class Metrics {
 public:
  // Latency bucket upper bounds, seconds.
  static constexpr std::array<double, 14> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,    0.025,  0.05,    0.1,    0.25,  1.0,    5.0};

  // One finished request: signer_requests_total{method,outcome} and the latency histogram.
  void ObserveRequest(absl::string_view method, absl::string_view outcome, absl::Duration latency);
  // signer_policy_denials_total{rule}: a request refused by policy (PERMISSION_DENIED or a limit).
  void PolicyDenial(absl::string_view rule);
  // signer_policy_reloads_total{result="ok"|"rejected"}.
  void PolicyReload(bool ok);
  void SetKeysLoaded(int64_t n) { keys_loaded_.store(n); }
  void SetRefusedConnectionsFn(std::function<uint64_t()> fn);
  void SetGroupCommitFns(std::function<uint64_t()> commits, std::function<uint64_t()> records);

  // The exposition text.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Histogram> latency_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> denials_ ABSL_GUARDED_BY(mu_);
  uint64_t reloads_ok_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reloads_rejected_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<uint64_t()> refused_fn_ ABSL_GUARDED_BY(mu_);
  std::function<uint64_t()> commits_fn_ ABSL_GUARDED_BY(mu_);
  std::function<uint64_t()> records_fn_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> keys_loaded_{0};
};

}  // namespace signer::metrics

#endif  // ONCHAIN_KMS_SIGNER_METRICS_METRICS_H_
