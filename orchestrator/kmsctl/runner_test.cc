// The runner against an in-process fake Orchestrator whose handlers each test scripts.
#include "orchestrator/kmsctl/runner.h"

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "orchestrator/kmsctl/cli.h"
#include "orchestrator/kmsctl/exit_codes.h"

namespace kmsctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Writer = grpc::ServerWriter<v1::OperationEvent>;

class FakeOrchestrator final : public v1::Orchestrator::Service {
 public:
  std::function<grpc::Status(const v1::DeployCvmRequest&, v1::Operation*)> deploy;
  std::function<grpc::Status(const v1::UpdateEnvVarsRequest&, v1::Operation*)> update_envs;
  std::function<grpc::Status(const v1::SupplyEnvVarsRequest&, v1::Operation*)> supply;
  std::function<grpc::Status(const v1::GetOperationRequest&, v1::Operation*)> get;
  std::function<grpc::Status(const v1::CancelOperationRequest&, v1::Operation*)> cancel;
  std::function<grpc::Status(const v1::ListOperationsRequest&, v1::ListOperationsResponse*)> list;
  std::function<grpc::Status(const v1::ListKmsInstancesRequest&, v1::ListKmsInstancesResponse*)> kms;
  std::function<grpc::Status(const v1::AdoptResourceRequest&, v1::AdoptResourceResponse*)> adopt;
  // Called once per WatchOperation call, with its 1-based number.
  std::function<grpc::Status(grpc::ServerContext*, int, Writer*)> watch;

  int watch_calls() {
    absl::MutexLock l(&mu_);
    return watch_calls_;
  }

  grpc::Status DeployCvm(grpc::ServerContext*, const v1::DeployCvmRequest* r, v1::Operation* o) override {
    return Call(deploy, *r, o);
  }
  grpc::Status UpdateEnvVars(grpc::ServerContext*, const v1::UpdateEnvVarsRequest* r, v1::Operation* o) override {
    return Call(update_envs, *r, o);
  }
  grpc::Status SupplyEnvVars(grpc::ServerContext*, const v1::SupplyEnvVarsRequest* r, v1::Operation* o) override {
    return Call(supply, *r, o);
  }
  grpc::Status GetOperation(grpc::ServerContext*, const v1::GetOperationRequest* r, v1::Operation* o) override {
    return Call(get, *r, o);
  }
  grpc::Status CancelOperation(grpc::ServerContext*, const v1::CancelOperationRequest* r, v1::Operation* o) override {
    return Call(cancel, *r, o);
  }
  grpc::Status ListOperations(grpc::ServerContext*, const v1::ListOperationsRequest* r,
                              v1::ListOperationsResponse* o) override {
    return Call(list, *r, o);
  }
  grpc::Status ListKmsInstances(grpc::ServerContext*, const v1::ListKmsInstancesRequest* r,
                                v1::ListKmsInstancesResponse* o) override {
    return Call(kms, *r, o);
  }
  grpc::Status AdoptResource(grpc::ServerContext*, const v1::AdoptResourceRequest* r,
                             v1::AdoptResourceResponse* o) override {
    return Call(adopt, *r, o);
  }
  grpc::Status WatchOperation(grpc::ServerContext* c, const v1::WatchOperationRequest*, Writer* w) override {
    int n;
    {
      absl::MutexLock l(&mu_);
      n = ++watch_calls_;
    }
    if (!watch) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no watch");
    return watch(c, n, w);
  }

 private:
  template <typename F, typename Req, typename Resp>
  static grpc::Status Call(const F& f, const Req& r, Resp* o) {
    if (!f) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not scripted");
    return f(r, o);
  }
  absl::Mutex mu_;
  int watch_calls_ = 0;
};

// Collects what a FILE* receives.
class Capture {
 public:
  Capture() : f_(std::tmpfile()) {}
  ~Capture() { std::fclose(f_); }
  std::FILE* file() { return f_; }
  std::string text() {
    std::fflush(f_);
    std::rewind(f_);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f_)) > 0) s.append(buf, n);
    std::fseek(f_, 0, SEEK_END);
    return s;
  }

 private:
  std::FILE* f_;
};

