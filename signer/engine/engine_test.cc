#include "signer/engine/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "chain/dstack_calls.h"
#include "chain/eip191.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/transaction.h"
#include "google/protobuf/text_format.h"
#include "signer/equivocation/group_commit.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/keystore/key_store_testing.h"
#include "signer/testing/anvil_fixtures.h"

namespace signer::engine {
namespace {

namespace v1 = onchainkms::signer::v1;
using ::testing::HasSubstr;

using fixtures::kApp;
using fixtures::kFactory;
using fixtures::kFrom;
using fixtures::kSecret;

constexpr char kPolicy[] = R"pb(
  chains {
    chain_id: 31337
    kms_contract_addresses: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
    max_fee_per_gas_wei: "100000000000"
    max_priority_fee_per_gas_wei: "10000000000"
    max_gas_limit: 2000000
  }
  default_key_limits { fee_budget_24h_wei: "1000000000000000" }
  generic_transaction_rules {
    name: "transfer-ownership"
    chain_id: 31337
    to: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
    selector: "0xf2fde38b"
  }
  message_signing { enabled: true }
  callers {
    name: "test"
    identities: "insecure"
    keys: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    keys: "0x1111111111111111111111111111111111111111"  # bound but not held: NOT_FOUND
    intents: [
      INTENT_DEPLOY_AND_REGISTER_APP,
      INTENT_ADD_COMPOSE_HASH,
      INTENT_GENERIC_TRANSACTION,
      INTENT_SIGN_MESSAGE
    ]
  }
)pb";

// anvil's test key #1 (public), for a second key in the store.
constexpr char kSecret1[] = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
constexpr char kFrom1[] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    keys_ = *keystore::KeyStore::FromSecrets({{"anvil0", *chain::FromHex(kSecret)}});
    SetPolicy(kPolicy);
    Restart();
  }
  void SetPolicy(const std::string& text) {
    v1::Policy p;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &p));
    auto compiled = policy::CompiledPolicy::Compile(p);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    if (holder_ == nullptr) {
      holder_ = std::make_unique<policy::PolicyHolder>(*compiled);
    } else {
      holder_->Set(*compiled);
    }
  }
  // A new engine on the same files: what a process restart sees.
  void Restart() {
    engine_.reset();
    store_.reset();
    audit_.reset();
    usage_ = std::make_unique<policy::UsageTracker>();
    store_ = *equivocation::SqliteStore::Open(dir_ + "/ae.sqlite");
    audit_ = *audit::AuditLog::Open(dir_ + "/audit.jsonl", absl::ZeroDuration());
    engine_ = std::make_unique<Engine>(
        EngineDeps{keys_.get(), holder_.get(), usage_.get(), store_.get(), audit_.get(), &metrics_});
    ASSERT_TRUE(engine_->ReplayFeeLedger().ok());
  }

  template <typename Fn>
  absl::Status Call(Fn fn) {
    std::promise<absl::Status> p;
    fn([&p](absl::Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }

  absl::Status Sign(const v1::SignAddComposeHashRequest& r, v1::SignedTransaction* out) {
    return Call([&](Done d) { engine_->SignAddComposeHash(caller_, r, out, std::move(d)); });
  }

  // deployAndRegisterApp on kFactory from kFrom at `nonce`, with initial compose hash 0x11…11.
  static v1::SignDeployAndRegisterAppRequest DeployRequest(uint64_t nonce) {
    v1::SignDeployAndRegisterAppRequest r;
    r.set_chain_id(31337);
    r.set_kms_contract_address(kFactory);
    r.set_from_address(kFrom);
    r.set_nonce(nonce);
    r.set_gas_limit(300000);
    r.set_max_fee_per_gas_wei("1000000000");
    r.set_max_priority_fee_per_gas_wei("1000000000");
    r.set_initial_owner(kFrom);
    r.set_initial_compose_hash("0x" + std::string(64, '1'));
    return r;
  }
  absl::Status SignDeploy(const v1::SignDeployAndRegisterAppRequest& r, v1::SignedTransaction* out) {
    return Call([&](Done d) { engine_->SignDeployAndRegisterApp(caller_, r, out, std::move(d)); });
  }

  std::string dir_;
  Caller caller_{platform::Caller::InsecureLoopback{"test"}};
  std::unique_ptr<keystore::KeyStore> keys_;
  std::unique_ptr<policy::PolicyHolder> holder_;
  std::unique_ptr<policy::UsageTracker> usage_;
  std::unique_ptr<equivocation::Store> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  metrics::Metrics metrics_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, DeployAndRegisterAppSignsTheCallItBuilt) {
  v1::SignDeployAndRegisterAppRequest r = DeployRequest(3);
  v1::SignedTransaction out;
  ASSERT_TRUE(SignDeploy(r, &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FIRST);
  absl::StatusOr<chain::Bytes> raw = chain::FromHex(out.raw_transaction());
  absl::StatusOr<chain::SignedEip1559Transaction> tx = chain::DecodeSignedEip1559(*raw);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(tx->Sender()->Checksummed(), kFrom) << "the signature recovers to the key";
  EXPECT_EQ(tx->tx.to->Checksummed(), kFactory);
  EXPECT_EQ(tx->tx.nonce, 3u);
  EXPECT_TRUE(tx->tx.value.IsZero());
  chain::DeployAndRegisterAppParams params;
  params.initial_owner = *chain::Address::Parse(kFrom);
  params.initial_compose_hash = *chain::Hash32::FromHex(std::string(64, '1'));
  EXPECT_EQ(tx->tx.data, chain::EncodeDeployAndRegisterApp(params));
  EXPECT_EQ(out.transaction_hash(), chain::TxHash(*raw).Hex());
  EXPECT_EQ(out.data(), chain::ToHex(tx->tx.data));
  // 6-argument overload when require_tcb_up_to_date is set.
  r.set_require_tcb_up_to_date(true);
  r.set_nonce(4);
  ASSERT_TRUE(Call([&](Done d) { engine_->SignDeployAndRegisterApp(caller_, r, &out, std::move(d)); }).ok());
  EXPECT_EQ(out.data().substr(0, 10), "0x9cb9c31f");
  // Denied factory: nothing signed.
  r.set_kms_contract_address("0x2222222222222222222222222222222222222222");
  r.set_nonce(5);
  absl::Status s = Call([&](Done d) { engine_->SignDeployAndRegisterApp(caller_, r, &out, std::move(d)); });
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("chains[chain_id=31337].kms_contract_addresses"));
  EXPECT_TRUE(store_->RecordsFor({31337, *chain::Address::Parse(kFrom), 5})->empty());
}

TEST_F(EngineTest, RepeatFeeBumpAndConflictAcrossRestart) {
  v1::SignedTransaction first, again, bumped;
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(7), &first).ok());
  Restart();
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(7), &again).ok());
  EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(again.raw_transaction(), first.raw_transaction());
  v1::SignAddComposeHashRequest other = fixtures::AddComposeHashRequest(7);
  other.set_compose_hash(std::string(64, 'b'));
  absl::Status s = Sign(other, &bumped);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(first.transaction_hash()));
  v1::SignAddComposeHashRequest bump = fixtures::AddComposeHashRequest(7);
  bump.set_max_fee_per_gas_wei("2200000000");
  bump.set_max_priority_fee_per_gas_wei("1100000");
  ASSERT_TRUE(Sign(bump, &bumped).ok());
  EXPECT_EQ(bumped.nonce_use(), v1::NONCE_USE_FEE_BUMP);
  EXPECT_EQ(bumped.replaced_transaction_hash(), first.transaction_hash());
  Restart();
  bump.set_max_fee_per_gas_wei("2300000000");  // +4.5% over the bump: refused
  bump.set_max_priority_fee_per_gas_wei("1300000");
  EXPECT_TRUE(absl::IsFailedPrecondition(Sign(bump, &bumped)));
  audit_.reset();
  audit::VerifyResult v = audit::VerifyAuditLog(dir_ + "/audit.jsonl");
  EXPECT_TRUE(v.ok) << v.message;
  EXPECT_EQ(v.records, 5u) << "one record per request";
  // The metrics tell the same story: three released (first, repeat, fee bump), two refused.
  const std::string m = metrics_.Render();
  EXPECT_THAT(m, HasSubstr("signer_signatures_total{method=\"SignAddComposeHash\",nonce_use=\"first\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("signer_signatures_total{method=\"SignAddComposeHash\",nonce_use=\"repeat\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("signer_signatures_total{method=\"SignAddComposeHash\",nonce_use=\"fee_bump\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("signer_equivocation_refusals_total{method=\"SignAddComposeHash\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("signer_signing_duration_seconds_count{method=\"SignAddComposeHash\"} 2\n"))
      << "a repeat signs nothing; the refused bump was refused before signing";
  EXPECT_THAT(m, HasSubstr("signer_audit_write_duration_seconds_count{result=\"ok\"} 5\n"));
}

TEST_F(EngineTest, AFeeBumpKeepsTheGasLimitAndTheCall) {
  v1::SignedTransaction first, out;
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(9), &first).ok());
  v1::SignAddComposeHashRequest bump = fixtures::AddComposeHashRequest(9);
  bump.set_max_fee_per_gas_wei("2200000000");
  bump.set_max_priority_fee_per_gas_wei("1100000");
  bump.set_gas_limit(59999);  // could run out of gas and burn the nonce
  absl::Status s = Sign(bump, &out);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("gas_limit 59999 is below 60000"));
  bump.set_compose_hash(std::string(64, 'c'));  // another call, same fees and gas
  bump.set_gas_limit(60000);
  s = Sign(bump, &out);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("to/value/data"));
  absl::StatusOr<std::vector<equivocation::Record>> rows =
      store_->RecordsFor({31337, *chain::Address::Parse(kFrom), 9});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u) << "nothing signed or recorded";
  bump = fixtures::AddComposeHashRequest(9);
  bump.set_max_fee_per_gas_wei("2200000000");
  bump.set_max_priority_fee_per_gas_wei("1100000");
  bump.set_gas_limit(80000);  // a higher gas limit is fine
  ASSERT_TRUE(Sign(bump, &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FEE_BUMP);
}

