// Fault switches for reliability tests: added latency, an error status (5xx), 429 with
// Retry-After, or a dropped connection (closed without a response), on matching API requests,
// at a given rate or on the Nth / every Mth matching call, at most `times` times.
//
// A rule (JSON, the same shape for --faults_json and POST /_sim/faults):
//   {"kind": "latency"|"error"|"rate_limit"|"drop",
//    "path_prefix": "/cvms",          // API-relative ("/cvms/...") or absolute ("/api/v1/cvms")
//    "method": "PATCH",               // optional, any method when absent
//    "status": 503,                   // kind "error" (default 503)
//    "retry_after": 2,                // kind "rate_limit", seconds (default 1)
//    "latency_ms": 1500,              // kind "latency"
//    "rate": 0.5,                     // probability; default 1 when neither nth nor every is set
//    "nth": 3, "every": 2, "times": 1 // Nth matching call only / every Mth / max fires (0 = inf)
//    "body": "..."}                   // optional response body for "error"
// Latency rules add up; the first matching non-latency rule that fires decides the outcome.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_FAULTS_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_FAULTS_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cloudsim {

enum class FaultKind { kLatency, kError, kRateLimit, kDrop };

struct FaultRule {
  int64_t id = 0;
  FaultKind kind = FaultKind::kError;
  std::string path_prefix;
  std::string method;
  int status = 503;
  int retry_after_s = 1;
  int64_t latency_ms = 0;
  double rate = 1.0;
  int64_t nth = 0;
  int64_t every = 0;
  int64_t times = 0;
  std::string body;
  // Runtime counters.
  int64_t matched = 0;
  int64_t fired = 0;
};

struct FaultDecision {
  int64_t latency_ms = 0;
  std::optional<FaultRule> action;  // kError / kRateLimit / kDrop
  std::string fired;                // e.g. "latency+error:503", "" when nothing fired
};

absl::string_view FaultKindName(FaultKind k);

class FaultInjector {
 public:
  explicit FaultInjector(uint64_t seed) : rng_(seed) {}

  // Parses and adds a rule; returns its id. InvalidArgument with the field at fault.
  absl::StatusOr<int64_t> Add(const boost::json::value& spec);
  // Adds every rule of a JSON array (or one object).
  absl::Status AddAll(const boost::json::value& specs);
  void Clear();
  boost::json::array List();

  // `api_path` is the path relative to the API base ("/cvms/x"), `full_path` the request path.
  FaultDecision Decide(absl::string_view method, absl::string_view full_path, absl::string_view api_path);

 private:
  absl::Mutex mu_;
  std::vector<FaultRule> rules_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_FAULTS_H_
