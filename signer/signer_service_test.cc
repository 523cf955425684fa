// The signer's gRPC edge with the real engine, record and audit log on a Unix socket: requests
// that wait for another request's nonce must not hold gRPC's callback threads.
#include "signer/signer_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "platform/testing/server_process.h"
#include "platform/transport/transport.h"
#include "signer/audit/audit_log.h"
#include "signer/engine/engine.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/keystore/key_store.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"
#include "signer/testing/anvil_fixtures.h"

namespace signer {
namespace {

namespace v1 = onchainkms::signer::v1;

class SignerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    keys_ = *keystore::KeyStore::FromSecrets({{"anvil0", *chain::FromHex(fixtures::kSecret)}});
    v1::Policy p;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(chains {
               chain_id: 31337
               app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
               max_fee_per_gas_wei: "100000000000"
               max_priority_fee_per_gas_wei: "10000000000"
               max_gas_limit: 2000000
             })pb",
        &p));
    policy_ = std::make_unique<policy::PolicyHolder>(*policy::CompiledPolicy::Compile(p));
    store_ = *equivocation::SqliteStore::Open(dir_ + "/ae.sqlite");
    audit_ = *audit::AuditLog::Open(dir_ + "/audit.jsonl", absl::ZeroDuration());
    engine_ = std::make_unique<engine::Engine>(
        engine::EngineDeps{keys_.get(), policy_.get(), &usage_, store_.get(), audit_.get(), nullptr});
    platform::TransportOptions options;
    options.listen.address = "unix:" + socket_dir_.path() + "/signer.sock";
    options.restrict_unix_peers = true;
    transport_ = *platform::Transport::Create(options);
    service_ = std::make_unique<SignerService>(engine_.get(), *transport_);
    ASSERT_TRUE(transport_->Serve({{v1::Signer::service_full_name(), service_.get()}}).ok());
    stub_ = v1::Signer::NewStub(grpc::CreateChannel(transport_->address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    transport_->Shutdown(absl::Seconds(5));
    audit_.reset();
    audit::VerifyResult v = audit::VerifyAuditLog(dir_ + "/audit.jsonl");
    EXPECT_TRUE(v.ok) << v.message;
    EXPECT_EQ(v.records, expected_audit_records_) << "one audit record per request";
  }

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
  std::unique_ptr<v1::Signer::Stub> stub_;
  uint64_t expected_audit_records_ = 0;
};

// One async SignAddComposeHash call and its outcome.
struct Pending {
  grpc::ClientContext ctx;
  v1::SignAddComposeHashRequest request;
  v1::SignedTransaction response;
  grpc::Status status;
  absl::Notification done;
};

TEST_F(SignerServiceTest, RequestsWaitingForANonceDoNotHoldGrpcThreads) {
  constexpr int kWaiters = 48;  // far more than gRPC's callback threads on a small machine
  const equivocation::SlotKey busy{31337, *chain::Address::Parse(fixtures::kFrom), 7};
  auto slot = std::make_unique<std::shared_ptr<equivocation::Store::Slot>>(store_->Acquire(busy));
  std::vector<std::unique_ptr<Pending>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    auto p = std::make_unique<Pending>();
    p->request = fixtures::AddComposeHashRequest(7);
    p->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    Pending* raw = p.get();
    stub_->async()->SignAddComposeHash(&p->ctx, &p->request, &p->response, [raw](grpc::Status s) {
      raw->status = std::move(s);
      raw->done.Notify();
    });
    waiters.push_back(std::move(p));
  }
  absl::SleepFor(absl::Milliseconds(500));  // let them all reach the engine and wait for the slot

  // Unrelated requests (another nonce, and a read) are served while the nonce-7 requests wait.
  const absl::Time start = absl::Now();
  grpc::ClientContext other_ctx;
  other_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::SignedTransaction other;
  const grpc::Status other_status = stub_->SignAddComposeHash(&other_ctx, fixtures::AddComposeHashRequest(8), &other);
  EXPECT_TRUE(other_status.ok()) << other_status.error_code() << " " << other_status.error_message() << " after "
                                 << absl::Now() - start;
  EXPECT_EQ(other.nonce_use(), v1::NONCE_USE_FIRST);
  grpc::ClientContext list_ctx;
  list_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ListKeysResponse keys;
  EXPECT_TRUE(stub_->ListKeys(&list_ctx, {}, &keys).ok());
  for (const auto& p : waiters) EXPECT_FALSE(p->done.HasBeenNotified()) << "still waiting for the slot";

  slot.reset();  // release nonce 7: the waiters go one after the other
  int first = 0, repeats = 0;
  std::string tx_hash;
  for (const auto& p : waiters) {
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    ASSERT_TRUE(p->status.ok()) << p->status.error_message();
    if (tx_hash.empty()) tx_hash = p->response.transaction_hash();
    EXPECT_EQ(p->response.transaction_hash(), tx_hash) << "one transaction for the nonce";
    (p->response.nonce_use() == v1::NONCE_USE_FIRST ? first : repeats)++;
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(repeats, kWaiters - 1);
  absl::StatusOr<std::vector<equivocation::Record>> rows = store_->RecordsFor(busy);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 1u);
  expected_audit_records_ = kWaiters + 2;
}

// SignAppCall through the edge: the engine's statuses reach the client as gRPC codes with the
// field or rule named, and every call is audited.
TEST_F(SignerServiceTest, SignAppCallOverGrpc) {
  auto call = [&](const v1::SignAppCallRequest& r, v1::SignedTransaction* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    ++expected_audit_records_;
    return stub_->SignAppCall(&ctx, r, out);
  };
  v1::SignAppCallRequest add = fixtures::AppCallRequest(0);
  add.set_add_device_id(std::string(64, 'd'));
  v1::SignedTransaction out;
  grpc::Status s = call(add, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.data(), "0x2a819728" + std::string(64, 'd'));
  EXPECT_EQ(out.to(), fixtures::kApp);

  v1::SignAppCallRequest transfer = fixtures::AppCallRequest(1);
  transfer.set_transfer_ownership_to("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  s = call(transfer, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("transferOwnership(address)"), std::string::npos) << s.error_message();

  v1::SignAppCallRequest empty = fixtures::AppCallRequest(1);
  s = call(empty, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("call: required", 0), 0u) << s.error_message();
}

}  // namespace
}  // namespace signer
