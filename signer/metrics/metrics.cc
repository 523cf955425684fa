#include "signer/metrics/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace signer::metrics {
namespace {

std::string Escape(absl::string_view v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

}  // namespace

void Metrics::ObserveRequest(absl::string_view method, absl::string_view outcome, absl::Duration latency) {
  const double s = absl::ToDoubleSeconds(latency);
  absl::MutexLock lock(&mu_);
  ++requests_[{std::string(method), std::string(outcome)}];
  Histogram& h = latency_[std::string(method)];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (s <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += s;
}

void Metrics::PolicyDenial(absl::string_view rule) {
  absl::MutexLock lock(&mu_);
  ++denials_[std::string(rule)];
}

void Metrics::PolicyReload(bool ok) {
  absl::MutexLock lock(&mu_);
  ++(ok ? reloads_ok_ : reloads_rejected_);
}

void Metrics::SetRefusedConnectionsFn(std::function<uint64_t()> fn) {
  absl::MutexLock lock(&mu_);
  refused_fn_ = std::move(fn);
}

void Metrics::SetGroupCommitFns(std::function<uint64_t()> commits, std::function<uint64_t()> records) {
  absl::MutexLock lock(&mu_);
  commits_fn_ = std::move(commits);
  records_fn_ = std::move(records);
}

std::string Metrics::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  absl::StrAppend(&out, "# HELP signer_requests_total Signer RPCs by method and outcome (gRPC status).\n",
                  "# TYPE signer_requests_total counter\n");
  for (const auto& [k, v] : requests_) {
    absl::StrAppend(&out, "signer_requests_total{method=\"", Escape(k.first), "\",outcome=\"", Escape(k.second), "\"} ",
                    v, "\n");
  }
  absl::StrAppend(&out, "# HELP signer_request_duration_seconds Signer RPC latency, from arrival to reply.\n",
                  "# TYPE signer_request_duration_seconds histogram\n");
  for (const auto& [method, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      absl::StrAppend(&out, "signer_request_duration_seconds_bucket{method=\"", Escape(method), "\",le=\"", kBuckets[i],
                      "\"} ", h.counts[i], "\n");
    }
    absl::StrAppend(&out, "signer_request_duration_seconds_bucket{method=\"", Escape(method), "\",le=\"+Inf\"} ",
                    h.count, "\n");
    absl::StrAppend(&out, "signer_request_duration_seconds_sum{method=\"", Escape(method), "\"} ", h.sum, "\n");
    absl::StrAppend(&out, "signer_request_duration_seconds_count{method=\"", Escape(method), "\"} ", h.count, "\n");
  }
  absl::StrAppend(&out, "# HELP signer_policy_denials_total Requests refused by the policy or its limits, by rule.\n",
                  "# TYPE signer_policy_denials_total counter\n");
  for (const auto& [rule, v] : denials_) {
    absl::StrAppend(&out, "signer_policy_denials_total{rule=\"", Escape(rule), "\"} ", v, "\n");
  }
  absl::StrAppend(&out, "# HELP signer_policy_reloads_total Policy reloads (SIGHUP) by result.\n",
                  "# TYPE signer_policy_reloads_total counter\n", "signer_policy_reloads_total{result=\"ok\"} ",
                  reloads_ok_, "\n", "signer_policy_reloads_total{result=\"rejected\"} ", reloads_rejected_, "\n");
  absl::StrAppend(&out, "# HELP signer_keys_loaded Keys held by the signer.\n# TYPE signer_keys_loaded gauge\n",
                  "signer_keys_loaded ", keys_loaded_.load(), "\n");
  if (refused_fn_) {
    absl::StrAppend(
        &out, "# HELP signer_refused_connections_total Unix socket connections refused (peer uid not allowed).\n",
        "# TYPE signer_refused_connections_total counter\n", "signer_refused_connections_total ", refused_fn_(), "\n");
  }
  if (commits_fn_ && records_fn_) {
    absl::StrAppend(&out,
                    "# HELP signer_equivocation_commits_total Group commits (fsyncs) of the anti-equivocation db.\n",
                    "# TYPE signer_equivocation_commits_total counter\n", "signer_equivocation_commits_total ",
                    commits_fn_(), "\n", "# HELP signer_equivocation_records_total Signatures recorded durably.\n",
                    "# TYPE signer_equivocation_records_total counter\n", "signer_equivocation_records_total ",
                    records_fn_(), "\n");
  }
  return out;
}

}  // namespace signer::metrics