v1::Operation Op(v1::OperationState state, v1::OperationKind kind = v1::OPERATION_KIND_DEPLOY_CVM) {
  v1::Operation op;
  op.set_id("op_1");
  op.set_request_id("req-1");
  op.set_kind(kind);
  op.set_state(state);
  op.mutable_create_time()->set_seconds(1000);
  for (const char* name : {"provision", "deploy_app_auth", "commit"}) {
    v1::Step* s = op.add_steps();
    s->set_name(name);
    s->set_state(v1::STEP_STATE_PENDING);
  }
  return op;
}

void SetStep(v1::Operation* op, int i, v1::StepState state, int64_t start, int64_t finish = 0) {
  v1::Step* s = op->mutable_steps(i);
  s->set_state(state);
  s->mutable_start_time()->set_seconds(start);
  if (finish != 0) s->mutable_finish_time()->set_seconds(finish);
}

v1::OperationEvent Ev(v1::OperationEvent::Type type, const std::string& step, const v1::Operation& op) {
  v1::OperationEvent e;
  e.set_operation_id(op.id());
  e.set_type(type);
  e.set_step(step);
  e.mutable_time()->set_seconds(op.create_time().seconds() + 1);
  *e.mutable_operation() = op;
  return e;
}

// The events of a deploy that runs to `end` from the start.
std::vector<v1::OperationEvent> DeployEvents(v1::OperationState end) {
  std::vector<v1::OperationEvent> events;
  v1::Operation op = Op(v1::OPERATION_STATE_RUNNING);
  events.push_back(Ev(v1::OperationEvent::TYPE_SNAPSHOT, "", op));
  SetStep(&op, 0, v1::STEP_STATE_RUNNING, 1000);
  events.push_back(Ev(v1::OperationEvent::TYPE_STEP_STARTED, "provision", op));
  SetStep(&op, 0, v1::STEP_STATE_SUCCEEDED, 1000, 1001);
  events.push_back(Ev(v1::OperationEvent::TYPE_STEP_SUCCEEDED, "provision", op));
  SetStep(&op, 1, v1::STEP_STATE_RUNNING, 1001);
  events.push_back(Ev(v1::OperationEvent::TYPE_STEP_STARTED, "deploy_app_auth", op));
  if (end == v1::OPERATION_STATE_FAILED) {
    SetStep(&op, 1, v1::STEP_STATE_FAILED, 1001, 1002);
    op.mutable_error()->set_code(9);
    op.mutable_error()->set_message("revert: not owner");
    op.mutable_error()->set_step("deploy_app_auth");
    events.push_back(Ev(v1::OperationEvent::TYPE_STEP_FAILED, "deploy_app_auth", op));
  } else {
    SetStep(&op, 1, v1::STEP_STATE_SUCCEEDED, 1001, 1002);
    op.mutable_steps(1)->set_transaction_hash("0xaa");
    events.push_back(Ev(v1::OperationEvent::TYPE_STEP_SUCCEEDED, "deploy_app_auth", op));
    SetStep(&op, 2, v1::STEP_STATE_SUCCEEDED, 1002, 1003);
    events.push_back(Ev(v1::OperationEvent::TYPE_STEP_SUCCEEDED, "commit", op));
    op.mutable_deploy()->set_cvm_id("cvm-9");
    op.mutable_deploy()->set_app_id("0xAPP");
  }
  op.set_state(end);
  op.mutable_update_time()->set_seconds(1003);
  events.push_back(Ev(v1::OperationEvent::TYPE_STATE_CHANGED, "", op));
  return events;
}

