// Metric families in the Prometheus text exposition format 0.0.4, for a service's /metrics
// (served by platform::http::MetricsServer). Thread-safe; label values are escaped. Label
// values must come from small bounded sets (method names, kinds, status classes), never from
// request data or secrets.
//
//   platform::metrics::CounterFamily started("orchestrator_operations_started_total",
//                                            "Operations accepted, by kind.", {"kind"});
//   started.Increment({"DEPLOY"});
//   std::string text;
//   started.AppendText(&text);
#ifndef ONCHAIN_KMS_PLATFORM_METRICS_PROMETHEUS_H_
#define ONCHAIN_KMS_PLATFORM_METRICS_PROMETHEUS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace platform::metrics {

// A counter per combination of label values. Combinations listed in `preset` are shown as 0
// before their first increment, so a dashboard sees the series from the start.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names,
                std::vector<std::vector<std::string>> preset = {});
  // `label_values` has one value per label name.
  void Increment(const std::vector<std::string>& label_values, uint64_t by = 1);
  uint64_t Value(const std::vector<std::string>& label_values) const;
  void AppendText(std::string* out) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, uint64_t> values_ ABSL_GUARDED_BY(mu_);
};

// A histogram per combination of label values: cumulative buckets (upper bounds, ascending;
// +Inf is implied), _sum and _count.
class HistogramFamily {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds);
  void Observe(const std::vector<std::string>& label_values, double value);
  void AppendText(std::string* out) const;

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // non-cumulative, one per bound
    uint64_t count = 0;
    double sum = 0;
  };
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, Series> series_ ABSL_GUARDED_BY(mu_);
};

// One unlabelled series whose value is read when the text is rendered: a gauge (keys loaded) or a
// counter another module keeps (connections its transport refused). Not rendered until Set.
class CallbackMetric {
 public:
  enum class Type { kGauge, kCounter };
  CallbackMetric(std::string name, std::string help, Type type);
  void Set(std::function<double()> read);
  void AppendText(std::string* out) const;

 private:
  const std::string name_;
  const std::string help_;
  const Type type_;
  mutable absl::Mutex mu_;
  std::function<double()> read_ ABSL_GUARDED_BY(mu_);
};

// Latency bounds in seconds from 1 ms to 10 s, for calls to a database or a remote API.
std::vector<double> LatencyBoundsSeconds();

}  // namespace platform::metrics

#endif  // ONCHAIN_KMS_PLATFORM_METRICS_PROMETHEUS_H_
