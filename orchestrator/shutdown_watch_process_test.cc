// WatchOperation across a SIGTERM of the real orchestrator binary (Unix socket, SQLite journal,
// an unreachable Phala Cloud so that an update stays RUNNING, retrying): watchers that reconnect
// at once whenever their stream ends, on shared and fresh channels, while the process shuts down.
// The API promises UNAVAILABLE ("reconnect and watch again"); no stream may end CANCELLED, which
// a client takes for its own cancellation.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "platform/testing/server_process.h"

namespace {

namespace v1 = onchainkms::orchestrator::v1;
using platform::testing::RunfilePath;
using platform::testing::ServerProcess;
using platform::testing::ShortTempDir;

// An admin (this test's uid) acts on any CVM, so that an update starts without an adoption.
std::unique_ptr<ServerProcess> StartOrchestrator(const ShortTempDir& dir, const std::string& address) {
  const std::string d = dir.path();
  { std::ofstream(d + "/api-key") << "phak_test_key\n"; }
  ::chmod((d + "/api-key").c_str(), 0600);
  {
    std::ofstream(d + "/o.textproto") << "listen { unix { path: \"" << d << "/orchestrator.sock\" } }\n"
                                      << "phala_cloud { base_url: \"http://127.0.0.1:9/api/v1\" api_key_file: \"" << d
                                      << "/api-key\" }\njournal_path: \"" << d << "/journal.sqlite\"\n"
                                      << "access { admins: \"uid:" << ::getuid() << "\" }\n";
  }
  absl::StatusOr<std::unique_ptr<ServerProcess>> p =
      ServerProcess::Start(RunfilePath("orchestrator/orchestrator"), {"--config=" + d + "/o.textproto"});
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok() || !(*p)->WaitUntilServing(address).ok()) return nullptr;
  return *std::move(p);
}

// Counts how WatchOperation streams ended, by status code.
class Outcomes {
 public:
  void Add(grpc::StatusCode code, const std::string& message) {
    absl::MutexLock l(&mu_);
    ++counts_[code];
    if (code == grpc::StatusCode::CANCELLED && cancelled_example_.empty()) cancelled_example_ = message;
  }
  int count(grpc::StatusCode code) {
    absl::MutexLock l(&mu_);
    return counts_[code];
  }
  std::string Summary() {
    absl::MutexLock l(&mu_);
    std::string s;
    for (const auto& [code, n] : counts_) absl::StrAppend(&s, "code ", code, ": ", n, "; ");
    return absl::StrCat(s, "first CANCELLED: ", cancelled_example_);
  }

 private:
  absl::Mutex mu_;
  std::map<grpc::StatusCode, int> counts_ ABSL_GUARDED_BY(mu_);
  std::string cancelled_example_ ABSL_GUARDED_BY(mu_);
};

// Watches `id` until `stop`, again at once after every end (a new channel object per round when
// `fresh_channels`; gRPC may still share the connection), recording each stream's status.
void WatchAgainAndAgain(const std::string& address, const std::string& id, bool fresh_channels,
                        const std::atomic<bool>& stop, Outcomes& outcomes) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  while (!stop.load()) {
    if (fresh_channels) channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    std::unique_ptr<v1::Orchestrator::Stub> stub = v1::Orchestrator::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::WatchOperationRequest request;
    request.set_operation_id(id);
    std::unique_ptr<grpc::ClientReader<v1::OperationEvent>> reader = stub->WatchOperation(&context, request);
    v1::OperationEvent event;
    while (reader->Read(&event)) {
    }
    grpc::Status status = reader->Finish();
    outcomes.Add(status.error_code(), status.error_message());
  }
}

TEST(ShutdownWatchProcessTest, WatchesEndUnavailableNeverCancelledWhileTheOrchestratorStops) {
  ShortTempDir dir;
  const std::string address = "unix:" + dir.path() + "/orchestrator.sock";
  for (int round = 0; round < 2; ++round) {
    std::unique_ptr<ServerProcess> process = StartOrchestrator(dir, address);
    ASSERT_NE(process, nullptr);
    auto stub = v1::Orchestrator::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    v1::UpdateEnvVarsRequest update;
    update.set_request_id(absl::StrCat("shutdown-watch-", round));
    update.set_cvm_id("cvm-1");
    v1::EnvVar* var = update.add_env_vars();
    var->set_key("KEY");
    var->set_value("value");
    grpc::ClientContext context;
    v1::Operation op;
    grpc::Status s = stub->UpdateEnvVars(&context, update, &op);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(op.state() == v1::OPERATION_STATE_PENDING || op.state() == v1::OPERATION_STATE_RUNNING)
        << v1::OperationState_Name(op.state());

    Outcomes outcomes;
    std::atomic<bool> stop{false};
    std::vector<std::thread> watchers;
    for (int i = 0; i < 6; ++i) {
      watchers.emplace_back(WatchAgainAndAgain, address, op.id(), /*fresh_channels=*/i % 2 == 1, std::cref(stop),
                            std::ref(outcomes));
    }
    absl::SleepFor(absl::Milliseconds(300));  // every watcher on the stream
    absl::StatusOr<int> code = process->Stop(SIGTERM);
    EXPECT_TRUE(code.ok() && *code == 0) << (code.ok() ? absl::StrCat("exit ", *code) : code.status().ToString());
    absl::SleepFor(absl::Milliseconds(200));  // a few refused connections too
    stop = true;
    for (std::thread& t : watchers) t.join();

    EXPECT_EQ(outcomes.count(grpc::StatusCode::CANCELLED), 0) << "round " << round << ": " << outcomes.Summary();
    EXPECT_GE(outcomes.count(grpc::StatusCode::UNAVAILABLE), 6) << outcomes.Summary();
    EXPECT_EQ(outcomes.count(grpc::StatusCode::DEADLINE_EXCEEDED), 0) << outcomes.Summary();
  }
}

}  // namespace
