// PostgreSQL stopped for 10 s under a running stack (design § 9.3): the orchestrator's journal and
// the signer's record on one real PostgreSQL 15, deploys and two-phase compose updates in flight
// (anvil mines a block a second and the simulator answers slowly, so they are), the server
// stopped at the moment a transaction is pending and started 10 s later. The orchestrator's health
// must say NOT_SERVING meanwhile and SERVING after; every operation completes with every step
// SUCCEEDED; every effect happened exactly once (one AppAuth per deploy, one compose-hash
// transaction and one accepted confirming PATCH per update, one accepted commit per deploy), no
// nonce left open; and no log holds the database password.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/exactly_once.h"
#include "orchestrator/e2e/replica_client.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kWarmUp = 3;   // deployed first: the CVMs the updates change
constexpr int kDeploys = 6;  // in flight during the outage, with the kWarmUp updates
constexpr absl::Duration kOutage = absl::Seconds(10);

class PgOutageE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.postgres = true;
    options.signer_postgres = true;  // the signer's record on the same server: it goes down too
    options.block_time = absl::Seconds(1);
    StartStack(options);
  }
};

// Health samples of the orchestrator, every 200 ms, from a thread.
class HealthProbe {
 public:
  explicit HealthProbe(std::string address) : address_(std::move(address)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        absl::StatusOr<std::string> h = platform::testing::CheckHealth(address_, "", absl::Milliseconds(500));
        {
          std::lock_guard<std::mutex> lock(mu_);
          samples_.push_back({absl::Now(), h.ok() ? *h : "ERROR"});
        }
        absl::SleepFor(absl::Milliseconds(200));
      }
    });
  }
  ~HealthProbe() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // The first sample in [from, to) with `status`, or InfiniteFuture.
  absl::Time First(const std::string& status, absl::Time from, absl::Time to) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [t, s] : samples_) {
      if (t >= from && t < to && s == status) return t;
    }
    return absl::InfiniteFuture();
  }

 private:
  const std::string address_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<absl::Time, std::string>> samples_;
  std::thread thread_;
};

bool TransactionPending(Stack& stack) {
  absl::StatusOr<json::value> latest =
      stack.anvil().Call("eth_getTransactionCount", json::array{stack.signer_address(), "latest"});
  absl::StatusOr<json::value> pending =
      stack.anvil().Call("eth_getTransactionCount", json::array{stack.signer_address(), "pending"});
  return latest.ok() && pending.ok() && latest->as_string() != pending->as_string();
}

v1::UpdateDockerComposeRequest ComposeUpdate(const std::string& request_id, const std::string& cvm) {
  v1::UpdateDockerComposeRequest r;
  r.set_request_id(request_id);
  r.set_cvm_id(cvm);
  r.set_docker_compose_file(
      absl::StrCat("services:\n  app:\n    image: nginx:1.27\n    command: [\"", request_id, "\"]\n"));
  return r;
}

TEST_F(PgOutageE2eTest, StoppedTenSecondsEveryOperationCompletesOnce) {
  ReplicaClient client(*stack_, absl::Seconds(30));
  std::vector<v1::Operation> deploys;
  std::vector<FinishedUpdate> updates;
  for (int i = 0; i < kWarmUp; ++i) {
    absl::StatusOr<v1::Operation> op =
        client.Deploy(stack_->DeployRequest(absl::StrCat("warm-", i), absl::StrCat("pg-warm-", i)), 0);
    ASSERT_TRUE(op.ok()) << op.status();
    absl::StatusOr<v1::Operation> done = client.WaitFor(op->id(), 0, absl::Seconds(60));
    ASSERT_TRUE(done.ok()) << done.status();
    ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->ShortDebugString();
    updates.push_back({*done, done->deploy().app_id()});  // the update's operation replaces it below
  }
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"latency","latency_ms":300,"path_prefix":"/cvms"})").ok());
  absl::StatusOr<EffectCounts> before = CountEffects(*stack_);
  ASSERT_TRUE(before.ok()) << before.status();

  // The load: deploys and two-phase updates at once.
  std::vector<std::string> ids(kDeploys + kWarmUp);
  std::vector<std::thread> senders;
  for (int i = 0; i < kDeploys + kWarmUp; ++i) {
    senders.emplace_back([&, i] {
      absl::StatusOr<v1::Operation> op =
          i < kDeploys ? client.Deploy(stack_->DeployRequest(absl::StrCat("load-", i), absl::StrCat("pg-load-", i)), 0)
                       : client.UpdateDockerCompose(
                             ComposeUpdate(absl::StrCat("update-", i), updates[i - kDeploys].operation.cvm_id()), 0);
      EXPECT_TRUE(op.ok()) << op.status();
      if (op.ok()) ids[i] = op->id();
    });
  }
  for (std::thread& t : senders) t.join();

  const absl::Time wait_until = absl::Now() + absl::Seconds(20);
  while (!TransactionPending(*stack_) && absl::Now() < wait_until) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(TransactionPending(*stack_)) << "no transaction in flight to stop the database under";

  HealthProbe probe(stack_->address());
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(stack_->postgres().Stop().ok());
  absl::SleepFor(kOutage);
  const absl::Time started = absl::Now();
  ASSERT_TRUE(stack_->postgres().Start().ok());

  for (int i = 0; i < kDeploys + kWarmUp; ++i) {
    if (ids[i].empty()) continue;
    absl::StatusOr<v1::Operation> done = client.WaitFor(ids[i], 0, absl::Seconds(120));
    ASSERT_TRUE(done.ok()) << done.status();
    if (i < kDeploys) {
      deploys.push_back(*done);
    } else {
      updates[i - kDeploys].operation = *done;
    }
  }
  probe.Stop();
  std::fprintf(stderr, "NOT_SERVING %s after the stop, SERVING %s after the start, all done %s after the start\n",
               absl::FormatDuration(probe.First("NOT_SERVING", stopped, started) - stopped).c_str(),
               absl::FormatDuration(probe.First("SERVING", started, absl::InfiniteFuture()) - started).c_str(),
               absl::FormatDuration(absl::Now() - started).c_str());

  EXPECT_LT(probe.First("NOT_SERVING", stopped, started) - stopped, absl::Seconds(2))
      << "NOT_SERVING within 2 s of the stop";
  EXPECT_EQ(probe.First("SERVING", stopped + absl::Seconds(2), started), absl::InfiniteFuture())
      << "SERVING while the database was down";
  EXPECT_LT(probe.First("SERVING", started, absl::InfiniteFuture()) - started, absl::Seconds(5))
      << "SERVING within 5 s of the start";
  ExpectExactlyOnce(*stack_, *before, deploys, updates);
  ExpectSignerRecordMatchesChain(*stack_, deploys, updates);

  const std::string log = stack_->orchestrator_log();
  EXPECT_THAT(log, HasSubstr("operation paused: the journal cannot be written"));
  EXPECT_THAT(log, HasSubstr("journal writable again"));
  EXPECT_THAT(log, Not(HasSubstr(stack_->postgres().app_password())));
}

}  // namespace
}  // namespace orchestrator::e2e