// Another signer replica, simulated over a real SQLite record: when a record is armed to lose,
// the other replica's winner (made from the record) is committed first and the record is
// ABORTED, as PostgresStore reports a lost race; or the record is refused with a status, as
// PostgresStore refuses one over the key's global fee budget.
class RaceLosingStore final : public equivocation::Store {
 public:
  using MakeWinner = std::function<equivocation::Record(equivocation::Record mine)>;
  explicit RaceLosingStore(std::unique_ptr<equivocation::Store> inner) : inner_(std::move(inner)) {
    group_commit_ = std::make_unique<equivocation::GroupCommit>(1, [this](const auto& batch, auto& results) {
      for (size_t i = 0; i < batch.size(); ++i) results[i] = Write(batch[i].record);
      return absl::OkStatus();
    });
  }
  ~RaceLosingStore() override { StopGroupCommit(); }
  void LoseNextTo(MakeWinner make_winner) {
    absl::MutexLock lock(&mu_);
    make_winner_ = std::move(make_winner);
  }
  void RefuseNext(absl::Status status) {
    absl::MutexLock lock(&mu_);
    refuse_next_ = std::move(status);
  }
  absl::StatusOr<equivocation::Verdict> Classify(const Slot& slot, const equivocation::Candidate& c) override {
    return inner_->Classify(slot, c);
  }
  absl::Status ForEachSince(absl::Time since, const std::function<void(const equivocation::Record&)>& fn) override {
    return inner_->ForEachSince(since, fn);
  }
  absl::StatusOr<std::vector<equivocation::Record>> RecordsFor(const equivocation::SlotKey& key) override {
    return inner_->RecordsFor(key);
  }
  absl::Status Ping() override { return inner_->Ping(); }

