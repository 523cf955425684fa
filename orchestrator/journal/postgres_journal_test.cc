// PostgresJournal against a real PostgreSQL 15 started by the test: the journal contract
// (journal_contract.cc) and what only PostgreSQL has (a schema newer than the program, the
// server going away and coming back, a refused password).
#include "orchestrator/journal/postgres_journal.h"

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/journal/journal_contract.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/shared_server.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {
namespace {

using platform::postgres::Connection;
using platform::postgres::Dsn;
using platform::postgres::SharedServer;
using ::testing::HasSubstr;
using ::testing::Not;

// A new database on the binary's one server (the contract's test names do not make database
// names, so they are numbered).
Dsn NewDatabase() {
  static int databases = 0;
  absl::StatusOr<std::string> dsn_file = SharedServer().CreateDatabase(absl::StrCat("journal_", ++databases));
  if (!dsn_file.ok()) {
    ADD_FAILURE() << dsn_file.status();
    std::abort();
  }
  return *Dsn::FromFile(*dsn_file);
}

class PostgresStore final : public JournalStore {
 public:
  absl::StatusOr<std::unique_ptr<Journal>> Open() override {
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresJournal> j, PostgresJournal::Open(dsn_));
    return std::unique_ptr<Journal>(std::move(j));
  }

 private:
  const Dsn dsn_ = NewDatabase();
};

std::unique_ptr<JournalStore> NewPostgresStore() { return std::make_unique<PostgresStore>(); }

INSTANTIATE_TEST_SUITE_P(Postgres, JournalContractTest, ::testing::Values(&NewPostgresStore));

int64_t Count(Connection& conn, absl::string_view sql) { return *(*conn.Execute(sql)).Int(0, 0); }

// A database migrated by the version before owners (schema version 2, no resource_owners)
// opens, keeps its operations and is migrated to version 3.
TEST(PostgresJournalTest, ADatabaseFromBeforeOwnersIsMigrated) {
  const Dsn dsn = NewDatabase();
  {
    std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
    ASSERT_TRUE(j->Create(TestRecord("op_old", "r1", 1)).ok());
  }
  std::unique_ptr<Connection> admin = *Connection::Open(dsn);
  ASSERT_TRUE(admin
                  ->Exec("DROP TABLE resource_owners; UPDATE platform_schema_versions SET version = 2 "
                         "WHERE schema = 'orchestrator_journal'")
                  .ok());
  absl::StatusOr<std::unique_ptr<PostgresJournal>> j = PostgresJournal::Open(dsn);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)->Get("op_old")->request_id, "r1");
  EXPECT_FALSE((*j)->FindOwner(kResourceCvm, "x").value().has_value());
  EXPECT_TRUE((*j)->RecordOwner(ResourceOwner{kResourceCvm, "x", "t", "deploy:op_old", absl::Now()}).ok());
  EXPECT_EQ(Count(*admin, "SELECT version FROM platform_schema_versions WHERE schema = 'orchestrator_journal'"), 4);
  EXPECT_EQ(Count(*admin, "SELECT count(*) FROM resource_owners"), 1);
}

TEST(PostgresJournalTest, ANewerSchemaIsRefusedAndNothingIsWritten) {
  const Dsn dsn = NewDatabase();
  {
    std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
    ASSERT_TRUE(j->Create(TestRecord("op_a", "r1", 1)).ok());
  }
  std::unique_ptr<Connection> admin = *Connection::Open(dsn);
  // As a later program would leave it.
  ASSERT_TRUE(
      admin->Exec("UPDATE platform_schema_versions SET version = 1000 WHERE schema = 'orchestrator_journal'").ok());
  const int64_t tables = Count(*admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");

  absl::StatusOr<std::unique_ptr<PostgresJournal>> refused = PostgresJournal::Open(dsn);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("journal: schema:"));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("schema orchestrator_journal has schema version 1000; this program knows versions up to"));
  EXPECT_THAT(refused.status().message(), HasSubstr("dbname=journal_"));
  EXPECT_EQ(Count(*admin, "SELECT version FROM platform_schema_versions WHERE schema = 'orchestrator_journal'"), 1000);
  EXPECT_EQ(Count(*admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), tables);
  EXPECT_EQ(Count(*admin, "SELECT count(*) FROM operations"), 1);
}

