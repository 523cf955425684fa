#include "orchestrator/metrics/orchestrator_metrics.h"

#include <gtest/gtest.h>

#include "platform/http/testing/prometheus_text.h"

namespace orchestrator::metrics {
namespace {

namespace v1 = ::onchainkms::orchestrator::v1;

TEST(OrchestratorMetrics, RendersEverySeriesAsTheTextFormat) {
  OrchestratorMetrics m;
  m.OperationStarted(v1::OPERATION_KIND_DEPLOY_CVM);
  m.OperationStarted(v1::OPERATION_KIND_DEPLOY_CVM);
  m.OperationEnded(v1::OPERATION_KIND_DEPLOY_CVM, v1::OPERATION_STATE_SUCCEEDED);
  m.OperationEnded(v1::OPERATION_KIND_DEPLOY_CVM, v1::OPERATION_STATE_FAILED);
  m.OperationEnded(v1::OPERATION_KIND_DEPLOY_CVM, v1::OPERATION_STATE_CANCELLED);
  m.PhalaCloudResponse(200);
  m.PhalaCloudResponse(201);
  m.PhalaCloudResponse(503);
  m.PhalaCloudResponse(0);
  m.JournalWrite("update", absl::Milliseconds(3));
  m.JournalWrite("create", absl::Seconds(20));

  absl::StatusOr<platform::http::testing::Exposition> e = platform::http::testing::ParsePrometheusText(m.Render());
  ASSERT_TRUE(e.ok()) << e.status() << "\n" << m.Render();
  EXPECT_EQ(e->samples["orchestrator_operations_started_total{kind=\"deploy_cvm\"}"], 2);
  EXPECT_EQ(e->samples["orchestrator_operations_succeeded_total{kind=\"deploy_cvm\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_operations_failed_total{kind=\"deploy_cvm\"}"], 1);
  EXPECT_EQ(e->samples.count("orchestrator_operations_started_total{kind=\"add_compose_hash\"}"), 1u)
      << "every kind is shown from the start";
  EXPECT_EQ(e->samples.count("orchestrator_operations_started_total{kind=\"unspecified\"}"), 0u);
  EXPECT_EQ(e->samples["orchestrator_phala_cloud_responses_total{class=\"2xx\"}"], 2);
  EXPECT_EQ(e->samples["orchestrator_phala_cloud_responses_total{class=\"5xx\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_phala_cloud_responses_total{class=\"4xx\"}"], 0);
  EXPECT_EQ(e->samples["orchestrator_phala_cloud_responses_total{class=\"error\"}"], 1);
  EXPECT_EQ(e->types["orchestrator_journal_write_duration_seconds"], "histogram");
  EXPECT_EQ(e->samples["orchestrator_journal_write_duration_seconds_bucket{write=\"update\",le=\"0.005\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_journal_write_duration_seconds_bucket{write=\"create\",le=\"10\"}"], 0);
  EXPECT_EQ(e->samples["orchestrator_journal_write_duration_seconds_count{write=\"create\"}"], 1);
}

}  // namespace
}  // namespace orchestrator::metrics
