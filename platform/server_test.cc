#include "platform/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "platform/testing/server_process.h"

namespace platform {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

std::unique_ptr<Health::Stub> HealthStub(const std::string& address) {
  return Health::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<Server> StartOrDie(const ListenOptions& options) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {});
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(ServerTest, UnixSocketHealthCheck) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/s.sock";
  std::unique_ptr<Server> server = StartOrDie({.address = "unix:" + path});
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->address(), "unix:" + path);

  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(*testing::CheckHealth(server->address(), ""), "NOT_SERVING");
  server->health().SetAll(HealthService::kServing);
  EXPECT_EQ(*testing::CheckHealth(server->address(), ""), "SERVING");
  absl::StatusOr<std::string> unknown = testing::CheckHealth(server->address(), "no.such.Service");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);

  server->Shutdown(absl::Seconds(1));
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file should be removed on shutdown";
}

TEST(ServerTest, SocketModeAndGroupAreApplied) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/g.sock";
  std::unique_ptr<Server> server =
      StartOrDie({.address = "unix:" + path, .unix_mode = 0660, .unix_group = std::to_string(::getgid())});
  ASSERT_NE(server, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(ServerTest, LiveSocketIsNotStolenAndStaleOneIsReplaced) {
  testing::ShortTempDir dir;
  const std::string address = "unix:" + dir.path() + "/one.sock";
  std::unique_ptr<Server> first = StartOrDie({.address = address});
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Start({.address = address}, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already listening"));
  first->health().SetAll(HealthService::kServing);
  EXPECT_EQ(*testing::CheckHealth(address, ""), "SERVING");  // the first one still answers
}

TEST(ServerTest, MissingSocketDirectoryIsNamed) {
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start({.address = "unix:/nonexistent-okms/x.sock"}, {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(), HasSubstr("/nonexistent-okms does not exist"));
}

TEST(ServerTest, TcpRules) {
  absl::StatusOr<std::unique_ptr<Server>> open = Server::Start({.address = "0.0.0.0:0"}, {});
  EXPECT_EQ(open.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<Server>> implicit = Server::Start({.address = "127.0.0.1:0"}, {});
  EXPECT_EQ(implicit.status().code(), absl::StatusCode::kInvalidArgument);

  std::unique_ptr<Server> loopback = StartOrDie({.address = "127.0.0.1:0", .insecure_loopback = true});
  ASSERT_NE(loopback, nullptr);
  EXPECT_THAT(loopback->address(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(loopback->address(), "127.0.0.1:0");
  loopback->health().SetServingStatus("", HealthService::kServing);
  EXPECT_EQ(*testing::CheckHealth(loopback->address(), ""), "SERVING");
}

TEST(ServerTest, WatchStreamsChangesAndEndsOnShutdown) {
  testing::ShortTempDir dir;
  std::unique_ptr<Server> server = StartOrDie({.address = "unix:" + dir.path() + "/w.sock"});
  ASSERT_NE(server, nullptr);
  auto stub = HealthStub(server->address());

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  HealthCheckRequest request;
  auto reader = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  server->health().SetServingStatus("", HealthService::kServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  // Setting the same status again sends nothing; the next change arrives next.
  server->health().SetServingStatus("", HealthService::kServing);
  server->health().SetServingStatus("", HealthService::kNotServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  server->health().SetServingStatus("", HealthService::kServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread stopper([&] { server->Shutdown(absl::Seconds(5)); });
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_TRUE(reader->Finish().ok());
  stopper.join();
}

TEST(ServerTest, WatchOfAnUnknownServiceWaitsForIt) {
  testing::ShortTempDir dir;
  std::unique_ptr<Server> server = StartOrDie({.address = "unix:" + dir.path() + "/u.sock"});
  ASSERT_NE(server, nullptr);
  auto stub = HealthStub(server->address());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  HealthCheckRequest request;
  request.set_service("later.Service");
  auto reader = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  server->health().SetServingStatus("later.Service", HealthService::kServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST(ServerTest, ManyWatchersAndChurn) {
  testing::ShortTempDir dir;
  std::unique_ptr<Server> server = StartOrDie({.address = "unix:" + dir.path() + "/m.sock"});
  ASSERT_NE(server, nullptr);
  auto stub = HealthStub(server->address());
  constexpr int kWatchers = 16;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWatchers; ++i) {
    threads.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      auto reader = stub->Watch(&context, HealthCheckRequest());
      HealthCheckResponse response;
      HealthCheckResponse::ServingStatus last = HealthCheckResponse::UNKNOWN;
      while (reader->Read(&response)) last = response.status();
      EXPECT_EQ(last, HealthCheckResponse::NOT_SERVING);  // the shutdown status comes last
      EXPECT_TRUE(reader->Finish().ok());
    });
  }
  for (int i = 0; i < 200; ++i) {
    server->health().SetAll(i % 2 ? HealthService::kServing : HealthService::kNotServing);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server->Shutdown(absl::Seconds(5));
  for (std::thread& t : threads) t.join();
}

TEST(ServerTest, AnIdleConnectedClientDelaysShutdownAtMostByTheGrace) {
  testing::ShortTempDir dir;
  std::unique_ptr<Server> server = StartOrDie({.address = "unix:" + dir.path() + "/i.sock"});
  ASSERT_NE(server, nullptr);
  server->health().SetAll(HealthService::kServing);
  auto stub = HealthStub(server->address());  // stays connected and idle during the shutdown
  grpc::ClientContext context;
  HealthCheckResponse response;
  ASSERT_TRUE(stub->Check(&context, HealthCheckRequest(), &response).ok());
  const absl::Time start = absl::Now();
  server->Shutdown(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(HealthProbeTest, ExitCodes) {
  testing::ShortTempDir dir;
  const std::string probe = testing::RunfilePath("platform/health_probe");
  const std::string address = "unix:" + dir.path() + "/p.sock";
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address, "--timeout=200ms"}, {}), 2);
  std::unique_ptr<Server> server = StartOrDie({.address = address});
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address}, {}), 4);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address, "--service=x.Y"}, {}), 3);
  server->health().SetAll(HealthService::kServing);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address}, {}), 0);
  EXPECT_EQ(*testing::RunProgram(probe, {}, {}), 1);
}

TEST(HealthProbeTest, WaitsUntilServing) {
  testing::ShortTempDir dir;
  const std::string address = "unix:" + dir.path() + "/late.sock";
  std::unique_ptr<Server> server;
  std::thread starter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    server = StartOrDie({.address = address});
    server->health().SetAll(HealthService::kServing);
  });
  EXPECT_EQ(*testing::RunProgram(testing::RunfilePath("platform/health_probe"),
                                 {"--address=" + address, "--wait=20s", "--timeout=500ms"}, {}),
            0);
  starter.join();
}

}  // namespace
}  // namespace platform