 private:
  absl::Status Write(const equivocation::Record& record) {
    MakeWinner make_winner;
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      make_winner.swap(make_winner_);
      std::swap(refused, refuse_next_);
    }
    if (!refused.ok()) return refused;
    if (!make_winner) return inner_->RecordSync(record);
    if (absl::Status s = inner_->RecordSync(make_winner(record)); !s.ok()) return s;
    return absl::AbortedError("recorded meanwhile by another signer");
  }
  std::unique_ptr<equivocation::Store> inner_;
  absl::Mutex mu_;
  MakeWinner make_winner_ ABSL_GUARDED_BY(mu_);
  absl::Status refuse_next_ ABSL_GUARDED_BY(mu_);
};

// Another payload for the same slot, as the other replica signed it.
equivocation::Record Other(equivocation::Record r, uint8_t tag) {
  r.signing_hash = chain::Keccak256(absl::StrCat(r.signing_hash.Hex(), tag));
  r.tx_hash = chain::Keccak256(absl::StrCat(r.tx_hash.Hex(), tag));
  r.raw = {0x02, tag};
  return r;
}

TEST_F(EngineTest, ARecordThatLostARaceToAnotherReplicaIsClassifiedAgain) {
  engine_.reset();
  auto* racing = new RaceLosingStore(std::move(store_));
  store_.reset(racing);
  engine_ = std::make_unique<Engine>(
      EngineDeps{keys_.get(), holder_.get(), usage_.get(), store_.get(), audit_.get(), &metrics_});
  const chain::Address from = *chain::Address::Parse(kFrom);
  v1::SignedTransaction out;
  // The other replica signed a different payload for nonce 1: refused, nothing charged.
  racing->LoseNextTo([](equivocation::Record mine) {
    mine.data.push_back(0);
    return Other(std::move(mine), 1);
  });
  absl::Status s = Sign(fixtures::AddComposeHashRequest(1), &out);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(usage_->Committed24h(from).IsZero()) << "the budget charge was refunded";
  // The same payload for nonce 2: the winner's bytes come back as a repeat.
  racing->LoseNextTo([](equivocation::Record mine) {
    equivocation::Record winner = Other(mine, 2);
    winner.signing_hash = mine.signing_hash;
    return winner;
  });
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(2), &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(out.raw_transaction(), "0x0202");
  // A bump that lost to a smaller bump of version 2: still 10% above it, so it becomes version 3.
  v1::SignedTransaction first;
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(3), &first).ok());
  equivocation::Record smaller;
  racing->LoseNextTo([&](equivocation::Record mine) {
    smaller = Other(mine, 3);
    smaller.max_fee_per_gas = chain::U256(2200000000);
    smaller.max_priority_fee_per_gas = chain::U256(1100000);
    return smaller;
  });
  v1::SignAddComposeHashRequest bump = fixtures::AddComposeHashRequest(3);
  bump.set_max_fee_per_gas_wei("3000000000");
  bump.set_max_priority_fee_per_gas_wei("2000000");
  ASSERT_TRUE(Sign(bump, &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FEE_BUMP);
  EXPECT_EQ(out.replaced_transaction_hash(), smaller.tx_hash.Hex());
  absl::StatusOr<std::vector<equivocation::Record>> rows = store_->RecordsFor({31337, from, 3});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ(rows->back().slot_version, 3u);
  EXPECT_EQ(rows->back().tx_hash.Hex(), out.transaction_hash());
  // The shared record refuses a signature over the key's global budget: refused, refunded.
  const chain::U256 before = usage_->Committed24h(from);
  racing->RefuseNext(absl::ResourceExhaustedError("fee budget exhausted across all signers"));
  s = Sign(fixtures::AddComposeHashRequest(4), &out);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(usage_->Committed24h(from), before);
  EXPECT_TRUE(store_->RecordsFor({31337, from, 4})->empty());
  // A refusal by the global value budget names that budget.
  absl::Status value_refusal = absl::ResourceExhaustedError("value budget exhausted across all signers");
  value_refusal.SetPayload(equivocation::kBudgetPayload, absl::Cord("value_budget_24h_wei"));
  racing->RefuseNext(value_refusal);
  EXPECT_TRUE(absl::IsResourceExhausted(Sign(fixtures::AddComposeHashRequest(4), &out)));
  audit_.reset();
  std::stringstream audit;
  audit << std::ifstream(dir_ + "/audit.jsonl").rdbuf();
  EXPECT_THAT(audit.str(), HasSubstr("\"rule\":\"default_key_limits.fee_budget_24h_wei\""));
  EXPECT_THAT(audit.str(), HasSubstr("\"rule\":\"default_key_limits.value_budget_24h_wei\""));
}

