#include "signer/engine/refusal_limiter.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/testing/wait_for.h"

namespace signer::engine {
namespace {

// The audit log's records, parsed.
std::vector<boost::json::object> Records(const std::string& path) {
  std::vector<boost::json::object> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(boost::json::parse(line).as_object());
  return out;
}

class RefusalLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(getenv("TEST_TMPDIR"), "/", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                         ".jsonl");
    audit_ = *audit::AuditLog::Open(path_, absl::ZeroDuration());
  }
  // Refused calls from `peer` (a new port each time, as reconnecting clients have): how many
  // were admitted, each written as the engine would.
  int Flood(RefusalLimiter& limiter, const std::string& ip, int calls) {
    int admitted = 0;
    for (int i = 0; i < calls; ++i) {
      if (limiter.Admit(absl::StrCat("ipv4:", ip, ":", 40000 + i))) {
        ++admitted;
        EXPECT_TRUE(audit_->Append(boost::json::object{{"method", "ListKeys"}, {"decision", "deny"}}).ok());
      }
    }
    return admitted;
  }
  static std::string Str(const boost::json::object& r, const char* key) {
    return r.contains(key) && r.at(key).is_string() ? std::string(r.at(key).as_string()) : "";
  }
  uint64_t SuppressedIn(const boost::json::object& r) { return r.at("suppressed").to_number<uint64_t>(); }

  std::string path_;
  std::unique_ptr<audit::AuditLog> audit_;
};

TEST_F(RefusalLimiterTest, AFloodWritesABoundedNumberOfRecordsAndTheTimerWritesTheCount) {
  RefusalLimiter limiter(audit_.get(), {.summary_interval = absl::Milliseconds(300)});
  const int admitted = Flood(limiter, "10.0.0.7", 2000);
  EXPECT_GE(admitted, 5);
  EXPECT_LE(admitted, 7) << "burst 5, 1/s";
  // The timer writes the summary (every 300 ms): waited for, not slept on.
  EXPECT_TRUE(platform::testing::WaitFor([&] { return Records(path_).size() > static_cast<size_t>(admitted); }));
  std::vector<boost::json::object> records = Records(path_);
  ASSERT_EQ(records.size(), static_cast<size_t>(admitted) + 1);
  const boost::json::object& summary = records.back();
  EXPECT_EQ(Str(summary, "event"), "refusals_suppressed");
  EXPECT_EQ(Str(summary, "peer"), "ipv4:10.0.0.7");
  EXPECT_EQ(SuppressedIn(summary), static_cast<uint64_t>(2000 - admitted));
  EXPECT_EQ(Str(summary, "message"),
            absl::StrCat(2000 - admitted, " refusals from ipv4:10.0.0.7 suppressed in the last ",
                         summary.at("seconds").as_int64(), " s"));
  EXPECT_TRUE(audit::VerifyAuditLog(path_).ok);
}

TEST_F(RefusalLimiterTest, TheSummaryPrecedesThePeersNextAdmittedRecord) {
  RefusalLimiter limiter(audit_.get(), {.summary_interval = absl::Hours(1)});
  const int admitted = Flood(limiter, "10.0.0.8", 100);
  absl::SleepFor(absl::Milliseconds(1100));  // one token back
  ASSERT_EQ(Flood(limiter, "10.0.0.8", 1), 1);
  std::vector<boost::json::object> records = Records(path_);
  ASSERT_EQ(records.size(), static_cast<size_t>(admitted) + 2);
  EXPECT_EQ(Str(records[admitted], "event"), "refusals_suppressed");
  EXPECT_EQ(SuppressedIn(records[admitted]), static_cast<uint64_t>(100 - admitted));
  EXPECT_EQ(Str(records.back(), "method"), "ListKeys");
}

TEST_F(RefusalLimiterTest, TheGlobalBucketBoundsManyPeersAndNothingGoesUncounted) {
  int admitted = 0;
  {
    RefusalLimiter limiter(audit_.get(), {.global_burst = 20, .summary_interval = absl::Hours(1)});
    for (int peer = 0; peer < 200; ++peer) admitted += Flood(limiter, absl::StrCat("10.1.0.", peer), 1);
    EXPECT_GE(admitted, 20);
    EXPECT_LE(admitted, 22);
  }  // destroyed: the last summaries are written
  uint64_t summarized = 0;
  for (const boost::json::object& r : Records(path_)) {
    if (r.contains("event")) summarized += SuppressedIn(r);
  }
  EXPECT_EQ(summarized + static_cast<uint64_t>(admitted), 200u);
}

TEST(RefusalLimiter, PeerIdentityDropsThePort) {
  EXPECT_EQ(RefusalLimiter::PeerIdentity("ipv4:10.0.0.7:51234"), "ipv4:10.0.0.7");
  EXPECT_EQ(RefusalLimiter::PeerIdentity("ipv6:[::1]:51234"), "ipv6:[::1]");
  EXPECT_EQ(RefusalLimiter::PeerIdentity("unix:/run/signer.sock"), "unix:/run/signer.sock");
  EXPECT_EQ(RefusalLimiter::PeerIdentity("ipv4:10.0.0.7"), "ipv4:10.0.0.7");
}

}  // namespace
}  // namespace signer::engine
