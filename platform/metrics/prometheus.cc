#include "platform/metrics/prometheus.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace platform::metrics {
namespace {

std::string Escape(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

// `{a="x",b="y"` without the closing brace (so `le` can follow), or "" with no labels.
std::string OpenLabels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "{" : ",", names[i], "=\"", Escape(values[i]), "\"");
  }
  return out;
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string open = OpenLabels(names, values);
  return open.empty() ? open : open + "}";
}

void AppendHeader(std::string* out, const std::string& name, const std::string& help, const char* type) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

CounterFamily::CounterFamily(std::string name, std::string help, std::vector<std::string> label_names,
                             std::vector<std::vector<std::string>> preset)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  absl::MutexLock lock(&mu_);
  for (std::vector<std::string>& values : preset) values_.emplace(std::move(values), 0);
}

void CounterFamily::Increment(const std::vector<std::string>& label_values, uint64_t by) {
  absl::MutexLock lock(&mu_);
  values_[label_values] += by;
}

uint64_t CounterFamily::Value(const std::vector<std::string>& label_values) const {
  absl::MutexLock lock(&mu_);
  auto it = values_.find(label_values);
  return it == values_.end() ? 0 : it->second;
}

void CounterFamily::AppendText(std::string* out) const {
  AppendHeader(out, name_, help_, "counter");
  absl::MutexLock lock(&mu_);
  for (const auto& [values, n] : values_) absl::StrAppend(out, name_, Labels(label_names_, values), " ", n, "\n");
}

HistogramFamily::HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                                 std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

void HistogramFamily::Observe(const std::vector<std::string>& label_values, double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  Series& s = series_[label_values];
  if (s.buckets.empty()) s.buckets.resize(bounds_.size());
  if (bucket < bounds_.size()) ++s.buckets[bucket];
  ++s.count;
  s.sum += value;
}

void HistogramFamily::AppendText(std::string* out) const {
  AppendHeader(out, name_, help_, "histogram");
  absl::MutexLock lock(&mu_);
  for (const auto& [values, s] : series_) {
    const std::string open = OpenLabels(label_names_, values);
    const std::string le_prefix = open.empty() ? "{le=\"" : open + ",le=\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      absl::StrAppend(out, name_, "_bucket", le_prefix, bounds_[i], "\"} ", cumulative, "\n");
    }
    absl::StrAppend(out, name_, "_bucket", le_prefix, "+Inf\"} ", s.count, "\n");
    const std::string labels = Labels(label_names_, values);
    absl::StrAppend(out, name_, "_sum", labels, " ", s.sum, "\n", name_, "_count", labels, " ", s.count, "\n");
  }
}

CallbackMetric::CallbackMetric(std::string name, std::string help, Type type)
    : name_(std::move(name)), help_(std::move(help)), type_(type) {}

void CallbackMetric::Set(std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  read_ = std::move(read);
}

void CallbackMetric::AppendText(std::string* out) const {
  absl::MutexLock lock(&mu_);
  if (!read_) return;
  AppendHeader(out, name_, help_, type_ == Type::kGauge ? "gauge" : "counter");
  absl::StrAppend(out, name_, " ", read_(), "\n");
}

std::vector<double> LatencyBoundsSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace platform::metrics
