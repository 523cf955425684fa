// The engine without processes or networks: the journaling signer's repair of interrupted
// signatures, and the manager (idempotency, resume after a restart, retries, cancel, input,
// watch) with a scripted flow.
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chain/onchain/local_key_signer.h"
#include "chain/onchain/tx_journal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/engine/signing.h"
#include "orchestrator/engine/status_marks.h"
#include "orchestrator/engine/step_table.h"
#include "orchestrator/journal/sqlite_journal.h"
#include "platform/status_macros.h"
#include "platform/testing/process_threads.h"
#include "platform/testing/wait_for.h"

namespace orchestrator::engine {
namespace {

using chain::onchain::SignedTx;
using chain::onchain::TxEnvelope;
using ::platform::testing::ProcessThreads;
using ::platform::testing::WaitFor;
using ::testing::HasSubstr;

constexpr char kKey[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

class TempDir {
 public:
  TempDir() {
    std::string t = absl::StrCat(::testing::TempDir(), "/engineXXXXXX");
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { (void)::system(absl::StrCat("rm -rf '", path_, "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Signs through LocalKeySigner but can lose the answer (the signature exists, the caller gets
// UNAVAILABLE), as a crash between the signer's reply and the journal write would.
class LossySigner final : public chain::onchain::TxSigner {
 public:
  explicit LossySigner(chain::onchain::TxSigner& inner) : inner_(inner) {}
  absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& e, const chain::Address& kms,
                                                    const chain::DeployAndRegisterAppParams& p) override {
    return Maybe(inner_.SignDeployAndRegisterApp(e, kms, p));
  }
  absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& e, const chain::Address& app,
                                              const chain::Hash32& h) override {
    return Maybe(inner_.SignAddComposeHash(e, app, h));
  }
  std::atomic<bool> lose_next{false};
  std::optional<SignedTx> lost;

 private:
  absl::StatusOr<SignedTx> Maybe(absl::StatusOr<SignedTx> tx) {
    if (tx.ok() && lose_next.exchange(false)) {
      lost = *tx;
      return absl::UnavailableError("reply lost");
    }
    return tx;
  }
  chain::onchain::TxSigner& inner_;
};

// The real SqliteJournal behind a fault switch, as a full disk or an I/O error (and, with
// PostgreSQL, an outage) would make it: while failing, every write returns UNAVAILABLE and
// writes nothing; reads still work (SQLite reads a full disk fine).
class FailingJournal final : public journal::Journal {
 public:
  explicit FailingJournal(std::unique_ptr<journal::SqliteJournal> inner) : inner_(std::move(inner)) {}
  // Writes fail after `ok_writes` more succeed.
  void FailWritesAfter(int ok_writes) { ok_left_ = ok_writes; }
  void Heal() { ok_left_ = -1; }
  int failed_writes() const { return failed_.load(); }
  int writes() const { return writes_.load(); }  // attempted, failed ones included

  absl::StatusOr<journal::CreateResult> Create(const journal::OperationRecord& r) override {
    RETURN_IF_ERROR(Write());
    return inner_->Create(r);
  }
  absl::StatusOr<journal::OperationRecord> Get(absl::string_view id) override { return inner_->Get(id); }
  absl::StatusOr<std::optional<journal::OperationRecord>> FindByRequestId(absl::string_view caller,
                                                                          absl::string_view request_id) override {
    return inner_->FindByRequestId(caller, request_id);
  }
  absl::StatusOr<int64_t> Update(const journal::OperationRecord& r, const journal::UpdateOptions& o = {}) override {
    RETURN_IF_ERROR(Write());
    return inner_->Update(r, o);
  }
  absl::StatusOr<std::vector<journal::OperationRecord>> List(const journal::ListQuery& q) override {
    return inner_->List(q);
  }
  absl::StatusOr<std::vector<journal::OperationRecord>> ListUnfinished() override { return inner_->ListUnfinished(); }
  absl::Status PutArtifact(absl::string_view op, absl::string_view key, absl::string_view value) override {
    RETURN_IF_ERROR(Write());
    if (op == fail_puts_of_) return absl::UnavailableError("journal: put artifact: disk I/O error");
    return inner_->PutArtifact(op, key, value);
  }
  // PutArtifact of this operation fails (its other writes work).
  void FailPutsOf(std::string op) { fail_puts_of_ = std::move(op); }
  absl::StatusOr<std::optional<std::string>> GetArtifact(absl::string_view op, absl::string_view key) override {
    return inner_->GetArtifact(op, key);
  }
  absl::StatusOr<std::map<std::string, std::string>> ListArtifacts(absl::string_view op,
                                                                   absl::string_view prefix) override {
    return inner_->ListArtifacts(op, prefix);
  }
  absl::Status Ping() override { return inner_->Ping(); }
  absl::Status RecordOwner(const journal::ResourceOwner& o) override {
    RETURN_IF_ERROR(Write());
    return inner_->RecordOwner(o);
  }
  absl::StatusOr<std::optional<journal::ResourceOwner>> FindOwner(absl::string_view kind,
                                                                  absl::string_view resource) override {
    return inner_->FindOwner(kind, resource);
  }
  absl::StatusOr<journal::AdoptResult> AdoptResource(const journal::ResourceOwner& o) override {
    RETURN_IF_ERROR(Write());
    return inner_->AdoptResource(o);
  }

 private:
  absl::Status Write() {
    ++writes_;
    int left = ok_left_.load();
    while (left > 0 && !ok_left_.compare_exchange_weak(left, left - 1)) {
    }
    if (left != 0) return absl::OkStatus();
    ++failed_;
    return absl::UnavailableError("journal: update: database or disk is full");
  }
  std::unique_ptr<journal::SqliteJournal> inner_;
  std::atomic<int> ok_left_{-1};  // -1: never fail
  std::atomic<int> failed_{0};
  std::atomic<int> writes_{0};
  std::string fail_puts_of_;
};

TxEnvelope Envelope(const chain::Address& from, uint64_t nonce, uint64_t fee) {
  TxEnvelope e;
  e.request_id = "op_1/register_compose_hash";
  e.chain_id = 31337;
  e.from = from;
  e.nonce = nonce;
  e.gas_limit = 60000;
  e.max_fee_per_gas = chain::U256(fee);
  e.max_priority_fee_per_gas = chain::U256(1);
  return e;
}

TEST(JournalingSignerTest, RepairsASignatureWhoseAnswerWasLost) {
  TempDir dir;
  auto journal = *journal::SqliteJournal::Open(dir.path() + "/j.sqlite");
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  LossySigner lossy(*local);
  JournalingSigner signer(lossy, *journal);
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  const chain::Hash32 hash = *chain::Hash32::FromHex(std::string(64, 'a'));

  lossy.lose_next = true;
  EXPECT_EQ(signer.SignAddComposeHash(Envelope(local->address(), 7, 1000), app, hash).status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(lossy.lost.has_value());
  EXPECT_EQ(local->signatures(), 1);

  // Another operation must not take a nonce of this sender until the repair.
  signer.PrepareResume("op_1", {"register_compose_hash"}, {});
  TxEnvelope other = Envelope(local->address(), 7, 2000);
  other.request_id = "op_2/register_compose_hash";
  absl::Status gated = signer.SignAddComposeHash(other, app, hash).status();
  EXPECT_EQ(gated.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(gated.message()), HasSubstr("op_1"));

  absl::StatusOr<std::optional<chain::onchain::TxJournal>> j = signer.Recover("op_1", "register_compose_hash");
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE(j->has_value());
  ASSERT_EQ((*j)->versions.size(), 1u);
  EXPECT_EQ((*j)->versions[0].raw, lossy.lost->raw) << "the very same bytes (a REPEAT)";
  EXPECT_EQ((*j)->nonce, 7u);
  EXPECT_EQ(local->refusals(), 0);
  // The repaired journal is persisted: recovering again signs nothing.
  const int signatures = local->signatures();
  ASSERT_TRUE(signer.Recover("op_1", "register_compose_hash").ok());
  EXPECT_EQ(local->signatures(), signatures);
  signer.ReleaseGates("op_1");
  EXPECT_EQ(signer.SignAddComposeHash(other, app, hash).status().code(), absl::StatusCode::kUnavailable)
      << "the signer's anti-equivocation still refuses nonce 7 for another call: retried, not failed";
}

state::FlowState JournaledState(journal::Journal& j, const std::string& id) {
  state::FlowState st;
  EXPECT_TRUE(st.ParseFromString(j.Get(id)->internal));
  return st;
}

// An operation "op_1" RUNNING its step "register_compose_hash", journaled and loaded as the
// manager would, for hooks of a JournalingSigner.
struct RunningOp {
  explicit RunningOp(journal::Journal& j) {
    v1::Operation op;
    op.set_id("op_1");
    op.set_state(v1::OPERATION_STATE_RUNNING);
    v1::Step* s = op.add_steps();
    s->set_name("register_compose_hash");
    s->set_state(v1::STEP_STATE_RUNNING);
    journal::OperationRecord rec;
    rec.id = "op_1";
    rec.caller = "uid:1";
    rec.request_id = "r1";
    rec.kind = v1::OPERATION_KIND_ADD_COMPOSE_HASH;
    FillRecord(op, state::FlowState(), rec);
    rt = std::make_unique<OpRuntime>(j.Create(rec)->record, op, state::FlowState());
    ctx = std::make_unique<OpContext>(*rt, j, deps, RunOptions{});
  }
  FlowDeps deps;
  std::unique_ptr<OpRuntime> rt;
  std::unique_ptr<OpContext> ctx;
};

// A write builds the next state in storage the runtime keeps between writes: a failed one must
// change neither the journaled view (watchers, Snapshot) nor the staged one (the flow), and a
// later write must carry nothing of it, nor of a longer earlier state.
TEST(OpContextTest, AFailedWriteChangesNeitherTheJournaledNorTheStagedView) {
  TempDir dir;
  FailingJournal journal(*journal::SqliteJournal::Open(dir.path() + "/j.sqlite"));
  RunningOp op(journal);
  auto detail = [](absl::string_view d) {
    return [d = std::string(d)](v1::Operation& o, state::FlowState& st) {
      o.mutable_steps(0)->set_detail(d);
      st.mutable_cvm()->set_id(d);
    };
  };
  ASSERT_TRUE(op.ctx->Update(detail(std::string(4000, 'x'))).ok());  // a long state first
  ASSERT_TRUE(op.ctx->Stage(detail("staged"), {}).ok());
  journal.FailWritesAfter(0);
  EXPECT_EQ(op.ctx->Update(detail("lost")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(op.ctx->Operation().steps(0).detail(), "staged") << "the flow's view keeps the staged change only";
  EXPECT_EQ(op.ctx->State().cvm().id(), "staged");
  EXPECT_EQ(op.rt->Snapshot().steps(0).detail(), std::string(4000, 'x')) << "the journaled view is unchanged";
  EXPECT_EQ(op.rt->State().cvm().id(), std::string(4000, 'x'));

  journal.Heal();
  ASSERT_TRUE(op.ctx->WriteStaged().ok());
  EXPECT_EQ(op.rt->Snapshot().steps(0).detail(), "staged");
  EXPECT_EQ(JournaledState(journal, "op_1").cvm().id(), "staged");
  v1::Operation stored;
  ASSERT_TRUE(stored.ParseFromString(journal.Get("op_1")->operation));
  EXPECT_EQ(stored.steps(0).detail(), "staged");
  EXPECT_EQ(stored.steps_size(), 1);
  // Several writes in a row reuse the storage: each journals exactly its own state.
  for (const char* d : {"a", "", "bb"}) {
    ASSERT_TRUE(op.ctx->Update(detail(d)).ok());
    ASSERT_TRUE(stored.ParseFromString(journal.Get("op_1")->operation));
    EXPECT_EQ(stored.steps(0).detail(), d);
    EXPECT_EQ(JournaledState(journal, "op_1").cvm().id(), d);
    EXPECT_EQ(op.rt->Snapshot().SerializeAsString(), stored.SerializeAsString());
  }
}

TEST(JournalingSignerTest, TheTransactionJournalRidesWithTheOperationsProgressWrite) {
  TempDir dir;
  FailingJournal journal(*journal::SqliteJournal::Open(dir.path() + "/j.sqlite"));
  RunningOp op(journal);
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  JournalingSigner signer(*local, journal);
  std::string checked_caller;
  signer.SetKeyCheck([&](absl::string_view caller, const chain::Address&, uint64_t) {
    checked_caller = std::string(caller);
    return absl::OkStatus();
  });
  signer.AttachHook("op_1", std::make_shared<SignHook>(op.ctx.get(), "register_compose_hash"));
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  const int writes_before_signing = journal.writes();
  absl::StatusOr<SignedTx> tx = signer.SignAddComposeHash(Envelope(local->address(), 7, 1000), app,
                                                          *chain::Hash32::FromHex(std::string(64, 'a')));
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(journal.writes() - writes_before_signing, 1) << "irreversible and the intent in one write";
  EXPECT_TRUE(JournaledState(journal, "op_1").irreversible());
  EXPECT_EQ(journal.ListArtifacts("op_1", "register_compose_hash/intent/")->size(), 1u);
  EXPECT_EQ(checked_caller, "uid:1") << "the running operation's caller, from its hook";
  const chain::onchain::TxJournal j = *chain::onchain::TxJournal::FromVersions({tx->raw});

  int before = journal.writes();
  ASSERT_TRUE(signer.SaveTxJournal("op_1", "register_compose_hash", j).ok());
  EXPECT_EQ(journal.writes() - before, 1) << "the progress write carries the transaction journal";
  EXPECT_EQ(**journal.GetArtifact("op_1", "register_compose_hash/tx"), j.Serialize());
  v1::Operation stored;
  ASSERT_TRUE(stored.ParseFromString(journal.Get("op_1")->operation));
  EXPECT_EQ(stored.steps(0).transaction_hash(), tx->hash.Hex());
  EXPECT_THAT(stored.steps(0).detail(), HasSubstr("transaction signed (nonce 7)"));

  // The operation no longer runs here (hook detached): the journal alone, the record unchanged.
  ASSERT_TRUE(journal.PutArtifact("op_1", "register_compose_hash/tx", "old").ok());
  const int64_t version = journal.Get("op_1")->version;
  signer.DetachHook("op_1");
  before = journal.writes();
  ASSERT_TRUE(signer.SaveTxJournal("op_1", "register_compose_hash", j).ok());
  EXPECT_EQ(journal.writes() - before, 1);
  EXPECT_EQ(**journal.GetArtifact("op_1", "register_compose_hash/tx"), j.Serialize());
  EXPECT_EQ(journal.Get("op_1")->version, version);

  // A failed write fails the save: nothing may be sent that is not journaled.
  signer.AttachHook("op_1", std::make_shared<SignHook>(op.ctx.get(), "register_compose_hash"));
  journal.FailWritesAfter(0);
  EXPECT_EQ(signer.SaveTxJournal("op_1", "register_compose_hash", j).code(), absl::StatusCode::kUnavailable);
}

// A batch whose shared intents write fails stops at the first of those intents, as at a refusal;
// a later item whose intent went with its operation's `irreversible` write is not started and its
// intent is emptied (left there, a later Load would take its nonce for the step's newest).
TEST(JournalingSignerTest, ABatchWhoseIntentsWriteFailsSignsNothingAfterIt) {
  TempDir dir;
  FailingJournal journal(*journal::SqliteJournal::Open(dir.path() + "/j.sqlite"));
  RunningOp op(journal);  // op_1, hooked: its intent rides with `irreversible`
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  JournalingSigner signer(*local, journal);
  signer.AttachHook("op_1", std::make_shared<SignHook>(op.ctx.get(), "register_compose_hash"));
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  const chain::Hash32 hash = *chain::Hash32::FromHex(std::string(64, 'e'));
  TxEnvelope first = Envelope(local->address(), 7, 1000);
  first.request_id = "op_2/register_compose_hash";  // no hook: its intent goes in the shared write
  const std::vector<chain::onchain::TxRequest> requests = {
      {first, chain::onchain::TxIntent::AddComposeHash(app, hash)},
      {Envelope(local->address(), 8, 1000), chain::onchain::TxIntent::AddComposeHash(app, hash)}};
  journal.FailPutsOf("op_2");
  std::vector<absl::StatusOr<SignedTx>> out = signer.SignBatch(requests);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kUnavailable) << out[0].status();
  EXPECT_TRUE(chain::onchain::IsNotStarted(out[1].status())) << out[1].status();
  EXPECT_EQ(local->signatures(), 0);
  EXPECT_TRUE(JournaledState(journal, "op_1").irreversible());
  absl::StatusOr<std::map<std::string, std::string>> intents =
      journal.ListArtifacts("op_1", "register_compose_hash/intent/");
  ASSERT_TRUE(intents.ok()) << intents.status();
  ASSERT_EQ(intents->size(), 1u) << "journaled with irreversible";
  EXPECT_EQ(intents->begin()->second, "") << "emptied: never sent";
}

TEST(JournalingSignerTest, RefusedIntentsAreNotRepaired) {
  TempDir dir;
  auto journal = *journal::SqliteJournal::Open(dir.path() + "/j.sqlite");
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  JournalingSigner signer(*local, *journal);
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  local->FailNext(absl::PermissionDeniedError("policy"));
  const chain::Hash32 hash = *chain::Hash32::FromHex(std::string(64, 'b'));
  EXPECT_EQ(signer.SignAddComposeHash(Envelope(local->address(), 1, 1000), app, hash).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> j = signer.Recover("op_1", "register_compose_hash");
  ASSERT_TRUE(j.ok());
  EXPECT_FALSE(j->has_value());
  EXPECT_EQ(local->signatures(), 0);
}

// Refuses every request for one nonce, as a policy would refuse one intent; signs the others
// through LocalKeySigner. Its batches are the default: one by one, stopping at a refusal.
class RefusingSigner final : public chain::onchain::TxSigner {
 public:
  RefusingSigner(chain::onchain::TxSigner& inner, uint64_t refused_nonce) : inner_(inner), refused_(refused_nonce) {}
  absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& e, const chain::Address& kms,
                                                    const chain::DeployAndRegisterAppParams& p) override {
    if (e.nonce == refused_) return absl::PermissionDeniedError("policy");
    return inner_.SignDeployAndRegisterApp(e, kms, p);
  }
  absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& e, const chain::Address& app,
                                              const chain::Hash32& h) override {
    if (e.nonce == refused_) return absl::PermissionDeniedError("policy");
    return inner_.SignAddComposeHash(e, app, h);
  }

 private:
  chain::onchain::TxSigner& inner_;
  const uint64_t refused_;
};

// addComposeHash requests of op_1, op_2 and op_3 at nonces 1, 2 and 3, one sender.
std::vector<chain::onchain::TxRequest> ThreeOperationsRequests(const chain::Address& from, const chain::Address& app,
                                                               char hash_digit) {
  std::vector<chain::onchain::TxRequest> requests;
  for (uint64_t n = 1; n <= 3; ++n) {
    TxEnvelope e = Envelope(from, n, 1000);
    e.request_id = absl::StrCat("op_", n, "/register_compose_hash");
    requests.push_back({e, chain::onchain::TxIntent::AddComposeHash(
                               app, *chain::Hash32::FromHex(std::string(63, hash_digit) + std::to_string(n)))});
  }
  return requests;
}

// A batch refused in its middle: the refused intent and those not started are emptied in the
// journal (they are renumbered, and a resume must not ask for them at their old nonces); only the
// signed one is recovered.
TEST(JournalingSignerTest, ItemsOfABatchNotStartedAfterARefusalLeaveNoIntent) {
  TempDir dir;
  auto journal = *journal::SqliteJournal::Open(dir.path() + "/j.sqlite");
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  RefusingSigner refusing(*local, /*refused_nonce=*/2);
  JournalingSigner signer(refusing, *journal);
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  const std::vector<chain::onchain::TxRequest> requests = ThreeOperationsRequests(local->address(), app, 'd');
  std::vector<absl::StatusOr<SignedTx>> out = signer.SignBatch(requests);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ok()) << out[0].status();
  EXPECT_EQ(out[1].status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(chain::onchain::IsNotStarted(out[2].status())) << out[2].status();
  EXPECT_EQ(local->signatures(), 1);
  for (const char* op : {"op_2", "op_3"}) {
    absl::StatusOr<std::map<std::string, std::string>> artifacts = journal->ListArtifacts(op, "");
    ASSERT_TRUE(artifacts.ok()) << artifacts.status();
    EXPECT_FALSE(artifacts->empty()) << op << ": its intent was journaled before the batch was sent";
    for (const auto& [key, value] : *artifacts) EXPECT_EQ(value, "") << op << " " << key;
    absl::StatusOr<std::optional<chain::onchain::TxJournal>> j = signer.Recover(op, "register_compose_hash");
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_FALSE(j->has_value()) << op;
  }
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> j = signer.Recover("op_1", "register_compose_hash");
  ASSERT_TRUE(j.ok() && j->has_value()) << j.status();
  EXPECT_EQ((*j)->versions[0].raw, out[0]->raw) << "asked again: the same bytes";
  EXPECT_EQ(local->refusals(), 0);
}

// A crash between the signer's answer to a batch and the emptying of the intents it did not start
// (here: the emptying write fails, which leaves the journal as the crash would). The repair asks
// with only_if_signed: the intent was never signed, so it is dropped, not signed late at its old
// nonce above the refused one.
TEST(JournalingSignerTest, AnIntentABatchDidNotStartIsNotSignedLateByTheRepair) {
  TempDir dir;
  FailingJournal journal(*journal::SqliteJournal::Open(dir.path() + "/j.sqlite"));
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  RefusingSigner refusing(*local, /*refused_nonce=*/2);
  JournalingSigner signer(refusing, journal);
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  const std::vector<chain::onchain::TxRequest> requests = ThreeOperationsRequests(local->address(), app, 'e');
  journal.FailWritesAfter(4);  // the 3 intents, the refused one emptied; then the not-started one fails
  std::vector<absl::StatusOr<SignedTx>> out = signer.SignBatch(requests);
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0].ok()) << out[0].status();
  EXPECT_EQ(out[1].status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(out[2].status().code(), absl::StatusCode::kUnavailable) << "not renumbered: its intent is still there";
  EXPECT_FALSE(journal.ListArtifacts("op_3", "")->begin()->second.empty());
  // While the journal still fails, the repair cannot empty the intent: it fails (the step retries)
  // rather than let the step sign afresh with the old intent still there.
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> failed = signer.Recover("op_3", "register_compose_hash");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  journal.Heal();

  signer.PrepareResume("op_3", {"register_compose_hash"}, {});
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> j = signer.Recover("op_3", "register_compose_hash");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_FALSE(j->has_value()) << "nothing was signed for op_3";
  EXPECT_EQ(local->signatures(), 1) << "nonce 3 was not signed late";
  absl::StatusOr<std::map<std::string, std::string>> intents = journal.ListArtifacts("op_3", "");
  ASSERT_TRUE(intents.ok() && !intents->empty()) << intents.status();
  for (const auto& [key, value] : *intents) EXPECT_EQ(value, "") << key;
  signer.ReleaseGates("op_3");
  // What the repair of a lost answer gets is still the REPEAT.
  j = signer.Recover("op_1", "register_compose_hash");
  ASSERT_TRUE(j.ok() && j->has_value()) << j.status();
  EXPECT_EQ((*j)->versions[0].raw, out[0]->raw);
  EXPECT_EQ(local->signatures(), 2) << "op_1's REPEAT";
}

// The access policy's key check runs before anything is journaled or reaches the signer, with
// the caller that submitted the operation.
TEST(JournalingSignerTest, AKeyTheCallerMayNotUseIsRefusedBeforeAnythingIsSigned) {
  TempDir dir;
  auto journal = *journal::SqliteJournal::Open(dir.path() + "/j.sqlite");
  journal::OperationRecord rec;
  rec.id = "op_1";
  rec.caller = "token:b";
  rec.request_id = "r1";
  rec.kind = 1;
  rec.state = 2;
  ASSERT_TRUE(journal->Create(rec).ok());
  auto local = *chain::onchain::LocalKeySigner::FromHex(kKey);
  JournalingSigner signer(*local, *journal);
  std::vector<std::string> asked;
  signer.SetKeyCheck([&](absl::string_view caller, const chain::Address& key, uint64_t chain_id) {
    asked.push_back(absl::StrCat(caller, " ", key.Hex(), " ", chain_id));
    return absl::PermissionDeniedError("signer key not granted to tenant b (access.tenants[1].signer_keys)");
  });
  const chain::Address app = *chain::Address::Parse("0x1111111111111111111111111111111111111111");
  const chain::Hash32 hash = *chain::Hash32::FromHex(std::string(64, 'c'));
  absl::Status s = signer.SignAddComposeHash(Envelope(local->address(), 1, 1000), app, hash).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("access.tenants[1].signer_keys"));
  EXPECT_EQ(asked, (std::vector<std::string>{absl::StrCat("token:b ", local->address().Hex(), " 31337")}));
  EXPECT_EQ(local->signatures(), 0);
  EXPECT_TRUE(journal->ListArtifacts("op_1", "")->empty()) << "no intent journaled";
  signer.SetKeyCheck([](absl::string_view, const chain::Address&, uint64_t) { return absl::OkStatus(); });
  EXPECT_TRUE(signer.SignAddComposeHash(Envelope(local->address(), 1, 1000), app, hash).ok());
  EXPECT_EQ(local->signatures(), 1);
}

// ---------------------------------------------------------------------------------------------

// A flow of two steps whose behaviour the test scripts.
struct Script {
  absl::Mutex mu;
  int transient_failures_b = 0;  // step "b" fails UNAVAILABLE this many times
  bool b_irreversible = false;
  bool need_env = false;                 // step "b" encrypts env values (waits for them when lost)
  absl::Notification* hold_a = nullptr;  // step "a" waits for this
  absl::Notification* hold_b = nullptr;  // step "b" waits for this once it has encrypted the values
  // Step "b" has an effect (BeforeEffect::kTransaction: its RUNNING is written before its body)
  // unless it only reads (kNothing); with `hold_b_start` it waits for that first.
  bool b_reads_only = false;
  absl::Notification* hold_b_start = nullptr;
  // Step "b", having asked for input, notifies `asked` and finishes only after `finish_asking`.
  absl::Notification* asked = nullptr;
  absl::Notification* finish_asking = nullptr;
  std::atomic<int> a_runs{0};
  std::atomic<int> a_may_have_run{0};  // runs of "a" told the step may already have run
  std::atomic<int> b_runs{0};
  std::atomic<int> b_may_have_run{0};
  std::atomic<int> b_marked_irreversible{0};
};

class ScriptedFlow final : public Flow {
 public:
  explicit ScriptedFlow(Script& s) : s_(s) {}
  std::vector<std::string> InitialSteps(const state::FlowState&) const override { return {"a", "b"}; }
  absl::Status Run(OpContext& ctx) override {
    if (absl::Status st = ctx.RunStep("a",
                                      [&](StepRun& run) {
                                        ++s_.a_runs;
                                        if (run.may_have_run()) ++s_.a_may_have_run;
                                        if (s_.hold_a != nullptr) {
                                          while (!s_.hold_a->WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
                                            if (!ctx.Sleep(absl::ZeroDuration())) return absl::CancelledError("stop");
                                          }
                                        }
                                        return absl::OkStatus();
                                      });
        !st.ok()) {
      return st;
    }
    const BeforeEffect b_before = s_.b_reads_only ? BeforeEffect::kNothing : BeforeEffect::kTransaction;
    return ctx.RunStep("b", b_before, [&](StepRun& run) -> absl::Status {
      ++s_.b_runs;
      if (run.may_have_run()) ++s_.b_may_have_run;
      if (s_.hold_b_start != nullptr) {
        while (!s_.hold_b_start->WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
          if (!ctx.Sleep(absl::ZeroDuration())) return absl::CancelledError("stop");
        }
      }
      if (s_.b_irreversible) {
        RETURN_IF_ERROR(ctx.MarkIrreversible());
        ++s_.b_marked_irreversible;
      }
      {
        absl::MutexLock l(&s_.mu);
        if (s_.transient_failures_b > 0) {
          --s_.transient_failures_b;
          return absl::UnavailableError("dependency down");
        }
      }
      if (s_.need_env) {
        absl::StatusOr<std::optional<std::string>> c =
            ctx.EncryptEnvValues("a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209");
        if (!c.ok()) return c.status();
        if (!c->has_value()) {
          absl::Status waiting = ctx.WaitForInput("b", "lost");
          if (s_.asked != nullptr && !s_.asked->HasBeenNotified()) {
            s_.asked->Notify();
            s_.finish_asking->WaitForNotification();
          }
          return waiting;
        }
        ctx.ForgetEnvValues();
        if (s_.hold_b != nullptr) {
          while (!s_.hold_b->WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
            if (!ctx.Sleep(absl::ZeroDuration())) return absl::CancelledError("stop");
          }
        }
      }
      return run.Succeed([](v1::Operation& op, state::FlowState&) { op.mutable_update()->set_cvm_id("done"); });
    });
  }

 private:
  Script& s_;
};

// A step table over AddComposeHashRequest: "first" only without `app`; "maybe" skipped once
// "first" ran; "sends" declares and sends an effect, refused when compose_hash is "refuse";
// "undeclared" (only when compose_hash is "undeclared") sends one it does not declare.
std::unique_ptr<Flow> TableFlow() {
  using Req = v1::AddComposeHashRequest;
  auto succeed = [](OpContext&, StepRun& run, const Req&) { return run.Succeed(nullptr, "ran"); };
  return std::make_unique<StepTable<Req>>(
      std::vector<Step<Req>>{
          {.name = "first",
           .effect =
               [](OpContext&, StepRun& run, const Req&) {
                 return run.Succeed([](v1::Operation&, state::FlowState& st) { st.set_compose_hash_registered(true); });
               },
           .included = [](const Req& r) { return !r.has_app(); }},
          {.name = "maybe",
           .effect = succeed,
           .skip_when = [](const state::FlowState& st, const Req&) -> std::optional<std::string> {
             if (st.compose_hash_registered()) return "first ran";
             return std::nullopt;
           }},
          {.name = "sends",
           .before = BeforeEffect::kEffectSent,
           .effect = [](OpContext&, StepRun& run, const Req&) -> absl::Status {
             RETURN_IF_ERROR(run.SendingEffect());
             return run.Succeed(nullptr, "sent");
           },
           .precondition =
               [](const state::FlowState&, const Req& r) {
                 return r.compose_hash() == "refuse" ? absl::FailedPreconditionError("refused") : absl::OkStatus();
               }},
          {.name = "undeclared",
           .effect = [](OpContext&, StepRun& run, const Req&) { return run.SendingEffect(); },
           .included = [](const Req& r) { return r.compose_hash() == "undeclared"; }},
      },
      [](OpContext& ctx, const Req&) {
        return ctx.Update(
            [](v1::Operation& op, state::FlowState&) { op.mutable_add_compose_hash()->set_compose_hash("finished"); });
      });
}

// What the one step "send" of EffectFlow saw.
struct EffectProbe {
  FailingJournal* journal = nullptr;
  bool fail_after_sending = false;  // then the step's next journal write fails (the op pauses)
  std::atomic<int> runs{0};
  std::atomic<int> sent{0};
  std::atomic<int> checked{0};             // effect_may_have_happened: checked instead of sending
  std::atomic<int> writes_in_sending{-1};  // journal writes SendingEffect made
  // With a request name: the step stages an owner row of CVM "<name>" first.
  std::atomic<bool> owner_before_sending{false};  // FindOwner saw it before SendingEffect's write
  std::atomic<bool> owner_after_sending{false};
};

// One kEffectSent step "send" (DeployCvmRequest is only the table's type): checks first when the
// effect may have happened, else sends it.
std::unique_ptr<Flow> EffectFlow(EffectProbe& probe) {
  using Req = v1::DeployCvmRequest;
  return std::make_unique<StepTable<Req>>(std::vector<Step<Req>>{
      {.name = "send",
       .before = BeforeEffect::kEffectSent,
       .effect = [&probe](OpContext& ctx, StepRun& run, const Req& r) -> absl::Status {
         ++probe.runs;
         if (run.effect_may_have_happened()) {
           ++probe.checked;
           return run.Succeed(nullptr, "had taken effect");
         }
         auto owned = [&] { return probe.journal->FindOwner(journal::kResourceCvm, r.name())->has_value(); };
         if (!r.name().empty()) {
           RETURN_IF_ERROR(ctx.StageOwners({{journal::kResourceCvm, r.name(), "uid:1", "deploy:x", absl::Now()}}));
           probe.owner_before_sending = owned();
         }
         const int before = probe.journal->writes();
         RETURN_IF_ERROR(run.SendingEffect());
         probe.writes_in_sending = probe.journal->writes() - before;
         if (!r.name().empty()) probe.owner_after_sending = owned();
         ++probe.sent;
         if (probe.fail_after_sending) probe.journal->FailWritesAfter(0);
         RETURN_IF_ERROR(run.Progress("sent"));
         return run.Succeed(nullptr, "sent");
       }},
  });
}

class ManagerTest : public ::testing::Test {
 protected:
  void Open() {
    journal_ = std::make_unique<FailingJournal>(*journal::SqliteJournal::Open(dir_.path() + "/j.sqlite"));
    FlowRegistry flows;
    flows[v1::OPERATION_KIND_UPDATE_ENV_VARS] = std::make_unique<ScriptedFlow>(script_);
    flows[v1::OPERATION_KIND_ADD_COMPOSE_HASH] = TableFlow();
    effect_.journal = journal_.get();
    flows[v1::OPERATION_KIND_DEPLOY_CVM] = EffectFlow(effect_);
    ManagerOptions o = options_;
    o.run.retry_timeout = absl::Seconds(1);
    o.run.initial_backoff = absl::Milliseconds(10);
    manager_ = std::make_unique<OperationManager>(*journal_, deps_, std::move(flows), o);
    ASSERT_TRUE(manager_->Start().ok());
  }
  void Close() {
    manager_->Shutdown(absl::Seconds(5));
    manager_.reset();
    journal_.reset();
  }
  void TearDown() override {
    if (manager_ != nullptr) Close();
  }

  Submission Sub(const std::string& rid, const std::string& body, const std::string& value = "v") {
    Submission s;
    s.caller = "uid:1";
    s.request_id = rid;
    s.kind = v1::OPERATION_KIND_UPDATE_ENV_VARS;
    s.request = body;
    s.request_digest = "digest-" + body;
    s.env_keys = {"K"};
    s.needs_env_values = script_.need_env;
    s.env_values = {cloudapi::EnvVar{"K", value}};
    s.cvm_id = "cvm-1";
    return s;
  }

  Submission TableSub(const std::string& rid, bool with_app, const std::string& compose_hash) {
    v1::AddComposeHashRequest r;
    if (with_app) r.mutable_app()->set_chain_id(1);
    r.set_compose_hash(compose_hash);
    Submission s;
    s.caller = "uid:1";
    s.request_id = rid;
    s.kind = v1::OPERATION_KIND_ADD_COMPOSE_HASH;
    s.request = r.SerializeAsString();
    s.request_digest = "digest-" + rid;
    return s;
  }

  v1::Operation Wait(const std::string& id, v1::OperationState until = v1::OPERATION_STATE_UNSPECIFIED) {
    if (!WaitFor([&] {
          absl::StatusOr<v1::Operation> op = manager_->Get(id);
          return op.ok() && (IsTerminal(op->state()) || op->state() == until);
        })) {
      ADD_FAILURE() << "timeout";
    }
    return *manager_->Get(id);
  }

  // Starts the manager and submits an operation whose step "a" waits for `hold`.
  std::string SubmitHeld(absl::Notification& hold) {
    script_.hold_a = &hold;
    Open();
    absl::StatusOr<v1::Operation> a = manager_->Submit(Sub("r1", "body"));
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? a->id() : "";
  }

  // Polls until step "a" runs, i.e. it is RUNNING in the journal.
  void AwaitStepA() {
    ASSERT_TRUE(WaitFor([&] { return script_.a_runs.load() > 0; })) << "step a never started";
  }

  // Submits an operation, lets the journal take `ok_writes` more writes once its step "a" runs,
  // then fails every write until the manager reports the journal unhealthy (the writes' own
  // short retries are spent), and for longer than the steps' retry window (1 s) after that.
  std::string FailWritesWhileStepAFinishes(int ok_writes) {
    const std::string id = SubmitHeld(hold_a_);
    AwaitStepA();
    journal_->FailWritesAfter(ok_writes);
    hold_a_.Notify();
    EXPECT_TRUE(WaitFor([&] { return journal_->failed_writes() > 0 && !manager_->JournalHealth().ok(); }));
    // Nothing may happen here (no failure once the retry window is over): a lower bound, so a
    // slow machine only makes it longer, never a false failure.
    absl::SleepFor(absl::Milliseconds(1500));
    return id;
  }

  TempDir dir_;
  ManagerOptions options_{.workers = 4};
  absl::Notification hold_a_;
  Script script_;
  EffectProbe effect_;
  FlowDeps deps_;
  std::unique_ptr<FailingJournal> journal_;
  std::unique_ptr<OperationManager> manager_;
};

TEST_F(ManagerTest, IdempotentPerCallerAndRequestId) {
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(Sub("r1", "body"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(Wait(a->id()).state(), v1::OPERATION_STATE_SUCCEEDED);
  absl::StatusOr<v1::Operation> again = manager_->Submit(Sub("r1", "body"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id(), a->id());
  EXPECT_EQ(manager_->Submit(Sub("r1", "other body")).status().code(), absl::StatusCode::kAlreadyExists);
  absl::Status values = manager_->Submit(Sub("r1", "body", "other value")).status();
  EXPECT_EQ(values.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(values.message()), ::testing::Not(HasSubstr("other value")));
  EXPECT_EQ(script_.b_runs.load(), 1);
}

TEST_F(ManagerTest, WorkerThreadsStartWithTheWorkAndEndAfterItDownToTheIdleCap) {
  options_ = {.workers = 16, .idle_workers = 2, .idle_worker_timeout = absl::Milliseconds(100)};
  script_.hold_a = &hold_a_;
  const int before = ProcessThreads();
  Open();
  // Only the journal prober before any work.
  EXPECT_EQ(manager_->worker_threads(), 0);
  EXPECT_EQ(ProcessThreads(), before + 1);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<v1::Operation> op = manager_->Submit(Sub(absl::StrCat("r", i), absl::StrCat("body", i)));
    ASSERT_TRUE(op.ok()) << op.status();
    ids.push_back(op->id());
  }
  // One worker for each operation, all running at once.
  ASSERT_TRUE(WaitFor([&] { return script_.a_runs.load() == 10; })) << script_.a_runs.load();
  EXPECT_EQ(manager_->worker_threads(), 10);
  EXPECT_EQ(ProcessThreads(), before + 11);
  hold_a_.Notify();
  for (const std::string& id : ids) EXPECT_EQ(Wait(id).state(), v1::OPERATION_STATE_SUCCEEDED);
  // Idle for longer than the timeout: down to the 2 kept, and the threads really ended.
  EXPECT_TRUE(WaitFor([&] { return manager_->worker_threads() == 2 && ProcessThreads() == before + 3; }))
      << manager_->worker_threads() << " workers, " << ProcessThreads() - before << " threads";
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(manager_->worker_threads(), 2);
  // The kept ones take new work (the next Enqueue joins the ended threads); no new thread.
  absl::StatusOr<v1::Operation> more = manager_->Submit(Sub("r-more", "body-more"));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(Wait(more->id()).state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(manager_->worker_threads(), 2);
  EXPECT_EQ(ProcessThreads(), before + 3);
}

TEST_F(ManagerTest, TransientFailuresAreRetriedThenGivenUp) {
  metrics::OrchestratorMetrics metrics;
  deps_.metrics = &metrics;
  Open();
  script_.transient_failures_b = 2;  // within the 1 s retry window (backoff 10, 20 ms)
  absl::StatusOr<v1::Operation> a = manager_->Submit(Sub("r1", "body"));
  v1::Operation done = Wait(a->id());
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(done.steps(1).attempts(), 3u);
  const std::string rendered = metrics.Render();
  EXPECT_THAT(rendered, HasSubstr("orchestrator_retries_total{layer=\"step\",cause=\"connection\"} 2\n"));
  EXPECT_THAT(
      rendered,
      HasSubstr(
          "orchestrator_step_duration_seconds_count{kind=\"update_env_vars\",step=\"b\",result=\"succeeded\"} 1\n"));
  script_.transient_failures_b = 1 << 20;
  absl::StatusOr<v1::Operation> b = manager_->Submit(Sub("r2", "body"));
  done = Wait(b->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done.error().step(), "b");
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_THAT(done.error().message(), HasSubstr("gave up after"));
  EXPECT_THAT(done.error().message(), HasSubstr("dependency down"));
  // The step is timed once its failure is journaled, which may come after a waiter saw FAILED.
  EXPECT_TRUE(platform::testing::WaitFor([&] {
    return absl::StrContains(
        metrics.Render(),
        "orchestrator_step_duration_seconds_count{kind=\"update_env_vars\",step=\"b\",result=\"failed\"} 1\n");
  })) << metrics.Render();
  Close();
}

TEST_F(ManagerTest, ResumesAfterARestartAndAsksForLostEnvValues) {
  script_.need_env = true;
  absl::Notification hold;
  script_.hold_a = &hold;
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(Sub("r1", "body", "secret"));
  ASSERT_TRUE(a.ok());
  AwaitStepA();
  Close();  // "crash": step a RUNNING, values only in memory
  hold.Notify();
  Open();
  v1::Operation w = Wait(a->id(), v1::OPERATION_STATE_WAITING_FOR_INPUT);
  ASSERT_EQ(w.state(), v1::OPERATION_STATE_WAITING_FOR_INPUT);
  EXPECT_EQ(w.input_request().env_keys(0), "K");
  EXPECT_GE(w.steps(0).attempts(), 2u);
  // Wrong values or keys are refused; the right ones resume it.
  // One answer whether the keys or the values differ: a guesser learns nothing but "no".
  const absl::Status wrong_value = manager_->SupplyEnvVars(a->id(), "s1", {cloudapi::EnvVar{"K", "nope"}}).status();
  const absl::Status wrong_key = manager_->SupplyEnvVars(a->id(), "s1", {cloudapi::EnvVar{"X", "secret"}}).status();
  EXPECT_EQ(wrong_value.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong_key, wrong_value);
  ASSERT_TRUE(manager_->SupplyEnvVars(a->id(), "s1", {cloudapi::EnvVar{"K", "secret"}}).ok());
  EXPECT_EQ(Wait(a->id()).state(), v1::OPERATION_STATE_SUCCEEDED);
  // The journal never saw the value.
  absl::StatusOr<journal::OperationRecord> rec = journal_->Get(a->id());
  ASSERT_TRUE(rec.ok());
  EXPECT_THAT(rec->internal, ::testing::Not(HasSubstr("secret")));
  EXPECT_THAT(rec->operation, ::testing::Not(HasSubstr("secret")));
}

// Values supplied while the worker is still finishing the run that asked for them wake the
// operation (the wake-up used to be dropped because the operation was still queued).
TEST_F(ManagerTest, ValuesSuppliedWhileTheWorkerFinishesAskingAreNotLost) {
  script_.need_env = true;
  absl::Notification hold;
  const std::string id = SubmitHeld(hold);
  AwaitStepA();
  Close();  // "crash": the values were only in memory
  absl::Notification asked, finish_asking;
  script_.asked = &asked;
  script_.finish_asking = &finish_asking;
  hold.Notify();
  Open();
  asked.WaitForNotification();
  ASSERT_TRUE(manager_->SupplyEnvVars(id, "s1", {cloudapi::EnvVar{"K", "v"}}).ok());
  finish_asking.Notify();
  EXPECT_EQ(Wait(id).state(), v1::OPERATION_STATE_SUCCEEDED);
}

// A client that does not know whether its SupplyEnvVars took effect retries it with the same
// request id. If the values it supplied died again (a crash, or the replica that took them) and
// the operation waits for them once more, the retry must supply them, not answer as a repeat:
// that left the operation waiting forever (replicas_e2e_test: "did not finish").
TEST_F(ManagerTest, ASupplyRetriedAfterItsValuesWereLostAgainResumesTheOperation) {
  script_.need_env = true;
  absl::Notification hold_a;
  const std::string id = SubmitHeld(hold_a);
  AwaitStepA();
  Close();  // "crash": the values were only in memory
  hold_a.Notify();
  Open();
  ASSERT_EQ(Wait(id, v1::OPERATION_STATE_WAITING_FOR_INPUT).state(), v1::OPERATION_STATE_WAITING_FOR_INPUT);
  absl::Notification hold_b;
  script_.hold_b = &hold_b;
  ASSERT_TRUE(manager_->SupplyEnvVars(id, "s1", {cloudapi::EnvVar{"K", "v"}}).ok());
  ASSERT_TRUE(WaitFor([&] { return script_.b_runs.load() >= 2; }));
  Close();  // "crash" again while step b runs with the supplied values
  hold_b.Notify();
  Open();
  ASSERT_EQ(Wait(id, v1::OPERATION_STATE_WAITING_FOR_INPUT).state(), v1::OPERATION_STATE_WAITING_FOR_INPUT);
  absl::StatusOr<v1::Operation> retried = manager_->SupplyEnvVars(id, "s1", {cloudapi::EnvVar{"K", "v"}});
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(Wait(id).state(), v1::OPERATION_STATE_SUCCEEDED);
}

TEST_F(ManagerTest, CancelOnlyBeforeAnIrreversibleEffect) {
  absl::Notification hold;
  script_.hold_a = &hold;
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(Sub("r1", "body"));
  AwaitStepA();
  absl::StatusOr<v1::Operation> c = manager_->Cancel(a->id());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::OPERATION_STATE_CANCELLED);
  EXPECT_TRUE(manager_->Cancel(a->id()).ok()) << "cancelling again returns it unchanged";
  hold.Notify();
  EXPECT_EQ(Wait(a->id()).state(), v1::OPERATION_STATE_CANCELLED);
  // Its worker has left the run (it retires the operation then): only now are "b never ran" and
  // rewriting the script free of races (a sleep stood for this).
  ASSERT_TRUE(WaitFor([&] { return manager_->active_operations() == 0; }));
  EXPECT_EQ(script_.b_runs.load(), 0);
  script_.hold_a = nullptr;
  script_.b_irreversible = true;
  script_.transient_failures_b = 1 << 20;  // stays in b after marking it irreversible
  absl::StatusOr<v1::Operation> b = manager_->Submit(Sub("r2", "body"));
  ASSERT_TRUE(WaitFor([&] { return script_.b_marked_irreversible.load() > 0; }));
  EXPECT_EQ(manager_->Cancel(b->id()).status().code(), absl::StatusCode::kFailedPrecondition);
}

// The journal fails the write carrying step "a"'s result (staged, with "b" RUNNING): the
// operation is neither failed nor stranded. It pauses with "a" RUNNING in the journal, and when
// the journal works again the staged result is journaled: "a" does not run again.
TEST_F(ManagerTest, AFailedResultWritePausesTheOperationUntilTheJournalWorks) {
  const std::string id = FailWritesWhileStepAFinishes(/*ok_writes=*/0);
  v1::Operation paused = *manager_->Get(id);
  EXPECT_EQ(paused.state(), v1::OPERATION_STATE_RUNNING) << paused.DebugString();
  EXPECT_EQ(paused.steps(0).state(), v1::STEP_STATE_RUNNING);
  EXPECT_EQ(script_.b_runs.load(), 0);
  const absl::Status health = manager_->JournalHealth();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(health.message()), HasSubstr("disk is full"));

  journal_->Heal();
  const v1::Operation done = Wait(id);
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(script_.a_runs.load(), 1) << "its result, kept staged, was journaled after the outage";
  EXPECT_EQ(script_.a_may_have_run.load(), 0);
  EXPECT_EQ(script_.b_runs.load(), 1);
  EXPECT_EQ(script_.b_may_have_run.load(), 0);
  EXPECT_EQ(journal_->Get(id)->state, v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_TRUE(manager_->JournalHealth().ok());
}

// The journal fails the RUNNING write of step "b": its body never runs until that write works,
// and then it runs once, as a first attempt.
TEST_F(ManagerTest, AFailedRunningWriteNeverRunsTheStep) {
  const std::string id = FailWritesWhileStepAFinishes(/*ok_writes=*/0);  // b's RUNNING (with a's result)
  v1::Operation paused = *manager_->Get(id);
  EXPECT_EQ(paused.state(), v1::OPERATION_STATE_RUNNING) << paused.DebugString();
  EXPECT_EQ(paused.steps(0).state(), v1::STEP_STATE_RUNNING) << "its result is only staged";
  EXPECT_EQ(paused.steps(1).state(), v1::STEP_STATE_PENDING);
  EXPECT_EQ(script_.b_runs.load(), 0) << "no step body without its RUNNING write";
  EXPECT_FALSE(manager_->JournalHealth().ok());

  journal_->Heal();
  const v1::Operation done = Wait(id);
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(script_.a_runs.load(), 1);
  EXPECT_EQ(script_.b_runs.load(), 1);
  EXPECT_EQ(script_.b_may_have_run.load(), 0) << "b never ran before";
  EXPECT_EQ(done.steps(1).attempts(), 1u);
  EXPECT_TRUE(manager_->JournalHealth().ok());
}

// A step fails for good while the journal cannot record it: the operation pauses instead of
// being stranded RUNNING, and fails (journaled) once the journal works.
TEST_F(ManagerTest, AFailureThatCannotBeJournaledPausesUntilItCanBe) {
  Open();
  journal_->FailWritesAfter(2);  // Create, "maybe" RUNNING (with the start); not its result + the failure
  absl::StatusOr<v1::Operation> a = manager_->Submit(TableSub("t1", /*with_app=*/true, "refuse"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(WaitFor([&] { return !manager_->JournalHealth().ok(); }));
  EXPECT_EQ(manager_->Get(a->id())->state(), v1::OPERATION_STATE_RUNNING);

  journal_->Heal();
  const v1::Operation done = Wait(a->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().step(), "sends");
  EXPECT_EQ(done.error().message(), "refused");
  EXPECT_EQ(journal_->Get(a->id())->state, v1::OPERATION_STATE_FAILED);
  EXPECT_TRUE(manager_->JournalHealth().ok());
}

class Collector final : public WatchSink {
 public:
  void Push(const v1::OperationEvent& e) override {
    absl::MutexLock l(&mu);
    events.push_back(e);
  }
  void Close(const absl::Status& s) override {
    absl::MutexLock l(&mu);
    closed = s;
    done = true;
  }
  absl::Mutex mu;
  std::vector<v1::OperationEvent> events;
  absl::Status closed;
  bool done = false;
};

// True once the sink was closed.
template <typename Sink>
bool WaitClosed(Sink& sink) {
  return WaitFor([&] {
    absl::MutexLock l(&sink.mu);
    return sink.done;
  });
}

TEST_F(ManagerTest, WatchSeesEveryStepAndEnds) {
  absl::Notification hold;
  const std::string id = SubmitHeld(hold);
  auto sink = std::make_shared<Collector>();
  ASSERT_TRUE(manager_->Watch(id, sink).ok());
  hold.Notify();
  Wait(id);
  ASSERT_TRUE(WaitClosed(*sink));
  {
    absl::MutexLock l(&sink->mu);
    EXPECT_TRUE(sink->closed.ok());
    ASSERT_GE(sink->events.size(), 4u);
    EXPECT_EQ(sink->events.front().type(), v1::OperationEvent::TYPE_SNAPSHOT);
    EXPECT_EQ(sink->events.back().type(), v1::OperationEvent::TYPE_STATE_CHANGED);
    EXPECT_EQ(sink->events.back().operation().state(), v1::OPERATION_STATE_SUCCEEDED);
    int succeeded = 0;
    for (const auto& e : sink->events) succeeded += e.type() == v1::OperationEvent::TYPE_STEP_SUCCEEDED;
    EXPECT_EQ(succeeded, 2);
  }
  // A finished operation: a snapshot, then the end, before Watch returns.
  auto late = std::make_shared<Collector>();
  ASSERT_TRUE(manager_->Watch(id, late).ok());
  {
    absl::MutexLock l(&late->mu);
    EXPECT_EQ(late->events.size(), 1u);
    EXPECT_TRUE(late->done);
  }
  EXPECT_EQ(manager_->Watch("op_nope", late).code(), absl::StatusCode::kNotFound);
}

// An effect-free step is no write of its own: its start rides with its result on the
// operation's next write (here the terminal one), and the watchers get both, in order.
TEST_F(ManagerTest, AnEffectFreeStepsStartIsJournaledWithItsResult) {
  script_.b_reads_only = true;
  absl::Notification hold;
  const std::string id = SubmitHeld(hold);
  AwaitStepA();
  auto sink = std::make_shared<Collector>();
  ASSERT_TRUE(manager_->Watch(id, sink).ok());
  hold.Notify();
  EXPECT_EQ(Wait(id).state(), v1::OPERATION_STATE_SUCCEEDED);
  // The operation's creation, "a" RUNNING (with the operation's start), the end (a's and b's
  // results, b's start); "b" RUNNING was no write.
  EXPECT_EQ(journal_->writes(), 3);
  ASSERT_TRUE(WaitClosed(*sink));
  std::vector<std::string> seen;
  {
    absl::MutexLock l(&sink->mu);
    for (const v1::OperationEvent& e : sink->events) {
      if (!e.step().empty()) seen.push_back(absl::StrCat(v1::OperationEvent::Type_Name(e.type()), " ", e.step()));
    }
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("TYPE_STEP_SUCCEEDED a", "TYPE_STEP_STARTED b", "TYPE_STEP_SUCCEEDED b"));
  const v1::Operation done = *manager_->Get(id);
  EXPECT_EQ(done.steps(1).attempts(), 1u);
  EXPECT_TRUE(done.steps(1).has_start_time());
}

// While an effect-free step runs, the journal holds the operation as it was before it (a's
// result staged, b PENDING). A crash then loses only that: "a" resumes as may_have_run, "b"
// runs again as a first attempt.
TEST_F(ManagerTest, ACrashDuringAnEffectFreeStepRunsItAgainAsAFirstAttempt) {
  script_.b_reads_only = true;
  absl::Notification hold_b;
  script_.hold_b_start = &hold_b;
  Open();
  absl::StatusOr<v1::Operation> op = manager_->Submit(Sub("r1", "body"));
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_TRUE(WaitFor([&] { return script_.b_runs.load() > 0; }));
  EXPECT_EQ(journal_->writes(), 2) << "the creation and a's RUNNING";
  const v1::Operation journaled = *manager_->Get(op->id());
  EXPECT_EQ(journaled.state(), v1::OPERATION_STATE_RUNNING);
  EXPECT_EQ(journaled.steps(0).state(), v1::STEP_STATE_RUNNING);
  EXPECT_EQ(journaled.steps(1).state(), v1::STEP_STATE_PENDING);
  journal_->FailWritesAfter(0);  // a crash: nothing written from here on (no shutdown checkpoint)
  Close();
  script_.hold_b_start = nullptr;
  Open();
  const v1::Operation done = Wait(op->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(script_.a_runs.load(), 2);
  EXPECT_EQ(script_.a_may_have_run.load(), 1);
  EXPECT_EQ(script_.b_runs.load(), 2);
  EXPECT_EQ(script_.b_may_have_run.load(), 0);
  EXPECT_EQ(done.steps(1).attempts(), 1u);
}

// Counts the events it was given to keep (PushOwned) apart from those it had to copy.
class OwnedCounter final : public WatchSink {
 public:
  void Push(const v1::OperationEvent&) override { ++copied; }
  void PushOwned(v1::OperationEvent) override { ++owned; }
  void Close(const absl::Status&) override { closed = true; }
  std::atomic<int> copied{0};
  std::atomic<int> owned{0};
  std::atomic<bool> closed{false};
};

TEST_F(ManagerTest, EachEventIsMovedToItsLastWatcherNotCopied) {
  absl::Notification hold;
  const std::string id = SubmitHeld(hold);
  // Held inside step a: no event until `hold`, so both watchers see the same ones (an event
  // between the two Watch calls would go to `first` alone: moved).
  AwaitStepA();
  auto first = std::make_shared<OwnedCounter>();
  auto last = std::make_shared<OwnedCounter>();
  ASSERT_TRUE(manager_->Watch(id, first).ok());
  ASSERT_TRUE(manager_->Watch(id, last).ok());
  hold.Notify();
  Wait(id);
  ASSERT_TRUE(WaitFor([&] { return first->closed.load() && last->closed.load(); }));
  // Each snapshot goes to one sink: moved. Every later event: copied to the first, moved to the last.
  EXPECT_GE(last->owned.load(), 4);
  EXPECT_EQ(last->copied.load(), 0);
  EXPECT_EQ(first->owned.load(), 1);
  EXPECT_EQ(first->copied.load(), last->owned.load() - 1);
  // A finished operation's snapshot: moved too.
  auto late = std::make_shared<OwnedCounter>();
  ASSERT_TRUE(manager_->Watch(id, late).ok());
  EXPECT_EQ(late->owned.load(), 1);
  EXPECT_EQ(late->copied.load(), 0);
}

// The flaky inversion of WatchSeesEveryStepAndEnds, made deterministic: the caller holds its
// sink's lock while it calls the manager about a live operation. The manager must not hold the
// operation's lock while it calls the sink, or the two orders form a cycle (Abseil's deadlock
// detector aborts on it, and a real one could hang).
TEST_F(ManagerTest, ASinkIsNotCalledUnderTheOperationsLock) {
  absl::Notification hold;
  const std::string id = SubmitHeld(hold);
  auto sink = std::make_shared<Collector>();
  ASSERT_TRUE(manager_->Watch(id, sink).ok());
  {
    absl::MutexLock l(&sink->mu);
    ASSERT_TRUE(manager_->Get(id).ok());
  }
  hold.Notify();
  EXPECT_EQ(Wait(id).state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_TRUE(WaitClosed(*sink));
}

// Looks the operation up on every event and unregisters itself when closed, under its own lock,
// as a stream that enriches events or cleans up after itself would.
class ReentrantSink final : public WatchSink {
 public:
  ReentrantSink(OperationManager& manager, std::string id) : manager_(manager), id_(std::move(id)) {}
  void Push(const v1::OperationEvent& e) override {
    absl::MutexLock l(&mu);
    events.push_back(e);
    looked_up += manager_.Get(id_).ok();
  }
  void Close(const absl::Status& s) override {
    absl::MutexLock l(&mu);
    manager_.Unwatch(id_, this);
    closed = s;
    done = true;
  }
  absl::Mutex mu;
  std::vector<v1::OperationEvent> events;
  int looked_up = 0;
  absl::Status closed;
  bool done = false;

 private:
  OperationManager& manager_;
  const std::string id_;
};

TEST_F(ManagerTest, AWatchSinkMayCallBackIntoTheManager) {
  absl::Notification hold;
  const std::string id = SubmitHeld(hold);
  auto sink = std::make_shared<ReentrantSink>(*manager_, id);
  ASSERT_TRUE(manager_->Watch(id, sink).ok());
  hold.Notify();
  EXPECT_EQ(Wait(id).state(), v1::OPERATION_STATE_SUCCEEDED);
  ASSERT_TRUE(WaitClosed(*sink));
  absl::MutexLock l(&sink->mu);
  EXPECT_TRUE(sink->closed.ok());
  ASSERT_GE(sink->events.size(), 4u);
  EXPECT_EQ(sink->looked_up, static_cast<int>(sink->events.size()));
  EXPECT_EQ(sink->events.front().type(), v1::OperationEvent::TYPE_SNAPSHOT);
  EXPECT_EQ(sink->events.back().operation().state(), v1::OPERATION_STATE_SUCCEEDED);
}

std::vector<std::string> StepNames(const v1::Operation& op) {
  std::vector<std::string> names;
  for (const v1::Step& s : op.steps()) names.push_back(s.name());
  return names;
}

TEST_F(ManagerTest, StepTableDerivesTheStepListAndSkipsWhatItSays) {
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(TableSub("t1", /*with_app=*/false, "h"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(StepNames(*a), ::testing::ElementsAre("first", "maybe", "sends"));
  v1::Operation done = Wait(a->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.steps(1).state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ(done.steps(1).detail(), "first ran");
  EXPECT_EQ(done.steps(2).detail(), "sent");
  EXPECT_EQ(done.add_compose_hash().compose_hash(), "finished");

  absl::StatusOr<v1::Operation> b = manager_->Submit(TableSub("t2", /*with_app=*/true, "h"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(StepNames(*b), ::testing::ElementsAre("maybe", "sends"));
  done = Wait(b->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(done.steps(0).state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ(done.steps(0).detail(), "ran");
}

TEST_F(ManagerTest, StepTablePreconditionFailsTheStepWithoutRunningIt) {
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(TableSub("t1", /*with_app=*/true, "refuse"));
  ASSERT_TRUE(a.ok()) << a.status();
  v1::Operation done = Wait(a->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done.error().step(), "sends");
  EXPECT_EQ(done.error().message(), "refused");
  EXPECT_EQ(done.steps(1).attempts(), 0u);
}

TEST_F(ManagerTest, StepTableRefusesAnEffectTheStepDoesNotDeclare) {
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(TableSub("t1", /*with_app=*/true, "undeclared"));
  ASSERT_TRUE(a.ok()) << a.status();
  v1::Operation done = Wait(a->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done.error().step(), "undeclared");
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kInternal));
}

Submission EffectSub(const std::string& rid) {
  Submission s;
  s.caller = "uid:1";
  s.request_id = rid;
  s.kind = v1::OPERATION_KIND_DEPLOY_CVM;
  s.request = v1::DeployCvmRequest().SerializeAsString();
  s.request_digest = "digest-" + rid;
  return s;
}

// A kEffectSent step is in effect_sent from its RUNNING write on: sending its effect journals
// only `irreversible` (one write less), and its first run has nothing to check.
TEST_F(ManagerTest, AnEffectStepIsMarkedSentByItsRunningWrite) {
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(EffectSub("e1"));
  ASSERT_TRUE(a.ok()) << a.status();
  const v1::Operation done = Wait(a->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(effect_.sent.load(), 1);
  EXPECT_EQ(effect_.checked.load(), 0) << "a first run has nothing to check";
  EXPECT_EQ(effect_.writes_in_sending.load(), 1) << "irreversible only";
  state::FlowState st;
  ASSERT_TRUE(st.ParseFromString(journal_->Get(a->id())->internal));
  EXPECT_THAT(st.effect_sent(), ::testing::ElementsAre("send"));
  EXPECT_TRUE(st.irreversible());
}

// Owner rows of what a step created go with the operation's next write, not one of their own.
TEST_F(ManagerTest, StagedOwnerRowsAreRecordedByTheNextWrite) {
  Open();
  Submission s = EffectSub("o1");
  v1::DeployCvmRequest r;
  r.set_name("id:cvm9");
  s.request = r.SerializeAsString();
  absl::StatusOr<v1::Operation> a = manager_->Submit(s);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(Wait(a->id()).state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_FALSE(effect_.owner_before_sending.load()) << "staged: not written yet";
  EXPECT_EQ(effect_.writes_in_sending.load(), 1) << "irreversible, carrying the owner row";
  EXPECT_TRUE(effect_.owner_after_sending.load());
  absl::StatusOr<std::optional<journal::ResourceOwner>> owner = journal_->FindOwner(journal::kResourceCvm, "id:cvm9");
  ASSERT_TRUE(owner.ok() && owner->has_value());
  EXPECT_EQ((*owner)->tenant, "uid:1");
}

// The step sent its effect, then a journal write of its own failed: the operation pauses, and when
// the journal works the step runs again (its RUNNING state tells the new run it may have run). It
// must check, not send a second time.
TEST_F(ManagerTest, AnEffectStepRunAgainAfterAPauseChecksInsteadOfSendingTwice) {
  effect_.fail_after_sending = true;
  Open();
  absl::StatusOr<v1::Operation> a = manager_->Submit(EffectSub("e2"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(WaitFor([&] { return journal_->failed_writes() > 0 && !manager_->JournalHealth().ok(); }));
  journal_->Heal();
  const v1::Operation done = Wait(a->id());
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(effect_.sent.load(), 1) << "never sent twice";
  EXPECT_EQ(effect_.runs.load(), 2);
  EXPECT_EQ(effect_.checked.load(), 1);
}

}  // namespace
}  // namespace orchestrator::engine
