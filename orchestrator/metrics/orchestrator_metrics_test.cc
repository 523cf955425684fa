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

TEST(OrchestratorMetrics, StepsRetriesFailoversAndTransactions) {
  OrchestratorMetrics m;
  m.ChainConfigured(31337);
  m.StepEnded(v1::OPERATION_KIND_DEPLOY_CVM, "deploy_app_contract", true, absl::Seconds(3));
  m.StepEnded(v1::OPERATION_KIND_DEPLOY_CVM, "deploy_app_contract", false, absl::Milliseconds(20));
  cloudapi::CallEvent limited;
  limited.http_status = 429;
  limited.retry_in = absl::Seconds(1);
  cloudapi::CallEvent last_attempt;  // answered 503, not retried: a response, no retry
  last_attempt.http_status = 503;
  cloudapi::CallEvent timed_out;
  timed_out.error = absl::DeadlineExceededError("read timed out");
  timed_out.retry_in = absl::Seconds(1);
  auto cloud = m.CloudObserver();
  cloud(limited);
  cloud(last_attempt);
  cloud(timed_out);
  auto rpc = m.RpcRetryObserver(31337);
  rpc({.method = "eth_chainId", .error = absl::UnavailableError("connection refused"), .failover = true});
  rpc({.method = "eth_chainId", .error = absl::ResourceExhaustedError("http 429"), .failover = false});
  auto tx = m.TxObserver(31337);
  tx(chain::onchain::TxEvent::kSent);
  tx(chain::onchain::TxEvent::kFeeBump);
  tx(chain::onchain::TxEvent::kFeeBump);
  tx(chain::onchain::TxEvent::kRebroadcast);
  m.Retry(RetryLayer::kJournal, RetryCause::kJournalBusy);

  absl::StatusOr<platform::http::testing::Exposition> e = platform::http::testing::ParsePrometheusText(m.Render());
  ASSERT_TRUE(e.ok()) << e.status() << "\n" << m.Render();
  EXPECT_EQ(e->types["orchestrator_step_duration_seconds"], "histogram");
  const std::string step = "kind=\"deploy_cvm\",step=\"deploy_app_contract\"";
  EXPECT_EQ(e->samples["orchestrator_step_duration_seconds_count{" + step + ",result=\"succeeded\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_step_duration_seconds_bucket{" + step + ",result=\"succeeded\",le=\"2.5\"}"], 0);
  EXPECT_EQ(e->samples["orchestrator_step_duration_seconds_bucket{" + step + ",result=\"succeeded\",le=\"5\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_step_duration_seconds_count{" + step + ",result=\"failed\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_retries_total{layer=\"phala_cloud\",cause=\"http_429\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_retries_total{layer=\"phala_cloud\",cause=\"http_5xx\"}"], 0);
  EXPECT_EQ(e->samples["orchestrator_retries_total{layer=\"phala_cloud\",cause=\"timeout\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_phala_cloud_responses_total{class=\"5xx\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_phala_cloud_responses_total{class=\"error\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_retries_total{layer=\"json_rpc\",cause=\"connection\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_retries_total{layer=\"json_rpc\",cause=\"http_429\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_retries_total{layer=\"journal\",cause=\"journal_busy\"}"], 1);
  EXPECT_EQ(e->samples.count("orchestrator_retries_total{layer=\"step\",cause=\"signer_unavailable\"}"), 1u)
      << "every possible pair is shown from the start";
  EXPECT_EQ(e->samples["orchestrator_rpc_failovers_total{chain_id=\"31337\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_transactions_sent_total{chain_id=\"31337\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_transaction_fee_bumps_total{chain_id=\"31337\"}"], 2);
  EXPECT_EQ(e->samples["orchestrator_transactions_dropped_total{chain_id=\"31337\"}"], 1);
  EXPECT_EQ(e->samples["orchestrator_transactions_replaced_total{chain_id=\"31337\"}"], 0)
      << "a configured chain's series are there at 0";
  EXPECT_EQ(e->samples["orchestrator_transactions_repaired_total{chain_id=\"31337\"}"], 0);
}

}  // namespace
}  // namespace orchestrator::metrics