TEST_F(EngineTest, ErrorsNameTheFieldOrRule) {
  v1::SignedTransaction out;
  struct Case {
    std::function<void(v1::SignAddComposeHashRequest&)> edit;
    absl::StatusCode code;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_chain_id(0); }, absl::StatusCode::kInvalidArgument, "chain_id"},
      {[](auto& r) { r.set_from_address("0x123"); }, absl::StatusCode::kInvalidArgument, "from_address"},
      {[](auto& r) { r.set_from_address("0xF39fd6e51aad88f6f4ce6ab8827279cfffb92266"); },  // bad EIP-55
       absl::StatusCode::kInvalidArgument, "from_address"},
      {[](auto& r) { r.set_app_contract_address(""); }, absl::StatusCode::kInvalidArgument, "app_contract_address"},
      {[](auto& r) { r.set_gas_limit(0); }, absl::StatusCode::kInvalidArgument, "gas_limit"},
      {[](auto& r) { r.set_max_fee_per_gas_wei("1e9"); }, absl::StatusCode::kInvalidArgument, "max_fee_per_gas_wei"},
      {[](auto& r) { r.set_max_fee_per_gas_wei("0100"); }, absl::StatusCode::kInvalidArgument, "max_fee_per_gas_wei"},
      {[](auto& r) { r.set_max_priority_fee_per_gas_wei("3000000000"); }, absl::StatusCode::kInvalidArgument,
       "max_priority_fee_per_gas_wei"},
      {[](auto& r) { r.set_compose_hash(std::string(64, '0')); }, absl::StatusCode::kInvalidArgument, "compose_hash"},
      {[](auto& r) { r.set_compose_hash("0x12"); }, absl::StatusCode::kInvalidArgument, "compose_hash"},
      {[](auto& r) { r.set_request_id("bad id!"); }, absl::StatusCode::kInvalidArgument, "request_id"},
      {[](auto& r) { r.set_from_address("0x1111111111111111111111111111111111111111"); }, absl::StatusCode::kNotFound,
       "0x1111111111111111111111111111111111111111"},
      {[](auto& r) { r.set_chain_id(1); }, absl::StatusCode::kPermissionDenied, "rule chains"},
      {[](auto& r) { r.set_app_contract_address("0x3333333333333333333333333333333333333333"); },
       absl::StatusCode::kPermissionDenied, "chains[chain_id=31337].app_contract_addresses"},
      {[](auto& r) { r.set_max_fee_per_gas_wei("100000000001"); }, absl::StatusCode::kPermissionDenied,
       "chains[chain_id=31337].max_fee_per_gas_wei"},
      {[](auto& r) { r.set_gas_limit(2000001); }, absl::StatusCode::kPermissionDenied,
       "chains[chain_id=31337].max_gas_limit"},
  };
  uint64_t nonce = 100;
  for (const Case& c : cases) {
    v1::SignAddComposeHashRequest r = fixtures::AddComposeHashRequest(nonce++);
    c.edit(r);
    absl::Status s = Sign(r, &out);
    EXPECT_EQ(s.code(), c.code) << c.needle << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.needle));
  }
  int seen = 0;
  ASSERT_TRUE(store_->ForEachSince(absl::Now() - absl::Hours(1), [&](const equivocation::Record&) { ++seen; }).ok());
  EXPECT_EQ(seen, 0) << "no refused request signed anything";
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("signer_policy_denials_total{rule=\"chains[chain_id=31337].max_gas_limit\"} 1"));
}

