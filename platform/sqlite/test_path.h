// Test-only: a fresh database path under the test's temporary directory, named after the test.
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_TEST_PATH_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_TEST_PATH_H_

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace platform::sqlite {

inline std::string TestDatabasePath(const std::string& name = "db.sqlite") {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/", info->test_suite_name(), ".", info->name(), ".", name);
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) ::unlink(absl::StrCat(path, suffix).c_str());
  return path;
}

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_TEST_PATH_H_