grpc::Status WriteAll(Writer* w, const std::vector<v1::OperationEvent>& events) {
  for (const v1::OperationEvent& e : events) w->Write(e);
  return grpc::Status::OK;
}

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::Orchestrator::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    retry_.first_backoff = absl::Milliseconds(10);
    retry_.max_backoff = absl::Milliseconds(20);
  }
  ~RunnerTest() override { server_->Shutdown(std::chrono::system_clock::now()); }

  Invocation Inv(std::vector<std::string> args) {
    args.insert(args.begin(), "--orchestrator=unix:/test.sock");
    auto r = ParseCommandLine(args, SystemIo());
    if (auto* e = std::get_if<CliError>(&r)) {
      ADD_FAILURE() << e->message;
      return Invocation();
    }
    return std::get<Invocation>(r);
  }

  int RunCommand(const Invocation& inv) {
    return ::kmsctl::Run(inv, *stub_, out_.file(), err_.file(), interrupter_, retry_);
  }

  // A deploy command with a fixed request id and the env file given.
  Invocation DeployInv(std::vector<std::string> extra = {}) {
    env_path_ = ::testing::TempDir() + "/runner_test.env";
    std::FILE* f = std::fopen(env_path_.c_str(), "w");
    std::fputs("A=1\nB=secret-two\n", f);
    std::fclose(f);
    compose_path_ = ::testing::TempDir() + "/runner_test.yml";
    f = std::fopen(compose_path_.c_str(), "w");
    std::fputs("services: {}\n", f);
    std::fclose(f);
    std::vector<std::string> args = {"deploy",
                                     "--name=my-app",
                                     "--kms=base",
                                     "--compose=" + compose_path_,
                                     "--env-file=" + env_path_,
                                     "--request-id=req-1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Inv(args);
  }

  FakeOrchestrator service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Orchestrator::Stub> stub_;
  Capture out_;
  Capture err_;
  Interrupter interrupter_;
  RetryPolicy retry_;
  std::string env_path_;
  std::string compose_path_;
};

TEST_F(RunnerTest, DeployFollowsToSuccess) {
  v1::DeployCvmRequest seen;
  service_.deploy = [&](const v1::DeployCvmRequest& r, v1::Operation* o) {
    seen = r;
    *o = Op(v1::OPERATION_STATE_PENDING);
    return grpc::Status::OK;
  };
  service_.watch = [](grpc::ServerContext*, int, Writer* w) {
    return WriteAll(w, DeployEvents(v1::OPERATION_STATE_SUCCEEDED));
  };
  Invocation inv = DeployInv();
  inv.request_id_generated = true;  // as if --request-id had not been given
  EXPECT_EQ(RunCommand(inv), kExitOk);
  EXPECT_EQ(seen.request_id(), "req-1");
  ASSERT_EQ(seen.env_vars_size(), 2);
  EXPECT_EQ(seen.env_vars(1).value(), "secret-two");
  const std::string out = out_.text();
  EXPECT_THAT(out, HasSubstr("operation op_1 (deploy_cvm, request req-1): running\n"));
  EXPECT_THAT(out, HasSubstr("deploy_app_auth          done      1.00s  tx 0xaa\n"));
  EXPECT_THAT(out, HasSubstr("state: succeeded"));
  EXPECT_THAT(out, HasSubstr("succeeded: deploy_cvm op_1 after 3.00s\n  cvm_id  cvm-9\n  app_id  0xAPP\n"));
  EXPECT_THAT(out + err_.text(), Not(HasSubstr("secret-two")));
  EXPECT_THAT(err_.text(), HasSubstr("request id req-1 (retry with --request-id=req-1)"));
}

TEST_F(RunnerTest, DeployJsonPrintsOnlyTheFinalOperation) {
  service_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_PENDING);
    return grpc::Status::OK;
  };
  service_.watch = [](grpc::ServerContext*, int, Writer* w) {
    return WriteAll(w, DeployEvents(v1::OPERATION_STATE_SUCCEEDED));
  };
  EXPECT_EQ(RunCommand(DeployInv({"--json"})), kExitOk);
  const std::string out = out_.text();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_THAT(out, HasSubstr(R"("state":"OPERATION_STATE_SUCCEEDED")"));
  EXPECT_THAT(out, HasSubstr(R"("cvm_id":"cvm-9")"));
}

TEST_F(RunnerTest, FailedAndCancelledOperations) {
  service_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_RUNNING);
    return grpc::Status::OK;
  };
  service_.watch = [](grpc::ServerContext*, int, Writer* w) {
    return WriteAll(w, DeployEvents(v1::OPERATION_STATE_FAILED));
  };
  EXPECT_EQ(RunCommand(DeployInv()), kExitOperationFailed);
  EXPECT_THAT(out_.text(), HasSubstr("deploy_app_auth          FAILED"));
  EXPECT_THAT(out_.text(), HasSubstr("error: FAILED_PRECONDITION (9) in step deploy_app_auth: revert: not owner"));

  // A call answered with an operation that is already terminal needs no watch.
  service_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_CANCELLED);
    return grpc::Status::OK;
  };
  const int watches = service_.watch_calls();
  EXPECT_EQ(RunCommand(DeployInv()), kExitOperationCancelled);
  EXPECT_EQ(service_.watch_calls(), watches);
}

