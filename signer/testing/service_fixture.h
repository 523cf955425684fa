// The fixture of the signer's gRPC edge tests: the real engine, record (SQLite unless a fixture
// overrides OpenStore) and audit log behind a real transport on a Unix socket, with anvil's keys
// #0 and #1; TearDown verifies the audit log and counts its records.
#ifndef ONCHAIN_KMS_SIGNER_TESTING_SERVICE_FIXTURE_H_
#define ONCHAIN_KMS_SIGNER_TESTING_SERVICE_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "platform/testing/server_process.h"
#include "platform/transport/transport.h"
#include "signer/audit/audit_log.h"
#include "signer/engine/engine.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/keystore/key_store.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"
#include "signer/signer_service.h"
#include "signer/testing/anvil_fixtures.h"

namespace signer::fixtures {

class SignerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    keys_ =
        *keystore::KeyStore::FromSecrets({{"anvil0", *chain::FromHex(kSecret)}, {"anvil1", *chain::FromHex(kSecret1)}});
    onchainkms::signer::v1::Policy p;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(chains {
               chain_id: 31337
               app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
               max_fee_per_gas_wei: "100000000000"
               max_priority_fee_per_gas_wei: "10000000000"
               max_gas_limit: 2000000
             })pb",
        &p));
    if (!callers_.empty()) {
      ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(callers_, &p));
    }
    if (!more_policy_.empty()) {
      ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(more_policy_, &p));
    }
    policy_ = std::make_unique<policy::PolicyHolder>(*policy::CompiledPolicy::Compile(p));
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
    audit_ = *audit::AuditLog::Open(dir_ + "/audit.jsonl", absl::ZeroDuration());
    engine_ = std::make_unique<engine::Engine>(
        engine::EngineDeps{keys_.get(), policy_.get(), &usage_, store_.get(), audit_.get(), nullptr});
    platform::TransportOptions options;
    options.listen.address = "unix:" + socket_dir_.path() + "/signer.sock";
    options.restrict_unix_peers = true;
    transport_ = *platform::Transport::Create(options);
    service_ = std::make_unique<SignerService>(engine_.get(), *transport_);
    ASSERT_TRUE(transport_->Serve({{onchainkms::signer::v1::Signer::service_full_name(), service_.get()}}).ok());
    stub_ = onchainkms::signer::v1::Signer::NewStub(
        grpc::CreateChannel(transport_->address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    transport_->Shutdown(absl::Seconds(5));
    audit_.reset();
    audit::VerifyResult v = audit::VerifyAuditLog(dir_ + "/audit.jsonl");
    EXPECT_TRUE(v.ok) << v.message;
    EXPECT_EQ(v.records, expected_audit_records_) << "one audit record per request";
  }

  // SignBatchRequest items.
  static onchainkms::signer::v1::SignBatchItem ComposeItem(onchainkms::signer::v1::SignAddComposeHashRequest r) {
    onchainkms::signer::v1::SignBatchItem item;
    *item.mutable_add_compose_hash() = std::move(r);
    return item;
  }
  grpc::Status Batch(const std::vector<onchainkms::signer::v1::SignBatchItem>& items,
                     onchainkms::signer::v1::SignBatchResponse* out, bool stop_sender_at_refusal = false) {
    onchainkms::signer::v1::SignBatchRequest request;
    request.set_stop_sender_at_refusal(stop_sender_at_refusal);
    for (const onchainkms::signer::v1::SignBatchItem& item : items) *request.add_items() = item;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->SignBatch(&ctx, request, out);
  }

  // A record of another transaction of `from` at `nonce` (another request's, or another
  // replica's), charging `charge` to the key's 24 h fee budget.
  static equivocation::Record OtherRecord(const char* from, uint64_t nonce, uint64_t charge = 0) {
    equivocation::Record r;
    r.key = {31337, *chain::Address::Parse(from), nonce};
    r.signing_hash = chain::Keccak256(absl::StrCat("another transaction at ", nonce));
    r.to = *chain::Address::Parse(kApp);
    r.gas_limit = 60000;
    r.raw = {0x02};
    r.tx_hash = chain::Keccak256(r.signing_hash.Hex());
    r.budget_charge = chain::U256(charge);
    r.signed_at = absl::Now();
    return r;
  }

  // One SignAddComposeHash call; each is audited once.
  grpc::Status Compose(const onchainkms::signer::v1::SignAddComposeHashRequest& r,
                       onchainkms::signer::v1::SignedTransaction* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    ++expected_audit_records_;
    return stub_->SignAddComposeHash(&ctx, r, out);
  }
  static onchainkms::signer::v1::SignAddComposeHashRequest OnlyIfSigned(
      onchainkms::signer::v1::SignAddComposeHashRequest r) {
    r.set_only_if_signed(true);
    return r;
  }

  size_t RecordsAt(const char* from, uint64_t nonce) {
    absl::StatusOr<std::vector<equivocation::Record>> rows =
        store_->RecordsFor({31337, *chain::Address::Parse(from), nonce});
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->size() : 0;
  }

  // only_if_signed at a nonce never signed: NOT_FOUND naming the field and the nonce; nothing
  // recorded or charged, and a different transaction is then the nonce's first signature.
  void ExpectNotSignedBeforeLeavesTheNonceFree(uint64_t nonce) {
    onchainkms::signer::v1::SignedTransaction out;
    const grpc::Status refused = Compose(OnlyIfSigned(fixtures::AddComposeHashRequest(nonce)), &out);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND) << refused.error_message();
    EXPECT_EQ(
        refused.error_message(),
        absl::StrCat("not signed before: only_if_signed and no transaction signed for this request at nonce ", nonce));
    EXPECT_TRUE(out.raw_transaction().empty());
    EXPECT_EQ(RecordsAt(fixtures::kFrom, nonce), 0u);
    EXPECT_EQ(usage_.Committed24h(*chain::Address::Parse(fixtures::kFrom)), chain::U256()) << "nothing charged";
    onchainkms::signer::v1::SignAddComposeHashRequest other = fixtures::AddComposeHashRequest(nonce);
    other.set_compose_hash(std::string(64, 'b'));
    const grpc::Status signed_after = Compose(other, &out);
    ASSERT_TRUE(signed_after.ok()) << signed_after.error_message();
    EXPECT_EQ(out.nonce_use(), onchainkms::signer::v1::NONCE_USE_FIRST);
    std::ifstream audit(dir_ + "/audit.jsonl");
    const std::string audited((std::istreambuf_iterator<char>(audit)), {});
    EXPECT_NE(audited.find(R"("only_if_signed":true)"), std::string::npos) << audited;
    EXPECT_NE(audited.find(R"("decision":"deny")"), std::string::npos) << audited;
    EXPECT_NE(audited.find(R"("rule":"only_if_signed")"), std::string::npos) << audited;
  }

  // The record; SQLite in the test's directory unless a fixture says otherwise.
  virtual std::unique_ptr<equivocation::Store> OpenStore() {
    absl::StatusOr<std::unique_ptr<equivocation::SqliteStore>> store =
        equivocation::SqliteStore::Open(dir_ + "/ae.sqlite");
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string callers_;      // text of Policy.callers a test sets before SetUp (empty: no bindings)
  std::string more_policy_;  // more Policy text a fixture sets before SetUp (limits, message_signing)
  std::string dir_;
  platform::testing::ShortTempDir socket_dir_;
  std::unique_ptr<keystore::KeyStore> keys_;
  std::unique_ptr<policy::PolicyHolder> policy_;
  policy::UsageTracker usage_;
  std::unique_ptr<equivocation::Store> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<platform::Transport> transport_;
  std::unique_ptr<SignerService> service_;
  std::unique_ptr<onchainkms::signer::v1::Signer::Stub> stub_;
  uint64_t expected_audit_records_ = 0;
};

}  // namespace signer::fixtures

#endif  // ONCHAIN_KMS_SIGNER_TESTING_SERVICE_FIXTURE_H_
