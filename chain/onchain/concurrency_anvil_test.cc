// 50 concurrent deploys from one key: all land, 50 distinct appIds, 50 distinct contiguous
// nonces, no signature refused or repeated. Then 50 concurrent addComposeHash, one per app.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/abi.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"

namespace chain::onchain {
namespace {

using testing::AnvilEnv;
using testing::TestHash;

constexpr int kN = 50;

TEST(Concurrency, FiftyDeploysFromOneKey) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  absl::StatusOr<uint64_t> start_nonce = env.rpc->GetTransactionCount(env.sender);
  ASSERT_TRUE(start_nonce.ok());

  std::vector<absl::StatusOr<DeployAppAuthResult>> results(kN, absl::UnknownError("not run"));
  const absl::Time t0 = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kN; ++i) {
      threads.emplace_back([&, i] { results[i] = env.ops->DeployAppAuth(env.DeployRequest(TestHash(i))); });
    }
    for (std::thread& t : threads) t.join();
  }
  const absl::Duration took = absl::Now() - t0;
  std::cout << kN << " concurrent deploys: " << absl::FormatDuration(took) << "\n";

  std::set<Address> apps;
  std::set<uint64_t> nonces;
  std::set<Hash32> hashes;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    apps.insert(results[i]->app_id);
    nonces.insert(results[i]->nonce);
    hashes.insert(results[i]->tx_hash);
    EXPECT_EQ(results[i]->versions_signed, 1);
    // The chain agrees on the nonce of each transaction.
    absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> tx = env.rpc->GetTransactionByHash(results[i]->tx_hash);
    ASSERT_TRUE(tx.ok() && tx->has_value());
    EXPECT_EQ((*tx)->nonce, results[i]->nonce);
    // Each app allows exactly its own compose hash.
    absl::StatusOr<Bytes> q = abi::EncodeCall("allowedComposeHashes(bytes32)", {abi::Value::FromBytes32(TestHash(i))});
    EXPECT_TRUE(env.CallBool(results[i]->app_id, *q).value_or(false)) << i;
  }
  EXPECT_EQ(apps.size(), static_cast<size_t>(kN));
  EXPECT_EQ(hashes.size(), static_cast<size_t>(kN));
  ASSERT_EQ(nonces.size(), static_cast<size_t>(kN)) << "a nonce was reused";
  EXPECT_EQ(*nonces.begin(), *start_nonce);
  EXPECT_EQ(*nonces.rbegin(), *start_nonce + kN - 1) << "contiguous";
  EXPECT_EQ(env.rpc->GetTransactionCount(env.sender).value_or(0), *start_nonce + kN);
  EXPECT_EQ(env.signer->signatures(), kN);
  EXPECT_EQ(env.signer->refusals(), 0);

  // And 50 concurrent compose-hash additions, one per app.
  std::vector<Address> app_list(apps.begin(), apps.end());
  std::vector<absl::StatusOr<AddComposeHashResult>> adds(kN, absl::UnknownError("not run"));
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kN; ++i) {
      threads.emplace_back([&, i] {
        adds[i] = env.ops->AddComposeHash(
            {.chain_id = env.chain_id, .app = app_list[i], .sender = env.sender, .compose_hash = TestHash(i, 0xa0)});
      });
    }
    for (std::thread& t : threads) t.join();
  }
  std::set<uint64_t> add_nonces;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(adds[i].ok()) << i << ": " << adds[i].status();
    EXPECT_FALSE(adds[i]->already_allowed);
    add_nonces.insert(adds[i]->nonce);
  }
  EXPECT_EQ(add_nonces.size(), static_cast<size_t>(kN));
  EXPECT_EQ(*add_nonces.begin(), *start_nonce + kN);
  EXPECT_EQ(env.signer->refusals(), 0);
}

}  // namespace
}  // namespace chain::onchain
