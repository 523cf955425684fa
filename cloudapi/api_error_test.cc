#include "cloudapi/api_error.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"

namespace cloudapi {
namespace {

TEST(ParseApiError, NestedStructuredError) {
  ApiError e = ParseApiError(409, R"({"detail":{"error_code":"ERR-03-007","message":"App ID conflict","details":[]}})");
  EXPECT_EQ(e.error_code, "ERR-03-007");
  EXPECT_EQ(e.message, "App ID conflict");
  EXPECT_TRUE(e.details.is_array());
  EXPECT_EQ(StatusCodeForApiError(e), absl::StatusCode::kAlreadyExists);
}

TEST(ParseApiError, TopLevelStructuredError) {
  ApiError e =
      ParseApiError(465, R"({"error_code":"ERR-01-005","message":"register it","details":[{"field":"a","value":1}]})");
  EXPECT_EQ(e.error_code, "ERR-01-005");
  EXPECT_EQ(e.message, "register it");
  ASSERT_TRUE(e.details.is_array());
  EXPECT_EQ(e.details.get_array().size(), 1u);
  EXPECT_EQ(StatusCodeForApiError(e), absl::StatusCode::kFailedPrecondition);
}

TEST(ParseApiError, FastApiValidation) {
  ApiError one = ParseApiError(
      422, R"({"detail":[{"loc":["body","compose_file","name"],"msg":"Field required","type":"missing"}]})");
  EXPECT_EQ(one.field, "compose_file.name");
  EXPECT_EQ(one.issues, 1);
  EXPECT_EQ(one.message, "validation failed: compose_file.name: Field required");
  EXPECT_EQ(StatusCodeForApiError(one), absl::StatusCode::kInvalidArgument);

  ApiError two = ParseApiError(
      422, R"({"detail":[{"loc":["query","page"],"msg":"bad"},{"loc":["body","items",0,"id"],"msg":"worse"}]})");
  EXPECT_EQ(two.field, "page");
  EXPECT_EQ(two.message, "validation failed (2 issues): page: bad; items.0.id: worse");
}

TEST(ParseApiError, StringDetailAndOddBodies) {
  EXPECT_EQ(ParseApiError(401, R"({"detail":"Invalid API key"})").message, "Invalid API key");
  EXPECT_EQ(ParseApiError(500, "<html>oops</html>").message, "<html>oops</html>");
  EXPECT_EQ(ParseApiError(502, "").message, "");
  EXPECT_EQ(ParseApiError(400, R"({"detail":{"message":"no code"}})").message, "no code");
  EXPECT_EQ(ParseApiError(400, R"({"detail":{"message":"no code"}})").error_code, "");
  EXPECT_EQ(ParseApiError(400, R"({"message":"flat","code":"X1"})").error_code, "X1");
  EXPECT_EQ(ParseApiError(400, R"([1,2])").message, "[1,2]");
}

TEST(StatusMapping, Table) {
  struct Case {
    int http;
    const char* code;
    absl::StatusCode want;
  } cases[] = {
      {400, "", absl::StatusCode::kInvalidArgument},
      {401, "", absl::StatusCode::kUnauthenticated},
      {402, "", absl::StatusCode::kFailedPrecondition},
      {403, "", absl::StatusCode::kPermissionDenied},
      {404, "ERR-03-001", absl::StatusCode::kNotFound},
      {408, "", absl::StatusCode::kDeadlineExceeded},
      {409, "ERR-01-004", absl::StatusCode::kAlreadyExists},
      {409, "", absl::StatusCode::kAborted},
      {422, "", absl::StatusCode::kInvalidArgument},
      {429, "", absl::StatusCode::kResourceExhausted},
      {400, "ERR-04-001", absl::StatusCode::kFailedPrecondition},
      {400, "ERR-02-015", absl::StatusCode::kResourceExhausted},
      {466, "ERR-01-006", absl::StatusCode::kFailedPrecondition},
      {467, "ERR-01-007", absl::StatusCode::kFailedPrecondition},
      {468, "ERR-01-008", absl::StatusCode::kFailedPrecondition},
      {500, "", absl::StatusCode::kInternal},
      {501, "", absl::StatusCode::kUnimplemented},
      {502, "", absl::StatusCode::kUnavailable},
      {503, "", absl::StatusCode::kUnavailable},
      {504, "", absl::StatusCode::kUnavailable},
      {599, "", absl::StatusCode::kInternal},
      {302, "", absl::StatusCode::kUnknown},
  };
  for (const Case& c : cases) {
    ApiError e;
    e.http_status = c.http;
    e.error_code = c.code;
    EXPECT_EQ(StatusCodeForApiError(e), c.want) << c.http << " " << c.code;
  }
}

TEST(ApiErrorStatus, MessagePayloadAndRedaction) {
  const std::string key = "phak_SECRET123";
  ApiError e =
      ParseApiError(409, R"({"detail":{"error_code":"ERR-03-007","message":"key phak_SECRET123 conflicts\nagain"}})");
  absl::Status s = ApiErrorStatus("commit cvm provision", e, key, std::nullopt);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "commit cvm provision: HTTP 409 ERR-03-007: key [REDACTED] conflicts again");
  EXPECT_TRUE(IsAppIdConflict(s));
  std::optional<ApiErrorInfo> info = GetApiErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->http_status, 409);
  EXPECT_EQ(info->error_code, "ERR-03-007");

  ApiError r;
  r.http_status = 429;
  absl::Status limited = ApiErrorStatus("list kms", r, key, absl::Seconds(90));
  EXPECT_EQ(limited.message(), "list kms: HTTP 429: (no message) (retry after 1m30s)");
  EXPECT_EQ(GetApiErrorInfo(limited)->retry_after, absl::Seconds(90));
  EXPECT_FALSE(IsAppIdConflict(limited));
  EXPECT_FALSE(GetApiErrorInfo(absl::InternalError("x")).has_value());
}

TEST(ApiErrorStatus, LongMessagesAreCutAfterRedaction) {
  const std::string key(40, 'k');
  ApiError e;
  e.http_status = 500;
  e.message = std::string(480, 'a') + key + std::string(100, 'b');
  absl::Status s = ApiErrorStatus("op", e, key, std::nullopt);
  EXPECT_FALSE(absl::StrContains(s.message(), std::string(12, 'k')));
  EXPECT_TRUE(absl::StrContains(s.message(), "[REDACTED]"));
  EXPECT_TRUE(absl::EndsWith(s.message(), "..."));
}

TEST(Redact, EveryOccurrence) {
  EXPECT_EQ(Redact("a KEY b KEY", "KEY"), "a [REDACTED] b [REDACTED]");
  EXPECT_EQ(Redact("nothing", ""), "nothing");
}

TEST(RetryAfter, SecondsAndDates) {
  const absl::Time now = absl::FromCivil(absl::CivilSecond(2015, 10, 21, 7, 28, 0), absl::UTCTimeZone());
  EXPECT_EQ(ParseRetryAfter("2", now), absl::Seconds(2));
  EXPECT_EQ(ParseRetryAfter(" 120 ", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), absl::Seconds(30));
  EXPECT_EQ(ParseRetryAfter("Wednesday, 21-Oct-15 07:29:00 GMT", now), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Wed Oct 21 07:28:05 2015", now), absl::Seconds(5));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-1", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("1.5", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
}

}  // namespace
}  // namespace cloudapi