TEST(PostgresJournalTest, ServerStoppedIsUnavailableThenWorksAfterStart) {
  std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(NewDatabase());
  OperationRecord r = j->Create(TestRecord("op_a", "r1", 1))->record;
  ASSERT_TRUE(SharedServer().Stop().ok());
  r.state = 2;
  r.update_time = absl::FromUnixMicros(2);
  EXPECT_EQ(j->Update(r).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(j->Create(TestRecord("op_b", "r2", 2)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(j->PutArtifact("op_a", "k", "v").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(j->Get("op_a").status().code(), absl::StatusCode::kUnavailable);
  absl::Status ping = j->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ping.message(), HasSubstr("journal: ping:"));
  ASSERT_TRUE(SharedServer().Start().ok());

  // The same calls again, as the engine makes them once the journal answers.
  absl::StatusOr<int64_t> v = j->Update(r);
  for (int i = 0; i < 3 && absl::IsUnavailable(v.status()); ++i) v = j->Update(r);  // a connection cut by the stop
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 2);
  EXPECT_TRUE(j->Ping().ok());
  absl::StatusOr<CreateResult> b = j->Create(TestRecord("op_b", "r2", 2));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->created);
  EXPECT_TRUE(j->PutArtifact("op_a", "k", "v").ok());
  EXPECT_EQ(j->Get("op_a")->state, 2);
  EXPECT_EQ(j->ListUnfinished()->size(), 2u);
}

// A write whose commit happened but whose answer never came is UNAVAILABLE; the engine repeats
// it. Here the server is down for the first attempt and a second journal on the same database
// makes exactly that write meanwhile, which is what the database holds after a lost answer.
TEST(PostgresJournalTest, RepeatingAWriteWhoseAnswerWasLostSucceeds) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
  std::unique_ptr<PostgresJournal> other = *PostgresJournal::Open(dsn);
  OperationRecord r = j->Create(TestRecord("op_a", "r1", 1))->record;
  r.state = 2;
  r.update_time = absl::FromUnixMicros(2);
  const OperationRecord b = TestRecord("op_b", "r2", 2);
  ASSERT_TRUE(SharedServer().Stop().ok());
  EXPECT_EQ(j->Update(r).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(j->Create(b).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(SharedServer().Start().ok());
  auto repeat = [](auto call) {
    auto result = call();
    for (int i = 0; i < 3 && absl::IsUnavailable(result.status()); ++i) result = call();  // cut by the stop
    return result;
  };
  ASSERT_EQ(*repeat([&] { return other->Update(r); }), 2);
  ASSERT_TRUE(repeat([&] { return other->Create(b); })->created);

  absl::StatusOr<int64_t> v = repeat([&] { return j->Update(r); });
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 2) << "the stored write is this one";
  absl::StatusOr<CreateResult> created = repeat([&] { return j->Create(b); });
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created) << "the stored operation is this one";
  EXPECT_EQ(j->Update(r).status().code(), absl::StatusCode::kAborted) << "a third time is a stale write";
  EXPECT_FALSE(j->Create(b)->created);
}

// As the engine does when the outage outlasts its retries: it keeps the state from before the
// lost write and writes from there. That write replaces the lost one.
TEST(PostgresJournalTest, AnotherWriteAfterALostAnswerReplacesIt) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
  std::unique_ptr<PostgresJournal> other = *PostgresJournal::Open(dsn);
  const OperationRecord before = j->Create(TestRecord("op_a", "r1", 1))->record;
  OperationRecord lost = before;
  lost.state = 2;
  lost.internal = "lost";
  lost.update_time = absl::FromUnixMicros(2);
  ASSERT_TRUE(SharedServer().Stop().ok());
  EXPECT_EQ(j->Update(lost).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(SharedServer().Start().ok());
  absl::StatusOr<int64_t> v = other->Update(lost);  // the commit whose answer was lost
  for (int i = 0; i < 3 && absl::IsUnavailable(v.status()); ++i) v = other->Update(lost);
  ASSERT_EQ(*v, 2);

  OperationRecord next = before;  // no change, a new time: the engine's probe write
  next.update_time = absl::FromUnixMicros(3);
  v = j->Update(next);
  for (int i = 0; i < 3 && absl::IsUnavailable(v.status()); ++i) v = j->Update(next);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 3);
  absl::StatusOr<OperationRecord> stored = j->Get("op_a");
  EXPECT_EQ(stored->state, 1);
  EXPECT_EQ(stored->internal, "internal");
  EXPECT_EQ(stored->version, 3);
  next.version = 1;
  EXPECT_EQ(j->Update(next).status().code(), absl::StatusCode::kAborted) << "only once";
}

TEST(PostgresJournalTest, AWrongPasswordIsRefusedWithoutQuotingIt) {
  ASSERT_TRUE(SharedServer().CreateDatabase("journal_password").ok());
  absl::StatusOr<std::string> file =
      SharedServer().WriteDsnFile("wrong.dsn", SharedServer().DsnText("journal_password", "hunter2-not-the-password"));
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::unique_ptr<PostgresJournal>> j = PostgresJournal::Open(*Dsn::FromFile(*file));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kUnauthenticated) << j.status();
  EXPECT_THAT(j.status().message(), HasSubstr("user=app"));
  EXPECT_THAT(j.status().message(), Not(HasSubstr("hunter2")));
}

