#include "platform/sqlite/schema.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/sqlite/test_path.h"

namespace platform::sqlite {
namespace {

constexpr absl::string_view kV1 = "CREATE TABLE IF NOT EXISTS a (x INTEGER);";
constexpr absl::string_view kV2 = "ALTER TABLE a ADD COLUMN y TEXT;";

TEST(SchemaTest, AppliesOnceAndThenOnlyNewMigrations) {
  const std::string path = TestDatabasePath();
  {
    std::unique_ptr<Database> db = *Database::Open(path);
    EXPECT_EQ(*UserVersion(*db), 0);
    ASSERT_TRUE(ApplySchema(*db, {kV1}).ok());
    EXPECT_EQ(*UserVersion(*db), 1);
    ASSERT_TRUE(ApplySchema(*db, {kV1}).ok()) << "nothing to do";
  }
  std::unique_ptr<Database> db = *Database::Open(path);
  ASSERT_TRUE(ApplySchema(*db, {kV1, kV2}).ok());
  EXPECT_EQ(*UserVersion(*db), 2);
  EXPECT_TRUE(db->Exec("INSERT INTO a (x, y) VALUES (1, 'z')").ok());
}

TEST(SchemaTest, FailedMigrationLeavesTheVersion) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  absl::Status s = ApplySchema(*db, {kV1, "CREATE TABLE b (x); SELECT nope;"});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(*UserVersion(*db), 1);
  EXPECT_FALSE(db->Prepare("SELECT * FROM b").ok()) << "the failed migration was rolled back";
}

TEST(SchemaTest, RefusesANewerFile) {
  const std::string path = TestDatabasePath();
  std::unique_ptr<Database> db = *Database::Open(path);
  ASSERT_TRUE(ApplySchema(*db, {kV1, kV2}).ok());
  absl::Status s = ApplySchema(*db, {kV1});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), ::testing::HasSubstr(path));
}

}  // namespace
}  // namespace platform::sqlite
