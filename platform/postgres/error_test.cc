#include "platform/postgres/error.h"

#include "gtest/gtest.h"

namespace platform::postgres {
namespace {

TEST(ErrorTest, SqlStatesMapToWhatTheCallerShouldDo) {
  struct Case {
    const char* sqlstate;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"40001", absl::StatusCode::kAborted},             // serialization_failure
      {"40P01", absl::StatusCode::kAborted},             // deadlock_detected
      {"23505", absl::StatusCode::kAlreadyExists},       // unique_violation
      {"23503", absl::StatusCode::kFailedPrecondition},  // foreign_key_violation
      {"23502", absl::StatusCode::kFailedPrecondition},  // not_null_violation
      {"08006", absl::StatusCode::kUnavailable},         // connection_failure
      {"08001", absl::StatusCode::kUnavailable},         // sqlclient_unable_to_establish_sqlconnection
      {"57P01", absl::StatusCode::kUnavailable},         // admin_shutdown
      {"55P03", absl::StatusCode::kUnavailable},         // lock_not_available (lock_timeout)
      {"57P02", absl::StatusCode::kUnavailable},         // crash_shutdown
      {"57P03", absl::StatusCode::kUnavailable},         // cannot_connect_now
      {"53300", absl::StatusCode::kUnavailable},         // too_many_connections
      {"25006", absl::StatusCode::kUnavailable},         // read_only_sql_transaction (a standby)
      {"28P01", absl::StatusCode::kUnauthenticated},     // invalid_password
      {"3D000", absl::StatusCode::kFailedPrecondition},  // invalid_catalog_name
      {"57014", absl::StatusCode::kDeadlineExceeded},    // query_canceled
      {"22P02", absl::StatusCode::kInvalidArgument},     // invalid_text_representation
      {"08P01", absl::StatusCode::kInternal},            // protocol_violation: our bind was wrong
      {"42601", absl::StatusCode::kInternal},            // syntax_error
      {"42P01", absl::StatusCode::kInternal},            // undefined_table
  };
  for (const Case& c : cases) EXPECT_EQ(CodeForSqlState(c.sqlstate), c.code) << c.sqlstate;
}

}  // namespace
}  // namespace platform::postgres