TEST_F(RunnerTest, ReconnectsWhenTheWatchBreaks) {
  service_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_RUNNING);
    return grpc::Status::OK;
  };
  const std::vector<v1::OperationEvent> events = DeployEvents(v1::OPERATION_STATE_SUCCEEDED);
  service_.watch = [&](grpc::ServerContext*, int call, Writer* w) {
    if (call == 1) {  // snapshot + provision started, then the orchestrator goes away
      w->Write(events[0]);
      w->Write(events[1]);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    }
    if (call == 2) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
    // A fresh snapshot as of after provision succeeded, then the rest.
    v1::OperationEvent snapshot = events[2];
    snapshot.set_type(v1::OperationEvent::TYPE_SNAPSHOT);
    snapshot.set_step("");
    w->Write(snapshot);
    for (size_t i = 3; i < events.size(); ++i) w->Write(events[i]);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(DeployInv()), kExitOk);
  EXPECT_EQ(service_.watch_calls(), 3);
  const std::string out = out_.text();
  EXPECT_THAT(err_.text(), HasSubstr("lost the watch of op_1 (shutting down); reconnecting"));
  // Each step line once.
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t p = out.find(s); p != std::string::npos; p = out.find(s, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("provision                started"), 1u) << out;
  EXPECT_EQ(count("provision                done"), 1u) << out;
  EXPECT_EQ(count("operation op_1"), 1u) << out;
  EXPECT_EQ(count("commit                   done"), 1u) << out;
}

TEST_F(RunnerTest, SuppliesItsOwnEnvValuesWhenTheOperationWaits) {
  service_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_RUNNING);
    return grpc::Status::OK;
  };
  v1::SupplyEnvVarsRequest supplied;
  absl::Notification got_supply;
  service_.supply = [&](const v1::SupplyEnvVarsRequest& r, v1::Operation* o) {
    supplied = r;
    got_supply.Notify();
    *o = Op(v1::OPERATION_STATE_RUNNING);
    return grpc::Status::OK;
  };
  service_.watch = [&](grpc::ServerContext* c, int call, Writer* w) {
    if (call == 1) {
      v1::Operation op = Op(v1::OPERATION_STATE_WAITING_FOR_INPUT);
      op.mutable_input_request()->set_reason("restarted before encryption");
      op.mutable_input_request()->add_env_keys("A");
      op.mutable_input_request()->add_env_keys("B");
      w->Write(Ev(v1::OperationEvent::TYPE_SNAPSHOT, "", op));
      while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));  // a real watch stays open
      return grpc::Status::CANCELLED;
    }
    EXPECT_TRUE(got_supply.HasBeenNotified());
    return WriteAll(w, DeployEvents(v1::OPERATION_STATE_SUCCEEDED));
  };
  EXPECT_EQ(RunCommand(DeployInv()), kExitOk);
  EXPECT_EQ(supplied.operation_id(), "op_1");
  EXPECT_EQ(supplied.request_id(), "req-1:supply");
  ASSERT_EQ(supplied.env_vars_size(), 2);
  EXPECT_EQ(supplied.env_vars(0).key(), "A");
  EXPECT_EQ(supplied.env_vars(1).value(), "secret-two");
  EXPECT_THAT(out_.text(), HasSubstr("sending them again"));
  EXPECT_THAT(out_.text(), HasSubstr("succeeded: deploy_cvm op_1"));
}

TEST_F(RunnerTest, WatchOfAWaitingOperationExits11) {
  service_.watch = [](grpc::ServerContext* c, int, Writer* w) {
    v1::Operation op = Op(v1::OPERATION_STATE_WAITING_FOR_INPUT);
    op.mutable_input_request()->set_reason("lost");
    op.mutable_input_request()->add_env_keys("A");
    w->Write(Ev(v1::OperationEvent::TYPE_SNAPSHOT, "", op));
    while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::CANCELLED;
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "watch", "op_1"})), kExitWaitingForInput);
  EXPECT_THAT(out_.text(), HasSubstr("supply them: kmsctl ops supply-envs op_1 --env-file=FILE"));
}

