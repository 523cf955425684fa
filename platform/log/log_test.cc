#include "platform/log/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "platform/log/level_flag.h"

ABSL_DECLARE_FLAG(std::string, log_level);

namespace platform::log {
namespace {

const absl::Time kNoon = absl::FromUnixMillis(1785585600123);  // 2026-08-01T12:00:00.123Z

// Points fd 2 at a temporary file for the test's lifetime and hands back what was written.
class StderrCapture {
 public:
  StderrCapture() {
    std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/stderr_XXXXXX");
    fd_ = ::mkstemp(path.data());
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd_, STDERR_FILENO);
  }
  ~StderrCapture() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(fd_);
  }
  std::string Text() const {
    std::string out;
    char buf[4096];
    for (off_t off = 0;;) {
      const ssize_t n = ::pread(fd_, buf, sizeof(buf), off);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
};

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetMinLevel(Level::kInfo);
    absl::SetFlag(&FLAGS_log_level, "");
  }
};

TEST_F(LogTest, LevelNamesRoundTrip) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    absl::StatusOr<Level> parsed = ParseLevel(LevelName(l));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, l);
  }
  EXPECT_FALSE(ParseLevel("warning").ok());
  EXPECT_FALSE(ParseLevel("INFO").ok());
  EXPECT_FALSE(ParseLevel("").ok());
}

TEST_F(LogTest, FormatsOneJsonObjectWithTypedFields) {
  const std::string s = "op_1";
  EXPECT_EQ(FormatLine(Level::kWarn, kNoon, "step retrying",
                       {{"op", s},
                        {"attempt", 2},
                        {"neg", int64_t{-7}},
                        {"big", std::numeric_limits<uint64_t>::max()},
                        {"ok", true},
                        {"no", false},
                        {"seconds", 1.5},
                        {"nan", std::nan("")}}),
            "{\"ts\":\"2026-08-01T12:00:00.123Z\",\"level\":\"warn\",\"msg\":\"step retrying\",\"op\":\"op_1\","
            "\"attempt\":2,\"neg\":-7,\"big\":18446744073709551615,\"ok\":true,\"no\":false,\"seconds\":1.5,"
            "\"nan\":null}\n");
}

TEST_F(LogTest, TimestampHasMillisecondsInUtc) {
  EXPECT_EQ(FormatLine(Level::kInfo, absl::FromUnixSeconds(0), "m", {}),
            "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\",\"msg\":\"m\"}\n");
}

TEST_F(LogTest, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string nasty = std::string("a\"b\\c\nd\re\tf") + '\0' + "\x01\x1f\x7f" + "\xc3\xa9";
  const std::string line = FormatLine(Level::kError, kNoon, nasty, {{"k\"\n", nasty}});
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "only the terminating newline";
  const std::string escaped = "a\\\"b\\\\c\\nd\\re\\tf\\u0000\\u0001\\u001f\\u007f\xc3\xa9";
  EXPECT_NE(line.find(absl::StrCat("\"msg\":\"", escaped, "\"")), std::string::npos) << line;
  EXPECT_NE(line.find(absl::StrCat("\"k\\\"\\n\":\"", escaped, "\"")), std::string::npos) << line;
  boost::json::value parsed = boost::json::parse(line);
  EXPECT_EQ(parsed.at("msg").as_string(), boost::json::string_view(nasty.data(), nasty.size()));
}

TEST_F(LogTest, DropsLinesBelowTheMinimumLevel) {
  StderrCapture capture;
  SetMinLevel(Level::kWarn);
  Debug("d");
  Info("i");
  Warn("w");
  Error("e", {{"n", 1}});
  const std::vector<std::string> lines = absl::StrSplit(capture.Text(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << capture.Text();
  EXPECT_NE(lines[0].find("\"level\":\"warn\",\"msg\":\"w\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"level\":\"error\",\"msg\":\"e\",\"n\":1}"), std::string::npos);
  EXPECT_FALSE(Enabled(Level::kInfo));
  SetMinLevel(Level::kDebug);
  EXPECT_TRUE(Enabled(Level::kDebug));
}

TEST_F(LogTest, ConcurrentCallsWriteWholeLines) {
  StderrCapture capture;
  constexpr int kThreads = 8;
  constexpr int kLines = 200;
  const std::string payload(1000, 'x');  // long lines make interleaving likely if it could happen
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &payload] {
      for (int i = 0; i < kLines; ++i) Info("line", {{"thread", t}, {"i", i}, {"payload", payload}});
    });
  }
  for (std::thread& th : threads) th.join();
  const std::vector<std::string> lines = absl::StrSplit(capture.Text(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> per_thread(kThreads, 0);
  for (const std::string& line : lines) {
    boost::json::value v = boost::json::parse(line);  // throws (fails the test) on a torn line
    ASSERT_EQ(v.at("payload").as_string(), payload);
    ++per_thread[static_cast<size_t>(v.at("thread").as_int64())];
  }
  for (int n : per_thread) EXPECT_EQ(n, kLines);
}

TEST_F(LogTest, ApplyLogLevelTakesTheConfigValue) {
  ASSERT_TRUE(ApplyLogLevel("error").ok());
  EXPECT_FALSE(Enabled(Level::kWarn));
  EXPECT_TRUE(Enabled(Level::kError));
  ASSERT_TRUE(ApplyLogLevel("").ok());  // default
  EXPECT_TRUE(Enabled(Level::kInfo));
  EXPECT_FALSE(Enabled(Level::kDebug));
}

TEST_F(LogTest, ApplyLogLevelFlagOverridesTheConfig) {
  absl::SetFlag(&FLAGS_log_level, "debug");
  ASSERT_TRUE(ApplyLogLevel("error").ok());
  EXPECT_TRUE(Enabled(Level::kDebug));
}

TEST_F(LogTest, ApplyLogLevelNamesTheBadFieldOrFlag) {
  absl::Status s = ApplyLogLevel("loud");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("log_level: ", 0), 0u) << s;
  EXPECT_NE(s.message().find("loud"), absl::string_view::npos) << s;
  absl::SetFlag(&FLAGS_log_level, "warning");
  s = ApplyLogLevel("info");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("--log_level: ", 0), 0u) << s;
}

}  // namespace
}  // namespace platform::log