// ---------------------------------------------------------------------------------------------
// Several replicas (docs/design/postgres-replicas.md § 4).

std::unique_ptr<PostgresJournal> Replica(const Dsn& dsn, const std::string& id, absl::Duration ttl) {
  std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
  const absl::Status s = j->Register(ReplicaLease{id, absl::StrCat(id, "-boot"), ttl});
  EXPECT_TRUE(s.ok()) << s;
  return j;
}

// A new operation that replica `journal` (named `owner`) created: it owns it with epoch 1.
OperationRecord CreatedBy(PostgresJournal& journal, const std::string& owner, const std::string& id, int state = 1) {
  OperationRecord r = TestRecord(id, "r-" + id, 1, 1, state);
  r.owner = owner;
  absl::StatusOr<CreateResult> created = journal.Create(r);
  EXPECT_TRUE(created.ok()) << created.status();
  return created.ok() ? created->record : r;
}

TEST(PostgresJournalTest, TwoReplicasClaimEveryOperationOnce) {
  const Dsn dsn = NewDatabase();
  {
    std::unique_ptr<PostgresJournal> creator = *PostgresJournal::Open(dsn);
    for (int i = 0; i < 60; ++i) {
      OperationRecord r = TestRecord(absl::StrCat("op_", i), absl::StrCat("r", i), i);
      r.owner = "";  // released
      ASSERT_TRUE(creator->Create(r).ok());
    }
  }
  std::unique_ptr<PostgresJournal> a = Replica(dsn, "a", absl::Seconds(30));
  std::unique_ptr<PostgresJournal> b = Replica(dsn, "b", absl::Seconds(30));
  std::vector<std::string> got_a, got_b;
  auto claim = [](PostgresJournal& j, std::vector<std::string>& got) {
    for (;;) {
      absl::StatusOr<std::vector<OperationRecord>> c = j.Claim(7);
      ASSERT_TRUE(c.ok()) << c.status();
      if (c->empty()) return;
      for (const OperationRecord& r : *c) {
        EXPECT_EQ(r.lease_epoch, 2) << "created with 1, one claim";
        got.push_back(r.id);
      }
    }
  };
  std::thread ta([&] { claim(*a, got_a); });
  std::thread tb([&] { claim(*b, got_b); });
  ta.join();
  tb.join();
  std::set<std::string> all(got_a.begin(), got_a.end());
  all.insert(got_b.begin(), got_b.end());
  EXPECT_EQ(all.size(), 60u);
  EXPECT_EQ(got_a.size() + got_b.size(), 60u) << "none claimed twice";
  EXPECT_TRUE(a->Claim(10)->empty()) << "b is live: its operations are not claimable";
}

TEST(PostgresJournalTest, AfterATakeoverTheOldOwnersWritesAreRefused) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> b = Replica(dsn, "b", absl::Seconds(30));
  std::unique_ptr<PostgresJournal> a = Replica(dsn, "a", absl::Milliseconds(1500));
  OperationRecord mine = CreatedBy(*a, "a", "op_a");
  EXPECT_EQ(mine.lease_epoch, 1);
  EXPECT_TRUE(b->Claim(10)->empty()) << "a's lease is live";
  absl::SleepFor(absl::Milliseconds(1700));  // a stops heartbeating: its lease expires
  absl::StatusOr<std::vector<OperationRecord>> taken = b->Claim(10);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().owner, "b");
  EXPECT_EQ(taken->front().lease_epoch, 2);

  ASSERT_TRUE(a->Heartbeat().ok()) << "its row is still its own";
  mine.state = 2;
  absl::StatusOr<int64_t> stale = a->Update(mine);
  EXPECT_TRUE(IsLeaseLost(stale.status())) << stale.status();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::Status artifact = a->PutArtifact("op_a", "k", "stale");
  EXPECT_TRUE(IsLeaseLost(artifact)) << artifact;
  EXPECT_FALSE(a->GetArtifact("op_a", "k")->has_value());
  EXPECT_EQ(b->Get("op_a")->version, 1) << "nothing written";

  OperationRecord theirs = taken->front();
  theirs.state = 2;
  ASSERT_TRUE(b->Update(theirs).ok());
  EXPECT_TRUE(b->PutArtifact("op_a", "k", "new").ok());
  EXPECT_TRUE(a->Claim(10)->empty()) << "b is live";
}