TEST_F(EngineTest, FeeBudgetAndRateLimit) {
  // Budget 1e15 wei; each tx costs 60000 * 2e9 = 1.2e14 -> 8 fit, the 9th does not.
  v1::SignedTransaction out;
  for (uint64_t n = 0; n < 8; ++n) ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(n), &out).ok()) << n;
  absl::Status s = Sign(fixtures::AddComposeHashRequest(8), &out);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("default_key_limits.fee_budget_24h_wei"));
  EXPECT_TRUE(Sign(fixtures::AddComposeHashRequest(3), &out).ok()) << "a repeat costs nothing";
  Restart();  // the ledger is replayed from the database
  EXPECT_TRUE(absl::IsResourceExhausted(Sign(fixtures::AddComposeHashRequest(8), &out)));
  v1::Key key;
  v1::GetKeyRequest get;
  get.set_address(kFrom);
  ASSERT_TRUE(Call([&](Done d) { engine_->GetKey(caller_, get, &key, std::move(d)); }).ok());
  EXPECT_EQ(key.fees_committed_24h_wei(), "960000000000000");
  EXPECT_EQ(key.fee_budget_24h_wei(), "1000000000000000");

  SetPolicy(std::string(kPolicy) + R"pb(keys { address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                                              limits { rate_limit { requests_per_second: 0.001 burst: 2 } } })pb");
  EXPECT_TRUE(Sign(fixtures::AddComposeHashRequest(20), &out).ok());
  EXPECT_TRUE(Sign(fixtures::AddComposeHashRequest(21), &out).ok());
  s = Sign(fixtures::AddComposeHashRequest(22), &out);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("keys[address=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266].limits.rate_limit"));
}

TEST_F(EngineTest, GenericTransactionNeedsARule) {
  v1::SignTransactionRequest r;
  r.set_chain_id(31337);
  r.set_from_address(kFrom);
  r.set_to(kApp);
  r.set_data("0xf2fde38b000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  r.set_gas_limit(50000);
  r.set_max_fee_per_gas_wei("1000000000");
  r.set_max_priority_fee_per_gas_wei("1000000000");
  v1::SignedTransaction out;
  ASSERT_TRUE(Call([&](Done d) { engine_->SignTransaction(caller_, r, &out, std::move(d)); }).ok());
  EXPECT_EQ(out.data(), r.data());
  r.set_nonce(1);
  r.set_data("0xa9059cbb");
  absl::Status s = Call([&](Done d) { engine_->SignTransaction(caller_, r, &out, std::move(d)); });
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("generic_transaction_rules"));
  r.set_data("0xzz");
  EXPECT_TRUE(absl::IsInvalidArgument(Call([&](Done d) { engine_->SignTransaction(caller_, r, &out, std::move(d)); })));
}

TEST_F(EngineTest, MessageSigningIsGated) {
  v1::SignMessageRequest r;
  r.set_from_address(kFrom);
  r.set_message("0x68656c6c6f");
  v1::SignMessageResponse out;
  ASSERT_TRUE(Call([&](Done d) { engine_->SignMessage(caller_, r, &out, std::move(d)); }).ok());
  absl::StatusOr<chain::Address> who =
      chain::RecoverPersonalMessage(*chain::FromHex("0x68656c6c6f"), *chain::FromHex(out.signature()));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->Checksummed(), kFrom);
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("signer_signatures_total{method=\"SignMessage\",nonce_use=\"message\"} 1\n"));
  SetPolicy(R"pb(message_signing { enabled: false })pb");
  absl::Status s = Call([&](Done d) { engine_->SignMessage(caller_, r, &out, std::move(d)); });
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("message_signing.enabled"));
}

// Two callers, each bound to one key: A (token:a) to kFrom for everything, B (token:b) to
// kFrom1 for compose hashes only.
constexpr char kBindings[] = R"pb(
  callers {
    name: "a"
    identities: "token:a"
    keys: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    intents: [ INTENT_ADD_COMPOSE_HASH, INTENT_SIGN_MESSAGE ]
  }
  callers {
    name: "b"
    identities: "token:b"
    keys: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    intents: INTENT_ADD_COMPOSE_HASH
  }
)pb";

