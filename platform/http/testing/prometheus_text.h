// Test-only: a strict parser of the Prometheus text exposition format 0.0.4, so a test checks
// what a /metrics endpoint serves the way a scraper reads it.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_TESTING_PROMETHEUS_TEXT_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_TESTING_PROMETHEUS_TEXT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace platform::http::testing {

struct Exposition {
  std::map<std::string, std::string> types;  // family name -> counter, gauge, histogram, ...
  // Samples by their series as written: "name" or "name{a=\"x\",b=\"y\"}".
  std::map<std::string, double> samples;
};

// Checks: every line is a comment (# HELP / # TYPE name type) or a sample `name[{labels}] value`
// with valid metric and label names, escaped label values and a float value; each sample
// belongs to a family declared by an earlier TYPE line (histograms: _bucket with le, _sum,
// _count); no series twice; the text ends with a newline; histogram buckets do not decrease and
// le="+Inf" equals _count. InvalidArgument naming the line otherwise.
absl::StatusOr<Exposition> ParsePrometheusText(absl::string_view text);

}  // namespace platform::http::testing

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_TESTING_PROMETHEUS_TEXT_H_