TEST(PostgresJournalTest, AnExpiredReplicaCannotWriteUntilItRenewsItsLease) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> a = Replica(dsn, "a", absl::Milliseconds(300));
  OperationRecord r = CreatedBy(*a, "a", "op_a");
  absl::SleepFor(absl::Milliseconds(500));
  r.state = 2;
  absl::StatusOr<int64_t> expired = a->Update(r);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnavailable) << "not taken over yet: retry later";
  EXPECT_EQ(a->PutArtifact("op_a", "k", "v").code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(a->Heartbeat().ok()) << "renews the lease";
  EXPECT_TRUE(a->Update(r).ok()) << "nobody took it meanwhile";
  EXPECT_TRUE(a->PutArtifact("op_a", "k", "v").ok());
}

TEST(PostgresJournalTest, OneReplicaIdIsHeldByOneLiveProcess) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> first = *PostgresJournal::Open(dsn);
  std::unique_ptr<PostgresJournal> second = *PostgresJournal::Open(dsn);
  ASSERT_TRUE(first->Register(ReplicaLease{"x", "boot-1", absl::Milliseconds(1500)}).ok());
  absl::Status refused = second->Register(ReplicaLease{"x", "boot-2", absl::Seconds(30)});
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("'x'"));
  absl::SleepFor(absl::Milliseconds(1700));
  ASSERT_TRUE(second->Register(ReplicaLease{"x", "boot-2", absl::Seconds(30)}).ok()) << "the first one's expired";
  EXPECT_TRUE(IsLeaseLost(first->Heartbeat()));
}

TEST(PostgresJournalTest, ARequestedCancelWinsOverMarkingIrreversible) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> a = Replica(dsn, "a", absl::Seconds(30));
  std::unique_ptr<PostgresJournal> b = Replica(dsn, "b", absl::Seconds(30));
  OperationRecord r = CreatedBy(*a, "a", "op_a");
  ASSERT_TRUE(*b->RequestCancel("op_a"));
  EXPECT_EQ(*a->CancelsRequested(), std::vector<std::string>{"op_a"});
  EXPECT_TRUE(b->CancelsRequested()->empty());
  OperationRecord irreversible = r;
  irreversible.irreversible = true;
  absl::StatusOr<int64_t> refused = a->Update(irreversible);
  EXPECT_TRUE(IsCancelRequested(refused.status())) << refused.status();
  r.state = 6;
  ASSERT_TRUE(a->Update(r).ok()) << "the owner cancels it";
  EXPECT_FALSE(*b->RequestCancel("op_a"));

  OperationRecord sent = CreatedBy(*a, "a", "op_b");
  sent.irreversible = true;
  ASSERT_TRUE(a->Update(sent).ok());
  EXPECT_FALSE(*b->RequestCancel("op_b")) << "irreversible";
  EXPECT_TRUE(a->Get("op_b")->irreversible);
}

TEST(PostgresJournalTest, AWaitingOperationIsClaimedOnlyOnceReleased) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> a = Replica(dsn, "a", absl::Seconds(30));
  std::unique_ptr<PostgresJournal> b = Replica(dsn, "b", absl::Seconds(30));
  OperationRecord r = CreatedBy(*a, "a", "op_a", 3);
  EXPECT_FALSE(b->ClaimOne("op_a", {3})->has_value()) << "a is live and owns it";
  ASSERT_TRUE(a->Release(r).ok());
  absl::StatusOr<std::optional<OperationRecord>> claimed = b->ClaimOne("op_a", {3});
  ASSERT_TRUE(claimed.ok() && claimed->has_value()) << claimed.status();
  EXPECT_EQ((*claimed)->owner, "b");
  EXPECT_EQ((*claimed)->lease_epoch, 2);
  EXPECT_TRUE(IsLeaseLost(a->Release(r))) << "not a's any more";
  ASSERT_TRUE(b->ReleaseAll().ok());
  EXPECT_EQ(a->Get("op_a")->owner, "");
  EXPECT_TRUE(a->ClaimOne("op_a", {3})->has_value());
}

TEST(PostgresJournalTest, ARestartWithTheSameReplicaIdReclaimsItsOperations) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> old = Replica(dsn, "a", absl::Milliseconds(300));
  OperationRecord r = CreatedBy(*old, "a", "op_a");
  absl::SleepFor(absl::Milliseconds(400));
  std::unique_ptr<PostgresJournal> restarted = *PostgresJournal::Open(dsn);
  ASSERT_TRUE(restarted->Register(ReplicaLease{"a", "boot-2", absl::Seconds(30)}).ok());
  absl::StatusOr<std::vector<OperationRecord>> mine = restarted->ReclaimOwn();
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ(mine->front().lease_epoch, 2);
  r.state = 2;
  EXPECT_TRUE(IsLeaseLost(old->Update(r).status())) << "the previous process is fenced out";
}

}  // namespace
}  // namespace orchestrator::journal