TEST_F(EngineTest, ACallerBoundToOneKeyCannotUseAnother) {
  keys_ =
      *keystore::KeyStore::FromSecrets({{"anvil0", *chain::FromHex(kSecret)}, {"anvil1", *chain::FromHex(kSecret1)}});
  std::string policy = kPolicy;
  policy.erase(policy.find("  callers {"));  // only the two bindings below
  SetPolicy(policy + kBindings);
  Restart();
  const Caller a{platform::Caller::BearerToken{"a", "ipv4:127.0.0.1:1"}};
  const Caller b{platform::Caller::BearerToken{"b", "ipv4:127.0.0.1:2"}};
  const Caller stranger{platform::Caller::BearerToken{"c", "ipv4:127.0.0.1:3"}};
  auto sign = [&](const Caller& who, v1::SignAddComposeHashRequest r) {
    v1::SignedTransaction out;
    return Call([&](Done d) { engine_->SignAddComposeHash(who, r, &out, std::move(d)); });
  };
  EXPECT_TRUE(sign(a, fixtures::AddComposeHashRequest(1)).ok());
  v1::SignAddComposeHashRequest with_b = fixtures::AddComposeHashRequest(1);
  with_b.set_from_address(kFrom1);
  EXPECT_TRUE(sign(b, with_b).ok());
  // B with A's key, A with B's key, and an unbound caller: refused, naming the rule.
  absl::Status s = sign(b, fixtures::AddComposeHashRequest(2));
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("callers[name=\"b\"].keys"));
  with_b.set_nonce(2);
  s = sign(a, with_b);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("callers[name=\"a\"].keys"));
  s = sign(stranger, fixtures::AddComposeHashRequest(2));
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("no binding names the caller \"token:c\""));
  // A key the signer does not hold: the same refusal (no existence oracle).
  v1::SignAddComposeHashRequest unknown = fixtures::AddComposeHashRequest(2);
  unknown.set_from_address("0x1111111111111111111111111111111111111111");
  EXPECT_TRUE(absl::IsPermissionDenied(sign(b, unknown)));
  // B's intents: compose hashes only.
  v1::SignMessageRequest m;
  m.set_from_address(kFrom1);
  m.set_message("0x68656c6c6f");
  v1::SignMessageResponse signed_message;
  s = Call([&](Done d) { engine_->SignMessage(b, m, &signed_message, std::move(d)); });
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("callers[name=\"b\"].intents"));
  EXPECT_TRUE(store_->RecordsFor({31337, *chain::Address::Parse(kFrom), 2})->empty()) << "nothing signed";
  EXPECT_TRUE(store_->RecordsFor({31337, *chain::Address::Parse(kFrom1), 2})->empty()) << "nothing signed";
  // ListKeys / GetKey show each caller only its key; another's is NOT_FOUND like an unknown one.
  v1::ListKeysResponse list;
  ASSERT_TRUE(Call([&](Done d) { engine_->ListKeys(b, {}, &list, std::move(d)); }).ok());
  ASSERT_EQ(list.keys_size(), 1);
  EXPECT_EQ(list.keys(0).address(), kFrom1);
  list.Clear();
  ASSERT_TRUE(Call([&](Done d) { engine_->ListKeys(stranger, {}, &list, std::move(d)); }).ok());
  EXPECT_EQ(list.keys_size(), 0);
  v1::GetKeyRequest get;
  get.set_address(kFrom);
  v1::Key key;
  s = Call([&](Done d) { engine_->GetKey(b, get, &key, std::move(d)); });
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(s.message(), absl::StrCat("key ", kFrom, " is not held by this signer"));
  EXPECT_TRUE(Call([&](Done d) { engine_->GetKey(a, get, &key, std::move(d)); }).ok());
  // The refusals are audited with the rule.
  audit_.reset();
  std::stringstream audit;
  audit << std::ifstream(dir_ + "/audit.jsonl").rdbuf();
  EXPECT_THAT(audit.str(), HasSubstr(R"("rule":"callers[name=\"b\"].keys")"));
  EXPECT_THAT(audit.str(), HasSubstr(R"("rule":"callers")"));
  EXPECT_THAT(metrics_.Render(), HasSubstr(R"(signer_policy_denials_total{rule="callers[name=\"a\"].keys"} 1)"));
}

TEST_F(EngineTest, TransferOwnershipOnlyToTheNamedNewOwner) {
  std::string policy = kPolicy;
  const std::string old_rule = R"pb(selector: "0xf2fde38b")pb";
  const std::string new_rule = R"pb(function_signature: "transferOwnership(address)"
                                     arguments { index: 0 equals_any: "0x5555555555555555555555555555555555555555" })pb";
  policy.replace(policy.find(old_rule), old_rule.size(), new_rule);
  SetPolicy(policy);
  v1::SignTransactionRequest r;
  r.set_chain_id(31337);
  r.set_from_address(kFrom);
  r.set_to(kApp);
  r.set_gas_limit(50000);
  r.set_max_fee_per_gas_wei("1000000000");
  r.set_max_priority_fee_per_gas_wei("1000000000");
  const std::string owner_word = "0000000000000000000000005555555555555555555555555555555555555555";
  v1::SignedTransaction out;
  auto sign = [&](uint64_t nonce, std::string data) {
    r.set_nonce(nonce);
    r.set_data(std::move(data));
    return Call([&](Done d) { engine_->SignTransaction(caller_, r, &out, std::move(d)); });
  };
  EXPECT_TRUE(sign(0, "0xf2fde38b" + owner_word).ok());
  absl::Status s = sign(1, "0xf2fde38b000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("generic_transaction_rules[name=\"transfer-ownership\"].arguments[index=0]: "
                        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 is not an allowed value"));
  s = sign(1, "0xf2fde38b" + owner_word + "00");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("transfer-ownership\"].function_signature: calldata is 37 bytes"));
  EXPECT_TRUE(store_->RecordsFor({31337, *chain::Address::Parse(kFrom), 1})->empty()) << "nothing signed";
}

TEST_F(EngineTest, ValueBudgetOfGenericTransactionsSurvivesARestart) {
  std::string policy = kPolicy;
  const std::string limits = R"pb(default_key_limits { fee_budget_24h_wei: "1000000000000000" })pb";
  policy.replace(policy.find(limits), limits.size(),
                 R"pb(default_key_limits { fee_budget_24h_wei: "1000000000000000" value_budget_24h_wei: "1500" }
                      generic_transaction_rules {
                        name: "pay"
                        chain_id: 31337
                        to: "0x3333333333333333333333333333333333333333"
                        max_value_wei: "1000"
                      })pb");
  SetPolicy(policy);
  v1::SignTransactionRequest r;
  r.set_chain_id(31337);
  r.set_from_address(kFrom);
  r.set_to("0x3333333333333333333333333333333333333333");
  r.set_gas_limit(21000);
  r.set_max_fee_per_gas_wei("1000000000");
  r.set_max_priority_fee_per_gas_wei("1000000");
  v1::SignedTransaction out;
  auto pay = [&](uint64_t nonce, const std::string& value) {
    r.set_nonce(nonce);
    r.set_value_wei(value);
    return Call([&](Done d) { engine_->SignTransaction(caller_, r, &out, std::move(d)); });
  };
  ASSERT_TRUE(pay(0, "1000").ok());
  absl::Status s = pay(1, "600");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("default_key_limits.value_budget_24h_wei"));
  EXPECT_TRUE(store_->RecordsFor({31337, *chain::Address::Parse(kFrom), 1})->empty()) << "nothing signed";
  ASSERT_TRUE(pay(1, "500").ok()) << "exactly the budget";
  // A fee bump and a repeat add no value.
  r.set_max_fee_per_gas_wei("1100000000");
  r.set_max_priority_fee_per_gas_wei("1100000");
  ASSERT_TRUE(pay(1, "500").ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FEE_BUMP);
  ASSERT_TRUE(pay(1, "500").ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(usage_->CommittedValue24h(*chain::Address::Parse(kFrom)), chain::U256(1500));
  // Intents carry no value: still allowed.
  EXPECT_TRUE(Sign(fixtures::AddComposeHashRequest(5), &out).ok());
  Restart();  // replayed from the record
  EXPECT_EQ(usage_->CommittedValue24h(*chain::Address::Parse(kFrom)), chain::U256(1500));
  s = pay(2, "1");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  audit_.reset();
  std::stringstream audit;
  audit << std::ifstream(dir_ + "/audit.jsonl").rdbuf();
  EXPECT_THAT(audit.str(), HasSubstr("\"rule\":\"default_key_limits.value_budget_24h_wei\""));
}

// Fail closed: a signature recorded durably whose audit record cannot be written (here EFBIG
// under RLIMIT_FSIZE, as ENOSPC on a full disk) is not released. Its audit record waits for the
// group commit's one write (engine.h), and that write's failure is the request's answer.
TEST_F(EngineTest, ARecordedSignatureWhoseAuditWriteFailsIsWithheld) {
  {  // an audit log larger than the record's files, so that the limit below stops only it
    boost::json::object pad;
    pad["padding"] = std::string(1 << 20, 'p');
    ASSERT_TRUE(audit_->Append(pad).ok());
  }
  const off_t audit_size = static_cast<off_t>(std::filesystem::file_size(dir_ + "/audit.jsonl"));
  ASSERT_LT(static_cast<off_t>(std::filesystem::file_size(dir_ + "/ae.sqlite")), audit_size);
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &limit), 0);
  const rlimit saved = limit;
  limit.rlim_cur = static_cast<rlim_t>(audit_size) + 64;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  v1::SignedTransaction out;
  const absl::Status s = Sign(fixtures::AddComposeHashRequest(3), &out);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ::signal(SIGXFSZ, SIG_DFL);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("audit log cannot be written"));
  EXPECT_EQ(audit_->seq(), 1u);  // only the padding
  // The record was durable before the audit write: the same request is now a repeat, audited.
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(3), &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(audit_->seq(), 2u);
}