TEST_F(RunnerTest, WatchJsonIsOneEventPerLine) {
  service_.watch = [](grpc::ServerContext*, int, Writer* w) {
    return WriteAll(w, DeployEvents(v1::OPERATION_STATE_SUCCEEDED));
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "watch", "op_1", "--json"})), kExitOk);
  const std::string out = out_.text();
  EXPECT_EQ(static_cast<size_t>(std::count(out.begin(), out.end(), '\n')),
            DeployEvents(v1::OPERATION_STATE_SUCCEEDED).size());
  EXPECT_THAT(out, HasSubstr(R"("type":"TYPE_SNAPSHOT")"));
  EXPECT_THAT(out, HasSubstr(R"("type":"TYPE_STATE_CHANGED")"));
}

TEST_F(RunnerTest, TimeoutExits12AndTheOperationGoesOn) {
  service_.watch = [](grpc::ServerContext* c, int, Writer* w) {
    w->Write(Ev(v1::OperationEvent::TYPE_SNAPSHOT, "", Op(v1::OPERATION_STATE_RUNNING)));
    while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::CANCELLED;
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "watch", "op_1", "--timeout=200ms"})), kExitTimeout);
  EXPECT_THAT(err_.text(), HasSubstr("timed out following operation op_1 (running); it goes on"));
}

TEST_F(RunnerTest, InterruptStopsTheWatch) {
  absl::Notification watching;
  service_.watch = [&](grpc::ServerContext* c, int, Writer* w) {
    w->Write(Ev(v1::OperationEvent::TYPE_SNAPSHOT, "", Op(v1::OPERATION_STATE_RUNNING)));
    watching.Notify();
    while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::CANCELLED;
  };
  std::thread t([&] {
    watching.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(50));
    interrupter_.Interrupt();
  });
  EXPECT_EQ(RunCommand(Inv({"ops", "watch", "op_1"})), kExitInterrupted);
  t.join();
  EXPECT_THAT(err_.text(), HasSubstr("interrupted; operation op_1 goes on in the orchestrator"));
}

TEST_F(RunnerTest, NoWaitReturnsTheAcceptedOperation) {
  service_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_PENDING);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(DeployInv({"--no-wait"})), kExitOk);
  EXPECT_EQ(service_.watch_calls(), 0);
  EXPECT_THAT(out_.text(), HasSubstr("state       pending\n"));
  EXPECT_THAT(out_.text(), HasSubstr("follow it: kmsctl ops watch op_1\n"));
}

TEST_F(RunnerTest, UnavailableIsRetriedWithTheSameRequestId) {
  std::vector<std::string> ids;
  service_.deploy = [&](const v1::DeployCvmRequest& r, v1::Operation* o) {
    ids.push_back(r.request_id());
    if (ids.size() < 3) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "journal busy");
    *o = Op(v1::OPERATION_STATE_SUCCEEDED);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(DeployInv()), kExitOk);
  EXPECT_EQ(ids, (std::vector<std::string>{"req-1", "req-1", "req-1"}));

  ids.clear();
  service_.deploy = [&](const v1::DeployCvmRequest& r, v1::Operation*) {
    ids.push_back(r.request_id());
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  };
  EXPECT_EQ(RunCommand(DeployInv()), kExitUnavailable);
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_THAT(err_.text(), HasSubstr("deploy: UNAVAILABLE: cannot reach the orchestrator at unix:/test.sock: down"));
  EXPECT_THAT(err_.text(), HasSubstr("when it is back, retry with --request-id=req-1"));
}

