#include "orchestrator/e2e/exactly_once.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;

void ExpectAllStepsSucceeded(const v1::Operation& op) {
  EXPECT_EQ(op.state(), v1::OPERATION_STATE_SUCCEEDED) << op.ShortDebugString();
  for (const v1::Step& step : op.steps()) {
    EXPECT_EQ(step.state(), v1::STEP_STATE_SUCCEEDED) << op.id() << " step " << step.name();
  }
}

absl::StatusOr<uint64_t> TransactionCount(Stack& stack, const char* block) {
  absl::StatusOr<json::value> n =
      stack.anvil().Call("eth_getTransactionCount", json::array{stack.signer_address(), block});
  if (!n.ok()) return n.status();
  return std::stoull(std::string(n->as_string()), nullptr, 16);
}

// The AppDeployed events after the first `before` (in block order) of no operation in `apps`
// (lowercase ids), with their transaction's nonce and block: which transaction made an extra
// contract, to find in the services' logs.
std::string ForeignAppDeployments(Stack& stack, const std::set<std::string>& apps, int before) {
  absl::StatusOr<json::array> logs = stack.AppDeployedLogs();
  if (!logs.ok()) return std::string(logs.status().message());
  std::string out;
  for (size_t i = static_cast<size_t>(std::max(before, 0)); i < logs->size(); ++i) {
    const json::object& o = (*logs)[i].as_object();
    const std::string topic(o.at("topics").as_array().at(1).as_string());
    const std::string app = absl::StrCat("0x", absl::AsciiStrToLower(topic.substr(topic.size() - 40)));
    if (apps.count(app) > 0) continue;
    const std::string hash(o.at("transactionHash").as_string());
    absl::StatusOr<json::value> tx = stack.anvil().Call("eth_getTransactionByHash", json::array{json::value(hash)});
    absl::StrAppend(
        &out, "\n  app ", app, " tx ", hash, " block ", std::string(o.at("blockNumber").as_string()),
        tx.ok() && tx->is_object() ? absl::StrCat(" nonce ", std::string(tx->at("nonce").as_string())) : "");
  }
  return out;
}

void ExpectDeploysOnce(Stack& stack, const EffectCounts& before, const std::vector<v1::Operation>& deploys) {
  std::set<std::string> apps;
  for (const v1::Operation& op : deploys) {
    ExpectAllStepsSucceeded(op);
    apps.insert(absl::AsciiStrToLower(op.deploy().app_id()));
  }
  EXPECT_EQ(apps.size(), deploys.size()) << "distinct app ids";
  absl::StatusOr<int> app_deployed = stack.CountAppDeployed();
  ASSERT_TRUE(app_deployed.ok()) << app_deployed.status();
  EXPECT_EQ(*app_deployed - before.app_deployed, static_cast<int>(deploys.size()))
      << "AppAuth contracts on chain; those of no operation of the run:"
      << ForeignAppDeployments(stack, apps, before.app_deployed);
  EXPECT_EQ(AcceptedSimRequests(stack, "POST", "/api/v1/cvms") - before.accepted_commits,
            static_cast<int>(deploys.size()))
      << "accepted commits in the simulator";
}

void ExpectUpdatesOnce(Stack& stack, const std::vector<FinishedUpdate>& updates) {
  for (const FinishedUpdate& u : updates) {
    ExpectAllStepsSucceeded(u.operation);
    const v1::UpdateResult& r = u.operation.update();
    EXPECT_TRUE(r.two_phase()) << u.operation.id();
    absl::StatusOr<int> added = stack.CountComposeHashAdded(u.app, r.compose_hash());
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_EQ(*added, 1) << "ComposeHashAdded for " << u.operation.id();
    // The first PATCH is answered 465 (no effect); exactly one confirming PATCH is accepted.
    EXPECT_EQ(AcceptedSimRequests(stack, "PATCH", absl::StrCat("/api/v1/cvms/", r.cvm_id(), "/docker-compose")), 1)
        << u.operation.id();
  }
}

}  // namespace

absl::StatusOr<EffectCounts> CountEffects(Stack& stack) {
  EffectCounts c;
  absl::StatusOr<int> app_deployed = stack.CountAppDeployed();
  if (!app_deployed.ok()) return app_deployed.status();
  c.app_deployed = *app_deployed;
  c.accepted_commits = AcceptedSimRequests(stack, "POST", "/api/v1/cvms");
  return c;
}

int AcceptedSimRequests(Stack& stack, const std::string& method, const std::string& path) {
  int n = 0;
  for (const json::object& r : stack.SimRequests(method, path)) {
    if (!r.contains("path") || !r.at("path").is_string() || r.at("path").as_string() != path) continue;
    const json::value& status = r.contains("status") ? r.at("status") : json::value();
    const int64_t code = status.is_int64() ? status.as_int64() : status.is_uint64() ? status.as_uint64() : 0;
    if (code / 100 == 2) ++n;
  }
  return n;
}

void ExpectExactlyOnce(Stack& stack, const EffectCounts& before, const std::vector<v1::Operation>& deploys,
                       const std::vector<FinishedUpdate>& updates) {
  ExpectDeploysOnce(stack, before, deploys);
  ExpectUpdatesOnce(stack, updates);
  absl::StatusOr<uint64_t> latest = TransactionCount(stack, "latest");
  absl::StatusOr<uint64_t> pending = TransactionCount(stack, "pending");
  ASSERT_TRUE(latest.ok() && pending.ok());
  EXPECT_EQ(*latest, *pending) << "a transaction of the deployer is still pending (a nonce left open)";
}

void ExpectSignerRecordMatchesChain(Stack& stack, const std::vector<v1::Operation>& deploys,
                                    const std::vector<FinishedUpdate>& updates) {
  absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> db = stack.ConnectSignerRecord();
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<platform::postgres::Result> hashes = (*db)->Execute("SELECT encode(tx_hash, 'hex') FROM signatures");
  ASSERT_TRUE(hashes.ok()) << hashes.status();
  std::set<std::string> recorded;
  for (int r = 0; r < hashes->rows(); ++r) recorded.insert("0x" + hashes->Text(r, 0));
  for (const v1::Operation& op : deploys) {
    EXPECT_EQ(recorded.count(absl::AsciiStrToLower(op.deploy().deploy_transaction_hash())), 1u) << op.id();
  }
  for (const FinishedUpdate& u : updates) {
    EXPECT_EQ(recorded.count(absl::AsciiStrToLower(u.operation.update().register_transaction_hash())), 1u)
        << u.operation.id();
  }
  absl::StatusOr<platform::postgres::Result> nonces = (*db)->Execute(
      "SELECT count(DISTINCT nonce), min(nonce), max(nonce), count(*) FILTER (WHERE slot_version = 1) FROM signatures");
  ASSERT_TRUE(nonces.ok()) << nonces.status();
  const int64_t distinct = *nonces->Int(0, 0), low = *nonces->Int(0, 1), high = *nonces->Int(0, 2);
  EXPECT_EQ(distinct, high - low + 1) << "a gap in the signed nonces";
  EXPECT_EQ(*nonces->Int(0, 3), distinct) << "one first signature per nonce";
  absl::StatusOr<uint64_t> latest = TransactionCount(stack, "latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(static_cast<uint64_t>(high + 1), *latest) << "a signed nonce not mined";
}

}  // namespace orchestrator::e2e