// A signature whose self-check fails (here a bit of the loaded secret flipped, as a memory fault
// would) is withheld: INTERNAL with the reason, audited as an error, counted, nothing recorded,
// so the nonce is still unsigned once the key is sound again.
TEST_F(EngineTest, ASignatureThatFailsItsSelfCheckIsWithheldAndNothingIsRecorded) {
  const chain::Address from = *chain::Address::Parse(kFrom);
  keystore::KeyStoreTestPeer::FlipSecretBit(*keys_, from, 77);
  v1::SignedTransaction out;
  const absl::Status s = Sign(fixtures::AddComposeHashRequest(3), &out);
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_EQ(s.message(), "signing failed: signature self-check failed: the key in memory is not the key loaded");
  EXPECT_TRUE(out.raw_transaction().empty());
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("signer_requests_total{method=\"SignAddComposeHash\",outcome=\"internal\"} 1\n"));
  keystore::KeyStoreTestPeer::FlipSecretBit(*keys_, from, 77);
  ASSERT_TRUE(Sign(fixtures::AddComposeHashRequest(3), &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FIRST) << "the withheld signature left no record";
  std::ifstream in(dir_ + "/audit.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(R"("decision":"error")"));
  EXPECT_THAT(lines[0], HasSubstr("the key in memory is not the key loaded"));
  EXPECT_THAT(lines[1], HasSubstr(R"("decision":"allow")"));
}

TEST_F(EngineTest, ListKeys) {
  v1::ListKeysResponse resp;
  ASSERT_TRUE(Call([&](Done d) { engine_->ListKeys(caller_, {}, &resp, std::move(d)); }).ok());
  ASSERT_EQ(resp.keys_size(), 1);
  EXPECT_EQ(resp.keys(0).address(), kFrom);
  EXPECT_EQ(resp.keys(0).label(), "anvil0");
}

// only_if_signed: the policy still decides first; a nonce never signed is NOT_FOUND, counted as
// the method's not_found (not as an equivocation refusal), audited as a denial, and nothing is
// recorded; below the pruned watermark the record cannot tell, so the usual conflict.
TEST_F(EngineTest, OnlyIfSignedIsDecidedAfterThePolicyAndCountedAsNotFound) {
  v1::SignDeployAndRegisterAppRequest r = DeployRequest(4);
  r.set_only_if_signed(true);
  v1::SignedTransaction out;
  v1::SignDeployAndRegisterAppRequest other_factory = r;
  other_factory.set_kms_contract_address(kApp);
  EXPECT_TRUE(absl::IsPermissionDenied(SignDeploy(other_factory, &out)));
  const absl::Status refused = SignDeploy(r, &out);
  EXPECT_TRUE(absl::IsNotFound(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("only_if_signed"));
  absl::StatusOr<std::vector<equivocation::Record>> rows =
      store_->RecordsFor({31337, *chain::Address::Parse(kFrom), 4});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->empty());
  auto* admin = dynamic_cast<equivocation::SqliteStore*>(store_.get());
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Prune(31337, *chain::Address::Parse(kFrom), 4, absl::ZeroDuration()).ok());
  r.set_nonce(2);
  EXPECT_TRUE(absl::IsFailedPrecondition(SignDeploy(r, &out))) << "pruned: not known whether it was signed";
  const std::string m = metrics_.Render();
  EXPECT_THAT(m, HasSubstr("signer_requests_total{method=\"SignDeployAndRegisterApp\",outcome=\"not_found\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("signer_equivocation_refusals_total{method=\"SignDeployAndRegisterApp\"} 1\n"))
      << "only the pruned nonce's conflict";
  std::ifstream in(dir_ + "/audit.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u) << "one audit record per request";
  EXPECT_THAT(lines[1], HasSubstr(R"("nonce_use":"not_signed_before")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("decision":"deny")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("rule":"only_if_signed")"));
}

// A flood of calls refused before authentication (issue #12): the metrics count every one, the
// audit log gets a bounded number of records plus a summary carrying the count.
TEST_F(EngineTest, RefusedCallsAreRateLimitedInTheAuditLogButAllCounted) {
  const absl::Status refused = absl::UnauthenticatedError("no allowed client certificate or bearer token");
  for (int i = 0; i < 500; ++i)
    engine_->RecordRefusedCall(absl::StrCat("ipv4:192.0.2.9:", 30000 + i), "ListKeys", refused);
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("signer_requests_total{method=\"ListKeys\",outcome=\"unauthenticated\"} 500"));
  const uint64_t records = audit_->seq();
  EXPECT_GE(records, 5u);
  EXPECT_LE(records, 7u) << "a burst of 5, then 1/s";
  Restart();  // the engine's end writes the summary
  std::ifstream in(dir_ + "/audit.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), records + 1);
  EXPECT_THAT(lines[0], HasSubstr("\"caller\":{\"peer\":\"ipv4:192.0.2.9:30000\"}"));
  EXPECT_THAT(lines.back(), HasSubstr(absl::StrCat("\"message\":\"", 500 - records,
                                                   " refusals from ipv4:192.0.2.9 suppressed in the last 1 s\"")));
  EXPECT_TRUE(audit::VerifyAuditLog(dir_ + "/audit.jsonl").ok);
}

}  // namespace
}  // namespace signer::engine