TEST_F(RunnerTest, StatusCodesBecomeExitCodes) {
  struct Case {
    grpc::StatusCode code;
    int exit;
  };
  for (const Case& c : std::vector<Case>{{grpc::StatusCode::INVALID_ARGUMENT, kExitInvalidArgument},
                                         {grpc::StatusCode::ALREADY_EXISTS, kExitAlreadyExists},
                                         {grpc::StatusCode::PERMISSION_DENIED, kExitPermissionDenied},
                                         {grpc::StatusCode::UNAUTHENTICATED, kExitPermissionDenied},
                                         {grpc::StatusCode::UNIMPLEMENTED, kExitError},
                                         {grpc::StatusCode::INTERNAL, kExitError}}) {
    service_.deploy = [&](const v1::DeployCvmRequest&, v1::Operation*) {
      return grpc::Status(c.code, "name: must start with a letter");
    };
    EXPECT_EQ(RunCommand(DeployInv()), c.exit) << c.code;
  }
  EXPECT_THAT(err_.text(), HasSubstr("kmsctl: deploy: INVALID_ARGUMENT: name: must start with a letter\n"));
  EXPECT_THAT(err_.text(), HasSubstr("request id req-1 belongs to a different request"));

  service_.get = [](const v1::GetOperationRequest& r, v1::Operation*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no operation " + r.operation_id());
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "get", "op_x"})), kExitNotFound);
  EXPECT_THAT(err_.text(), HasSubstr("kmsctl: getting operation op_x: NOT_FOUND: no operation op_x\n"));

  service_.cancel = [](const v1::CancelOperationRequest&, v1::Operation*) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the AppAuth transaction was sent");
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "cancel", "op_1"})), kExitFailedPrecondition);
}

TEST_F(RunnerTest, GetCancelAndLists) {
  service_.get = [](const v1::GetOperationRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_FAILED);  // `get` itself succeeds
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "get", "op_1"})), kExitOk);
  EXPECT_THAT(out_.text(), HasSubstr("state       failed\n"));

  service_.cancel = [](const v1::CancelOperationRequest&, v1::Operation* o) {
    *o = Op(v1::OPERATION_STATE_CANCELLED);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "cancel", "op_1", "--json"})), kExitOk);
  EXPECT_THAT(out_.text(), HasSubstr(R"("state":"OPERATION_STATE_CANCELLED")"));

  std::vector<std::string> tokens;
  service_.list = [&](const v1::ListOperationsRequest& r, v1::ListOperationsResponse* o) {
    tokens.push_back(r.page_token());
    v1::Operation* op = o->add_operations();
    *op = Op(v1::OPERATION_STATE_SUCCEEDED);
    op->set_id("op_p" + std::to_string(tokens.size()));
    if (tokens.size() < 3) o->set_next_page_token("t" + std::to_string(tokens.size()));
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(Inv({"ops", "list", "--all", "--json"})), kExitOk);
  EXPECT_EQ(tokens, (std::vector<std::string>{"", "t1", "t2"}));
  EXPECT_THAT(out_.text(), HasSubstr(R"("next_page_token":"")"));
  EXPECT_THAT(out_.text(), HasSubstr("op_p3"));

  tokens.clear();
  EXPECT_EQ(RunCommand(Inv({"ops", "list"})), kExitOk);
  EXPECT_EQ(tokens.size(), 1u);
  EXPECT_THAT(out_.text(), HasSubstr("more: kmsctl ops list --page-token=t1"));

  service_.kms = [](const v1::ListKmsInstancesRequest& r, v1::ListKmsInstancesResponse* o) {
    EXPECT_TRUE(r.onchain_only());
    v1::KmsInstance* k = o->add_kms_instances();
    k->set_id("kms-base-sim");
    k->set_kms_type(v1::KMS_TYPE_BASE);
    k->set_chain_id(31337);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(Inv({"kms", "list", "--onchain"})), kExitOk);
  EXPECT_THAT(out_.text(), HasSubstr("kms-base-sim  base  31337"));
}

// A real gRPC server on a Unix socket, as the orchestrator is: it can go away (a restart) and come
// back on the same path, with a fresh service.
class SocketServer {
 public:
  SocketServer() : path_(absl::StrCat("/tmp/kmsctl_runner_test_", ::getpid(), ".sock")) {}
  ~SocketServer() { Stop(); }
  std::string address() const { return "unix:" + path_; }

  void Start(FakeOrchestrator* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address(), grpc::InsecureServerCredentials());
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void Stop() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    server_.reset();
  }

 private:
  std::string path_;
  std::unique_ptr<grpc::Server> server_;
};

// Longer than the four unary attempts kmsctl used to make (about 4 s with gRPC's own reconnects).
constexpr absl::Duration kOutage = absl::Milliseconds(4500);

