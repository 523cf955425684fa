#include "orchestrator/metrics/retry_cause.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "chain/jsonrpc/errors.h"
#include "chain/onchain/tx_signer.h"
#include "cloudapi/api_error.h"
#include "orchestrator/signer_client/signer_client.h"

namespace orchestrator::metrics {
namespace {

TEST(RetryCause, OfAPhalaCloudAttempt) {
  cloudapi::CallEvent e;
  e.http_status = 429;
  EXPECT_EQ(CloudRetryCause(e), RetryCause::kHttp429);
  e.http_status = 502;
  EXPECT_EQ(CloudRetryCause(e), RetryCause::kHttp5xx);
  e.http_status = 408;
  EXPECT_EQ(CloudRetryCause(e), RetryCause::kHttp4xx);
  e.http_status = 0;
  e.error = absl::DeadlineExceededError("timed out");
  EXPECT_EQ(CloudRetryCause(e), RetryCause::kTimeout);
  e.error = absl::UnavailableError("connection refused");
  EXPECT_EQ(CloudRetryCause(e), RetryCause::kConnection);
}

TEST(RetryCause, OfAJsonRpcAttempt) {
  chain::jsonrpc::RpcError behind{.code = -32000, .message = "header not found"};
  behind.kind = chain::jsonrpc::RpcErrorKind::kNodeBehind;
  EXPECT_EQ(RpcRetryCause(chain::jsonrpc::ToStatus(behind, "eth_call")), RetryCause::kRpcError);
  EXPECT_EQ(RpcRetryCause(chain::jsonrpc::TransportError(absl::StatusCode::kResourceExhausted, "http 429", {})),
            RetryCause::kHttp429);
  EXPECT_EQ(RpcRetryCause(chain::jsonrpc::TransportError(absl::StatusCode::kUnavailable, "refused", {})),
            RetryCause::kConnection);
}

absl::Status CloudAnswered(int http_status) {
  return cloudapi::ApiErrorStatus("provision cvm", cloudapi::ParseApiError(http_status, "busy"), "", std::nullopt);
}

TEST(RetryCause, OfAStepFailure) {
  EXPECT_EQ(StepRetryCause(CloudAnswered(503)), RetryCause::kHttp5xx);
  EXPECT_EQ(StepRetryCause(CloudAnswered(429)), RetryCause::kHttp429);
  EXPECT_EQ(StepRetryCause(chain::jsonrpc::TransportError(absl::StatusCode::kUnavailable, "refused", {})),
            RetryCause::kConnection);
  EXPECT_EQ(StepRetryCause(absl::DeadlineExceededError("waiting for the receipt")), RetryCause::kTimeout);
  EXPECT_EQ(StepRetryCause(absl::ResourceExhaustedError("fee market above the caps")), RetryCause::kOther);
}

// The signer down: the status SignIntent passes on (wrapped by chain/) still says where it came from.
TEST(RetryCause, OfASignerThatIsDown) {
  absl::StatusOr<std::unique_ptr<SignerClient>> client =
      SignerClient::Create({.address = "unix:/nonexistent/signer.sock", .timeout = absl::Seconds(2)});
  ASSERT_TRUE(client.ok()) << client.status();
  chain::onchain::TxEnvelope env;
  env.chain_id = 31337;
  absl::StatusOr<chain::onchain::SignedTx> tx =
      chain::onchain::SignIntent(**client, env, chain::onchain::TxIntent::AddComposeHash({}, {}));
  ASSERT_FALSE(tx.ok());
  EXPECT_TRUE(absl::IsUnavailable(tx.status()) || absl::IsDeadlineExceeded(tx.status())) << tx.status();
  EXPECT_EQ(StepRetryCause(tx.status()), RetryCause::kSignerUnavailable) << tx.status();
}

TEST(RetryCause, EveryPossiblePairHasNames) {
  for (const auto& [layer, cause] : PossibleRetries()) {
    EXPECT_FALSE(LayerName(layer).empty());
    EXPECT_FALSE(CauseName(cause).empty());
  }
  // Every cause a step's failure maps to is among the series shown at 0 from the start
  // (orchestrator/README.md promises them): 408 is a transient step failure too.
  const std::vector<std::pair<RetryLayer, RetryCause>> all = PossibleRetries();
  for (int http : {408, 429, 503}) {
    const RetryCause c = StepRetryCause(CloudAnswered(http));
    EXPECT_NE(std::find(all.begin(), all.end(), std::make_pair(RetryLayer::kStep, c)), all.end())
        << "step/" << CauseName(c) << " (HTTP " << http << ") is missing";
  }
  EXPECT_EQ(CauseName(RetryCause::kSignerUnavailable), "signer_unavailable");
  EXPECT_EQ(LayerName(RetryLayer::kJsonRpc), "json_rpc");
}

}  // namespace
}  // namespace orchestrator::metrics
