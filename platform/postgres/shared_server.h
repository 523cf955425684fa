// Test-only: one PostgreSQL server for the whole test binary (started by the first test that asks,
// from the main thread), and a fresh database per test, named after it.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_SHARED_SERVER_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_SHARED_SERVER_H_

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/testing/test_server.h"

namespace platform::postgres {

inline TestServer& SharedServer() {
  // Destroyed at exit (server stopped, directory removed); on a crash PDEATHSIG ends it.
  static const std::unique_ptr<TestServer> server = [] {
    absl::StatusOr<std::unique_ptr<TestServer>> s = TestServer::Create();
    if (!s.ok()) {
      ADD_FAILURE() << "postgres test server: " << s.status();
      std::abort();
    }
    return *std::move(s);
  }();
  return *server;
}

// The DSN of a new database "<suite>_<test>" (lower case) on the shared server.
inline Dsn TestDatabase() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::AsciiStrToLower(absl::StrCat(info->test_suite_name(), "_", info->name()));
  absl::StatusOr<std::string> dsn_file = SharedServer().CreateDatabase(name);
  if (!dsn_file.ok()) {
    ADD_FAILURE() << dsn_file.status();
    std::abort();
  }
  return *Dsn::FromFile(*dsn_file);
}

inline std::unique_ptr<Connection> Connect(const Dsn& dsn) {
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(dsn);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    std::abort();
  }
  return *std::move(conn);
}

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_SHARED_SERVER_H_