class OrchestratorRestartTest : public ::testing::Test {
 protected:
  OrchestratorRestartTest() {
    before_.deploy = [](const v1::DeployCvmRequest&, v1::Operation* o) {
      *o = Op(v1::OPERATION_STATE_RUNNING);
      return grpc::Status::OK;
    };
    // The orchestrator lost the env values; it goes down as kmsctl sends them again.
    before_.watch = [](grpc::ServerContext* c, int, Writer* w) {
      v1::Operation op = Op(v1::OPERATION_STATE_WAITING_FOR_INPUT);
      op.mutable_input_request()->set_reason("restarted before encryption");
      w->Write(Ev(v1::OperationEvent::TYPE_SNAPSHOT, "", op));
      while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
      return grpc::Status::CANCELLED;
    };
    before_.supply = [this](const v1::SupplyEnvVarsRequest&, v1::Operation*) {
      absl::MutexLock l(&mu_);
      supply_reached_before_ = true;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    };
    after_.supply = [this](const v1::SupplyEnvVarsRequest& r, v1::Operation* o) {
      absl::MutexLock l(&mu_);
      supplied_after_ = r;
      *o = Op(v1::OPERATION_STATE_RUNNING);
      return grpc::Status::OK;
    };
    after_.watch = [](grpc::ServerContext*, int, Writer* w) {
      return WriteAll(w, DeployEvents(v1::OPERATION_STATE_SUCCEEDED));
    };
    server_.Start(&before_);
  }

  // Stops the orchestrator once the supply reached it, and (with `come_back`) starts it again on
  // the same socket after kOutage.
  std::thread Restart(bool come_back) {
    return std::thread([this, come_back] {
      {
        absl::MutexLock l(&mu_);
        mu_.Await(absl::Condition(&supply_reached_before_));
      }
      server_.Stop();
      absl::SleepFor(kOutage);
      if (come_back) server_.Start(&after_);
    });
  }

  int RunDeploy(std::vector<std::string> extra) {
    const std::string env = ::testing::TempDir() + "/restart_test.env";
    const std::string compose = ::testing::TempDir() + "/restart_test.yml";
    std::FILE* f = std::fopen(env.c_str(), "w");
    std::fputs("A=1\nB=secret-two\n", f);
    std::fclose(f);
    f = std::fopen(compose.c_str(), "w");
    std::fputs("services: {}\n", f);
    std::fclose(f);
    std::vector<std::string> args = {"--orchestrator=" + server_.address(),
                                     "deploy",
                                     "--name=my-app",
                                     "--kms=base",
                                     "--compose=" + compose,
                                     "--env-file=" + env,
                                     "--request-id=req-1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto parsed = ParseCommandLine(args, SystemIo());
    EXPECT_TRUE(std::holds_alternative<Invocation>(parsed));
    const Invocation& inv = std::get<Invocation>(parsed);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(inv.connection, SystemIo());
    EXPECT_TRUE(channel.ok());
    std::unique_ptr<v1::Orchestrator::Stub> stub = v1::Orchestrator::NewStub(*channel);
    return ::kmsctl::Run(inv, *stub, out_.file(), err_.file(), interrupter_);  // the shipped retry policy
  }

  SocketServer server_;
  FakeOrchestrator before_;
  FakeOrchestrator after_;
  absl::Mutex mu_;
  bool supply_reached_before_ ABSL_GUARDED_BY(mu_) = false;
  v1::SupplyEnvVarsRequest supplied_after_ ABSL_GUARDED_BY(mu_);
  Capture out_;
  Capture err_;
  Interrupter interrupter_;
};

TEST_F(OrchestratorRestartTest, HandsTheEnvValuesBackAcrossAnOutageLongerThanFourTries) {
  std::thread restart = Restart(/*come_back=*/true);
  const absl::Time start = absl::Now();
  EXPECT_EQ(RunDeploy({}), kExitOk) << err_.text();
  restart.join();
  EXPECT_GE(absl::Now() - start, kOutage);
  absl::MutexLock l(&mu_);
  EXPECT_EQ(supplied_after_.request_id(), "req-1:supply");
  EXPECT_EQ(supplied_after_.env_vars_size(), 2);
  EXPECT_THAT(out_.text(), HasSubstr("succeeded: deploy_cvm op_1"));
  EXPECT_THAT(out_.text() + err_.text(), Not(HasSubstr("secret-two")));
}

TEST_F(OrchestratorRestartTest, TimeoutShorterThanTheOutageExits12) {
  std::thread restart = Restart(/*come_back=*/false);
  EXPECT_EQ(RunDeploy({"--timeout=2s"}), kExitTimeout) << err_.text();
  restart.join();
  EXPECT_THAT(err_.text(), HasSubstr("timed out following operation op_1 (waiting_for_input); it goes on"));
}

TEST_F(OrchestratorRestartTest, FollowsTheWatchAcrossAnOutage) {
  before_.watch = [](grpc::ServerContext* c, int, Writer* w) {
    const std::vector<v1::OperationEvent> events = DeployEvents(v1::OPERATION_STATE_SUCCEEDED);
    w->Write(events[0]);
    while (!c->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));  // until the server goes away
    return grpc::Status::CANCELLED;
  };
  std::thread restart([this] {
    absl::SleepFor(absl::Milliseconds(300));
    server_.Stop();
    absl::SleepFor(kOutage);
    server_.Start(&after_);
  });
  EXPECT_EQ(RunDeploy({}), kExitOk) << err_.text();
  restart.join();
  EXPECT_THAT(err_.text(), HasSubstr("lost the watch of op_1"));
  EXPECT_THAT(out_.text(), HasSubstr("succeeded: deploy_cvm op_1"));
}

