#include "platform/metrics/prometheus.h"

#include <gtest/gtest.h>

#include <string>

#include "platform/http/testing/prometheus_text.h"

namespace platform::metrics {
namespace {

TEST(Prometheus, CountersAndHistogramsParseAsTheTextFormat) {
  CounterFamily counter("x_requests_total", "Requests by kind.", {"kind", "result"}, {{"a", "ok"}});
  counter.Increment({"b", "fail\"ed\n"}, 3);
  CounterFamily plain("x_up_total", "No labels.", {});
  plain.Increment({});
  HistogramFamily latency("x_latency_seconds", "Latency.", {"op"}, {0.01, 0.1, 1});
  latency.Observe({"update"}, 0.005);
  latency.Observe({"update"}, 0.1);  // on a bound: counted in it (le means <=)
  latency.Observe({"update"}, 7);
  std::string text;
  counter.AppendText(&text);
  plain.AppendText(&text);
  latency.AppendText(&text);

  absl::StatusOr<http::testing::Exposition> e = http::testing::ParsePrometheusText(text);
  ASSERT_TRUE(e.ok()) << e.status() << "\n" << text;
  EXPECT_EQ(e->types["x_requests_total"], "counter");
  EXPECT_EQ(e->samples["x_requests_total{kind=\"a\",result=\"ok\"}"], 0) << "preset series shown at 0";
  EXPECT_EQ(e->samples["x_requests_total{kind=\"b\",result=\"fail\"ed\n\"}"], 3) << "escaped and read back";
  EXPECT_EQ(e->samples["x_up_total"], 1);
  EXPECT_EQ(e->samples["x_latency_seconds_bucket{op=\"update\",le=\"0.01\"}"], 1);
  EXPECT_EQ(e->samples["x_latency_seconds_bucket{op=\"update\",le=\"0.1\"}"], 2);
  EXPECT_EQ(e->samples["x_latency_seconds_bucket{op=\"update\",le=\"1\"}"], 2);
  EXPECT_EQ(e->samples["x_latency_seconds_bucket{op=\"update\",le=\"+Inf\"}"], 3);
  EXPECT_DOUBLE_EQ(e->samples["x_latency_seconds_sum{op=\"update\"}"], 7.105);
  EXPECT_EQ(counter.Value({"b", "fail\"ed\n"}), 3u);
}

TEST(Prometheus, CallbackMetricsAreReadWhenRendered) {
  CallbackMetric keys("x_keys_loaded", "Keys.", CallbackMetric::Type::kGauge);
  CallbackMetric refused("x_refused_total", "Refused.", CallbackMetric::Type::kCounter);
  std::string text;
  keys.AppendText(&text);
  EXPECT_EQ(text, "") << "not rendered until Set";
  int n = 2;
  keys.Set([&n] { return n; });
  refused.Set([] { return 7; });
  n = 3;
  keys.AppendText(&text);
  refused.AppendText(&text);
  absl::StatusOr<http::testing::Exposition> e = http::testing::ParsePrometheusText(text);
  ASSERT_TRUE(e.ok()) << e.status() << "\n" << text;
  EXPECT_EQ(e->types["x_keys_loaded"], "gauge");
  EXPECT_EQ(e->samples["x_keys_loaded"], 3) << "the value at rendering";
  EXPECT_EQ(e->types["x_refused_total"], "counter");
  EXPECT_EQ(e->samples["x_refused_total"], 7);
}

TEST(Prometheus, TheParserRejectsWhatAScraperWould) {
  EXPECT_FALSE(http::testing::ParsePrometheusText("x 1\n").ok()) << "no TYPE";
  EXPECT_FALSE(http::testing::ParsePrometheusText("# TYPE x counter\nx{a=\"1} 1\n").ok()) << "unterminated";
  EXPECT_FALSE(http::testing::ParsePrometheusText("# TYPE x counter\nx 1").ok()) << "no final newline";
  EXPECT_FALSE(http::testing::ParsePrometheusText("# TYPE x counter\nx 1\nx 2\n").ok()) << "series twice";
  EXPECT_FALSE(http::testing::ParsePrometheusText(
                   "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")
                   .ok())
      << "decreasing buckets";
}

}  // namespace
}  // namespace platform::metrics
