#include <gtest/gtest.h>
#include <sys/stat.h>

#include "signer/equivocation/sqlite_store.h"
#include "signer/equivocation/store_contract.h"

namespace signer::equivocation {
namespace {

using store_contract::ClassifyAndRecord;
using store_contract::Make;

std::string DbPath(const std::string& name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

// One file per test and name (the typed tests share TEST_TMPDIR).
class SqliteBackend {
 public:
  std::unique_ptr<Store> Open(const std::string& name) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(DbPath(absl::StrCat(info->name(), "-", name)));
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }
};

TEST(SqliteStore, FileIsPrivate) {
  const std::string path = DbPath("private.sqlite");
  ASSERT_EQ(ClassifyAndRecord(**SqliteStore::Open(path), Make(7, 1000, 100)).kind, Verdict::Kind::kFirst);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SqliteStore, ASecondOpenOfTheSameDatabaseIsRefused) {
  const std::string path = DbPath("locked.sqlite");
  auto store = *SqliteStore::Open(path);
  absl::StatusOr<std::unique_ptr<SqliteStore>> second = SqliteStore::Open(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(absl::StrCat("anti-equivocation db: database ", path, " is in use")),
            std::string::npos)
      << second.status();
  store.reset();
  EXPECT_TRUE(SqliteStore::Open(path).ok()) << "free again once the first is closed";
}

TEST(Store, RaisedByTenPercent) {
  EXPECT_TRUE(RaisedByTenPercent(chain::U256(100), chain::U256(110)));
  EXPECT_FALSE(RaisedByTenPercent(chain::U256(100), chain::U256(109)));
  EXPECT_FALSE(RaisedByTenPercent(chain::U256(0), chain::U256(0)));
  EXPECT_TRUE(RaisedByTenPercent(chain::U256(0), chain::U256(1)));
  EXPECT_FALSE(RaisedByTenPercent(chain::U256::Max(), chain::U256::Max()));
}

// Below the pruned watermark whether a nonce was signed is not known: a conflict marked unknown
// (only_if_signed must not answer "not signed before" there); another conflict is not.
TEST(Store, AConflictBelowThePrunedWatermarkIsUnknown) {
  Verdict pruned = Decide({}, Make(7, 1000, 100), /*pruned_below=*/8);
  EXPECT_EQ(pruned.kind, Verdict::Kind::kConflict);
  EXPECT_TRUE(pruned.unknown);
  Verdict other = Decide({store_contract::ToRecord(Make(7, 1000, 100), Verdict{})}, Make(7, 1000, 100, {0x01}));
  EXPECT_EQ(other.kind, Verdict::Kind::kConflict);
  EXPECT_FALSE(other.unknown);
  EXPECT_FALSE(Decide({}, Make(7, 1000, 100)).unknown);
}

}  // namespace

namespace store_contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, SqliteBackend);
}  // namespace store_contract

}  // namespace signer::equivocation