TEST_F(RunnerTest, AdoptSendsTheResourceAndTenantAndPrintsBothOwners) {
  std::vector<v1::AdoptResourceRequest> got;
  service_.adopt = [&](const v1::AdoptResourceRequest& r, v1::AdoptResourceResponse* o) {
    got.push_back(r);
    if (r.tenant() == "ghost") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "tenant: 'ghost' is not a tenant");
    }
    if (r.tenant() == "team-x") return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not an admin");
    o->set_kind(r.has_app() ? "app" : "cvm");
    o->set_resource(r.has_app() ? "31337:0xab" : "cvm-9");
    o->mutable_owner()->set_tenant(r.tenant());
    o->mutable_owner()->set_source("adopt:token:admin");
    if (r.has_app()) {
      o->mutable_previous_owner()->set_tenant("team-a");
      o->mutable_previous_owner()->set_source("deploy:op_1");
    }
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(Inv({"adopt", "--cvm=cvm-9", "--tenant=team-b"})), kExitOk);
  EXPECT_EQ(out_.text(), "cvm cvm-9: now tenant team-b (adopt:token:admin); before: nobody\n");
  EXPECT_EQ(RunCommand(Inv({"adopt", "--chain-id=31337", "--app-contract=0xAB", "--tenant=team-b"})), kExitOk);
  EXPECT_THAT(out_.text(), HasSubstr("app 31337:0xab: now tenant team-b (adopt:token:admin); before: tenant team-a "
                                     "(deploy:op_1)\n"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].cvm_id(), "cvm-9");
  EXPECT_EQ(got[0].tenant(), "team-b");
  EXPECT_EQ(got[1].app().chain_id(), 31337u);
  EXPECT_EQ(got[1].app().app_contract_address(), "0xAB");
  EXPECT_EQ(RunCommand(Inv({"adopt", "--phala-app-id=ab", "--tenant=ghost"})), kExitInvalidArgument);
  EXPECT_EQ(got.back().phala_app_id(), "ab");
  EXPECT_THAT(err_.text(), HasSubstr("tenant: 'ghost' is not a tenant"));
  EXPECT_EQ(RunCommand(Inv({"adopt", "--cvm=cvm-9", "--tenant=team-x"})), kExitPermissionDenied);
}

TEST_F(RunnerTest, AdoptJsonIsTheResponse) {
  service_.adopt = [](const v1::AdoptResourceRequest& r, v1::AdoptResourceResponse* o) {
    o->set_kind("cvm");
    o->set_resource(r.cvm_id());
    o->mutable_owner()->set_tenant(r.tenant());
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCommand(Inv({"--json", "adopt", "--cvm=c1", "--tenant=t"})), kExitOk);
  EXPECT_THAT(out_.text(), HasSubstr("\"resource\":\"c1\""));
  EXPECT_THAT(out_.text(), HasSubstr("\"tenant\":\"t\""));
}

}  // namespace
}  // namespace kmsctl
