// The change log of a PostgresJournal and its notices (postgres_change_feed.h), against a real
// PostgreSQL 15: an Update with events logs them at the version it produced, in the same
// statement; one without events logs nothing; every write notifies another connection with the
// id, version and state only.
#include "orchestrator/journal/postgres_change_feed.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "orchestrator/journal/postgres_journal.h"
#include "platform/postgres/shared_server.h"

namespace orchestrator::journal {
namespace {

OperationRecord TestRecord(const std::string& id, const std::string& request_id, int64_t time_us) {
  OperationRecord r;
  r.id = id;
  r.caller = "uid:1000";
  r.request_id = request_id;
  r.kind = 1;
  r.state = 1;
  r.create_time = absl::FromUnixMicros(time_us);
  r.update_time = r.create_time;
  r.request_digest = "d-" + request_id;
  r.operation = "op";
  r.internal = "internal";
  return r;
}

// Waits up to 5 s for the notice of `id` at `version`.
std::optional<ChangeNotice> NoticeOf(ChangeFeed& feed, absl::string_view id, int64_t version) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::vector<ChangeNotice>> notices = feed.Wait(deadline);
    if (!notices.ok()) return std::nullopt;
    for (const ChangeNotice& n : *notices) {
      if (n.operation_id == id && n.version == version) return n;
    }
  }
  return std::nullopt;
}

TEST(PostgresChangeFeedTest, UpdatesWithEventsAreLoggedInVersionOrderAndEveryWriteNotifies) {
  const platform::postgres::Dsn dsn = platform::postgres::TestDatabase();
  std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
  std::unique_ptr<PostgresChangeFeed> feed = *PostgresChangeFeed::Open(dsn);

  OperationRecord r = j->Create(TestRecord("op_a", "r1", 1))->record;
  std::optional<ChangeNotice> created = NoticeOf(*feed, "op_a", 1);
  ASSERT_TRUE(created.has_value()) << "an insert notifies";
  EXPECT_EQ(created->state, r.state);

  r.state = 2;
  r.operation = "after-2";
  r.version = *j->Update(r, UpdateOptions{.events = "events-2", .artifacts = {}, .owners = {}});
  ASSERT_EQ(r.version, 2);
  r.operation = "after-3";
  r.version = *j->Update(r);  // no events: no entry, still a notice
  ASSERT_EQ(r.version, 3);
  ASSERT_TRUE(NoticeOf(*feed, "op_a", 3).has_value());
  r.operation = "after-4";
  r.version = *j->Update(r, UpdateOptions{.events = "events-4", .artifacts = {}, .owners = {}});
  ASSERT_EQ(r.version, 4);
  std::optional<ChangeNotice> last = NoticeOf(*feed, "op_a", 4);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->state, 2);

  absl::StatusOr<ChangeBatch> all = feed->ChangesSince("op_a", 0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->version, 4);
  EXPECT_EQ(all->state, 2);
  ASSERT_EQ(all->changes.size(), 2u);
  EXPECT_EQ(all->changes[0].version, 2);
  EXPECT_EQ(all->changes[0].events, "events-2");
  EXPECT_EQ(all->changes[0].operation, "after-2");
  EXPECT_EQ(all->changes[1].version, 4);
  EXPECT_EQ(all->changes[1].events, "events-4");
  EXPECT_EQ(all->changes[1].operation, "after-4");

  absl::StatusOr<ChangeBatch> one = feed->ChangesSince("op_a", 0, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->changes.size(), 1u) << "the limit";
  EXPECT_EQ(one->changes[0].version, 2);
  absl::StatusOr<ChangeBatch> none = feed->ChangesSince("op_a", 4, 10);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->changes.empty());
  EXPECT_EQ(none->version, 4);
  EXPECT_EQ(feed->ChangesSince("op_missing", 0, 10).status().code(), absl::StatusCode::kNotFound);

  // A stale write logs nothing either.
  OperationRecord stale = r;
  stale.version = 2;
  EXPECT_EQ(j->Update(stale, UpdateOptions{.events = "events-stale", .artifacts = {}, .owners = {}}).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(feed->ChangesSince("op_a", 0, 10)->changes.size(), 2u);
}

TEST(PostgresChangeFeedTest, OnlyTheLogOfOperationsFinishedBeforeTheCutoffIsPruned) {
  const platform::postgres::Dsn dsn = platform::postgres::TestDatabase();
  std::unique_ptr<PostgresJournal> j = *PostgresJournal::Open(dsn);
  std::unique_ptr<PostgresChangeFeed> feed = *PostgresChangeFeed::Open(dsn);
  OperationRecord done = j->Create(TestRecord("op_done", "r1", 1))->record;
  OperationRecord open = j->Create(TestRecord("op_open", "r2", 2))->record;
  done.state = 4;  // SUCCEEDED
  done.update_time = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(j->Update(done, UpdateOptions{.events = "e", .artifacts = {}, .owners = {}}).ok());
  open.state = 2;
  open.update_time = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(j->Update(open, UpdateOptions{.events = "e", .artifacts = {}, .owners = {}}).ok());

  EXPECT_EQ(*feed->PruneFinished(absl::FromUnixSeconds(999)), 0);
  EXPECT_EQ(*feed->PruneFinished(absl::FromUnixSeconds(1001)), 1);
  EXPECT_TRUE(feed->ChangesSince("op_done", 0, 10)->changes.empty());
  EXPECT_EQ(feed->ChangesSince("op_open", 0, 10)->changes.size(), 1u) << "still running: kept";
}

}  // namespace
}  // namespace orchestrator::journal
