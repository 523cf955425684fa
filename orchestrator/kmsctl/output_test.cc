#include "orchestrator/kmsctl/output.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace kmsctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

template <typename M>
M Parse(const std::string& text) {
  M m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

constexpr char kTx[] = "0x1111111111111111111111111111111111111111111111111111111111111111";

// 2024-05-01 12:00:00 UTC
constexpr char kSucceededDeploy[] = R"pb(
  id: "op_1"
  request_id: "req-1"
  kind: OPERATION_KIND_DEPLOY_CVM
  state: OPERATION_STATE_SUCCEEDED
  caller: "uid:1000"
  create_time { seconds: 1714564800 }
  update_time { seconds: 1714564803 nanos: 250000000 }
  cvm_id: "cvm-abc"
  steps { name: "provision" state: STEP_STATE_SUCCEEDED start_time { seconds: 1714564800 nanos: 10000000 } finish_time { seconds: 1714564800 nanos: 220000000 } attempts: 1 }
  steps {
    name: "deploy_app_auth" state: STEP_STATE_SUCCEEDED
    start_time { seconds: 1714564800 nanos: 300000000 } finish_time { seconds: 1714564801 nanos: 320000000 }
    transaction_hash: "0x1111111111111111111111111111111111111111111111111111111111111111" block_number: 5 attempts: 2
  }
  steps { name: "commit" state: STEP_STATE_SKIPPED detail: "not needed" }
  steps { name: "later" state: STEP_STATE_PENDING }
  deploy {
    cvm_id: "cvm-abc"
    app_id: "0xAbC0000000000000000000000000000000000001"
    kms_type: KMS_TYPE_BASE
    chain_id: 31337
    deploy_block_number: 5
  }
)pb";

TEST(OutputTest, JsonIsProto3WithProtoFieldNames) {
  v1::Operation op = Parse<v1::Operation>(kSucceededDeploy);
  const std::string json = ToJson(op);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_THAT(json, HasSubstr(R"("state":"OPERATION_STATE_SUCCEEDED")"));
  EXPECT_THAT(json, HasSubstr(R"("request_id":"req-1")"));
  EXPECT_THAT(json, HasSubstr(R"("chain_id":"31337")"));  // uint64 as a string
  EXPECT_THAT(json, HasSubstr(R"("create_time":"2024-05-01T12:00:00Z")"));
  EXPECT_THAT(json, HasSubstr(R"("app_auth_contract_address":"")"));  // defaults printed
  EXPECT_THAT(json, Not(HasSubstr(R"("update":)")));                  // other oneof members not
  EXPECT_EQ(ToJson(v1::ListKmsInstancesResponse()), R"({"kms_instances":[]})");
}

TEST(OutputTest, ShortNamesAndDurations) {
  EXPECT_EQ(ShortName(v1::KMS_TYPE_BASE), "base");
  EXPECT_EQ(ShortName(v1::OPERATION_STATE_WAITING_FOR_INPUT), "waiting_for_input");
  EXPECT_EQ(ShortName(v1::OPERATION_KIND_UPDATE_COMPOSE_FILE), "update_compose_file");
  EXPECT_EQ(ShortName(v1::STEP_STATE_SKIPPED), "skipped");
  EXPECT_EQ(ShortName(static_cast<v1::KmsType>(42)), "42");
  EXPECT_EQ(FormatSeconds(0.0004), "0ms");
  EXPECT_EQ(FormatSeconds(0.85), "850ms");
  EXPECT_EQ(FormatSeconds(2.414), "2.41s");
  EXPECT_EQ(FormatSeconds(65.2), "1m05s");
  EXPECT_EQ(FormatSeconds(-1), "0ms");
}

TEST(OutputTest, Operation) {
  const std::string text = FormatOperation(Parse<v1::Operation>(kSucceededDeploy));
  EXPECT_EQ(text,
            "operation   op_1\n"
            "kind        deploy_cvm\n"
            "state       succeeded\n"
            "request id  req-1\n"
            "caller      uid:1000\n"
            "created     2024-05-01 12:00:00 UTC\n"
            "updated     2024-05-01 12:00:03 UTC (+3.25s)\n"
            "cvm         cvm-abc\n"
            "steps:\n"
            "  provision        succeeded  210ms\n"
            "  deploy_app_auth  succeeded  1.02s  tx " +
                std::string(kTx) +
                "  block 5  2 attempts\n"
                "  commit           skipped    not needed\n"
                "  later            pending\n"
                "result:\n"
                "  cvm_id               cvm-abc\n"
                "  app_id               0xAbC0000000000000000000000000000000000001\n"
                "  kms_type             base\n"
                "  chain_id             31337\n"
                "  deploy_block_number  5\n");
}

TEST(OutputTest, FailedAndWaitingOperations) {
  v1::Operation failed = Parse<v1::Operation>(R"pb(
    id: "op_2" kind: OPERATION_KIND_UPDATE_ENV_VARS state: OPERATION_STATE_FAILED
    error { code: 9 message: "compose hash mismatch" step: "update_env_vars" }
    update { cvm_id: "c" two_phase: true }
  )pb");
  std::string text = FormatOperation(failed);
  EXPECT_THAT(text, HasSubstr("error:\n  FAILED_PRECONDITION (9)  step update_env_vars\n  compose hash mismatch\n"));
  EXPECT_THAT(text, HasSubstr("  two_phase  yes\n"));
  EXPECT_EQ(FormatOutcome(failed),
            "failed: update_env_vars op_2\n"
            "  error: FAILED_PRECONDITION (9) in step update_env_vars: compose hash mismatch\n"
            "  cvm_id     c\n"
            "  two_phase  yes\n");

  v1::Operation waiting = Parse<v1::Operation>(R"pb(
    id: "op_3" kind: OPERATION_KIND_DEPLOY_CVM state: OPERATION_STATE_WAITING_FOR_INPUT
    input_request { reason: "restart" env_keys: [ "A", "B" ] }
  )pb");
  EXPECT_THAT(FormatOperation(waiting),
              HasSubstr("waiting for input: restart\n  env keys: A, B\n  supply them: kmsctl ops supply-envs op_3 "
                        "--env-file=FILE\n"));
  EXPECT_THAT(FormatOutcome(waiting), HasSubstr("waiting_for_input: deploy_cvm op_3\n  waiting for input: restart"));
}

TEST(OutputTest, WaitingForTheOwnerShowsWhatToSendAndHow) {
  v1::Operation op = Parse<v1::Operation>(R"pb(
    id: "op_4" kind: OPERATION_KIND_ADD_COMPOSE_HASH state: OPERATION_STATE_WAITING_FOR_OWNER
    owner_action {
      reason: "the app's owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 is not a key of the signer"
      chain_id: 8453
      to: "0x9f1ac54BEF0DD2f6f3462EA0fa94fC62300d3a8e"
      data: "0xdfc77223cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
      owner_address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
      function_signature: "addComposeHash(bytes32)"
      compose_hash: "0xcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
      watch_from_block: 123
    }
  )pb");
  const std::string text = FormatOperation(op);
  EXPECT_THAT(text, HasSubstr("waiting for the owner: the app's owner 0x7099"));
  EXPECT_THAT(text, HasSubstr("  call  "));
  EXPECT_THAT(text, HasSubstr("addComposeHash(bytes32)"));
  EXPECT_THAT(text, HasSubstr("watching from block  123"));
  EXPECT_THAT(text, HasSubstr("    cast send 0x9f1ac54BEF0DD2f6f3462EA0fa94fC62300d3a8e "
                              "0xdfc77223cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc --from "
                              "0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --rpc-url RPC_URL\n"));
  EXPECT_THAT(text, HasSubstr("kmsctl ops submit-owner-tx op_4 TX_HASH\n"));
  EXPECT_THAT(FormatOutcome(op), HasSubstr("waiting_for_owner: add_compose_hash op_4\n  waiting for the owner: "));
  // Watching: the state change into WAITING_FOR_OWNER prints the action once.
  v1::OperationEvent e;
  e.set_type(v1::OperationEvent::TYPE_STATE_CHANGED);
  *e.mutable_operation() = op;
  ProgressPrinter p;
  EXPECT_THAT(p.OnEvent(e), HasSubstr("cast send 0x9f1ac54BEF0DD2f6f3462EA0fa94fC62300d3a8e"));
}

TEST(OutputTest, Tables) {
  v1::ListKmsInstancesResponse kms = Parse<v1::ListKmsInstancesResponse>(R"pb(
    kms_instances { id: "kms-phala-sim" slug: "phala" kms_type: KMS_TYPE_PHALA version: "v0.5.3" url: "https://k" }
    kms_instances {
      id: "kms-base-sim" slug: "base" kms_type: KMS_TYPE_BASE chain_id: 31337
      kms_contract_address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" version: "v0.5.3"
    }
  )pb");
  EXPECT_EQ(FormatKmsList(kms),
            "ID             TYPE   CHAIN  CONTRACT                                    SLUG   VERSION  URL\n"
            "kms-phala-sim  phala  -      -                                           phala  v0.5.3   https://k\n"
            "kms-base-sim   base   31337  0x5FbDB2315678afecb367f032d93F642f64180aa3  base   v0.5.3   -\n");
  EXPECT_EQ(FormatKmsList(v1::ListKmsInstancesResponse()), "no KMS instances\n");

  v1::ListOperationsResponse ops = Parse<v1::ListOperationsResponse>(R"pb(
    operations { id: "op_2" kind: OPERATION_KIND_ADD_COMPOSE_HASH state: OPERATION_STATE_RUNNING request_id: "r2" create_time { seconds: 1714564800 } }
    operations { id: "op_1" kind: OPERATION_KIND_DEPLOY_CVM state: OPERATION_STATE_SUCCEEDED cvm_id: "c1" request_id: "r1" create_time { seconds: 1714564700 } }
    next_page_token: "t2"
  )pb");
  EXPECT_EQ(FormatOperationList(ops),
            "ID    KIND              STATE      CVM  CREATED                  REQUEST ID\n"
            "op_2  add_compose_hash  running    -    2024-05-01 12:00:00 UTC  r2\n"
            "op_1  deploy_cvm        succeeded  c1   2024-05-01 11:58:20 UTC  r1\n"
            "more: kmsctl ops list --page-token=t2 (same filters), or --all\n");
  EXPECT_EQ(FormatOperationList(v1::ListOperationsResponse()), "no operations\n");
}

v1::OperationEvent Event(v1::OperationEvent::Type type, const std::string& step, const v1::Operation& op,
                         int64_t millis, const std::string& detail = "", const std::string& tx = "") {
  v1::OperationEvent e;
  e.set_operation_id(op.id());
  e.set_type(type);
  e.set_step(step);
  e.mutable_time()->set_seconds(op.create_time().seconds() + millis / 1000);
  e.mutable_time()->set_nanos(static_cast<int32_t>((millis % 1000) * 1000000));
  e.set_detail(detail);
  e.set_transaction_hash(tx);
  *e.mutable_operation() = op;
  return e;
}

TEST(OutputTest, ProgressLinesAndNoRepeatsAfterReconnect) {
  v1::Operation op = Parse<v1::Operation>(R"pb(
    id: "op_1" request_id: "req-1" kind: OPERATION_KIND_DEPLOY_CVM state: OPERATION_STATE_RUNNING
    create_time { seconds: 1714564800 }
    steps { name: "provision" state: STEP_STATE_SUCCEEDED start_time { seconds: 1714564800 } finish_time { seconds: 1714564800 nanos: 200000000 } }
    steps { name: "deploy_app_auth" state: STEP_STATE_PENDING }
  )pb");
  ProgressPrinter p;
  std::string out = p.OnEvent(Event(v1::OperationEvent::TYPE_SNAPSHOT, "", op, 300));
  EXPECT_EQ(out,
            "operation op_1 (deploy_cvm, request req-1): running\n"
            "    +200ms  provision                done      200ms\n");

  v1::Step* s = op.mutable_steps(1);
  s->set_state(v1::STEP_STATE_RUNNING);
  s->mutable_start_time()->set_seconds(1714564800);
  s->mutable_start_time()->set_nanos(400000000);
  s->set_attempts(1);
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_STEP_STARTED, "deploy_app_auth", op, 400)),
            "    +400ms  deploy_app_auth          started\n");
  s->set_transaction_hash(kTx);
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_STEP_PROGRESS, "deploy_app_auth", op, 500, "sent", kTx)),
            "    +500ms  deploy_app_auth          ...       sent  tx " + std::string(kTx) + "\n");

  // Reconnect: the new snapshot shows the step still running; nothing is repeated.
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_SNAPSHOT, "", op, 900)), "");

  s->set_state(v1::STEP_STATE_SUCCEEDED);
  s->mutable_finish_time()->set_seconds(1714564801);
  s->mutable_finish_time()->set_nanos(600000000);
  s->set_block_number(7);
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_STEP_SUCCEEDED, "deploy_app_auth", op, 1600)),
            "    +1.60s  deploy_app_auth          done      1.20s  tx " + std::string(kTx) + "  block 7\n");
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_STEP_RETRYING, "commit", op, 1700, "HTTP 503; again in 1s")),
            "    +1.70s  commit                   retrying  HTTP 503; again in 1s\n");
  op.set_state(v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_STATE_CHANGED, "", op, 2500)),
            "    +2.50s  state: succeeded after 2.50s\n");
}

TEST(OutputTest, ProgressAfterMissedEvents) {
  // A snapshot taken while disconnected reports what finished in between, once.
  v1::Operation op = Parse<v1::Operation>(R"pb(
    id: "op_1" request_id: "r" kind: OPERATION_KIND_UPDATE_ENV_VARS state: OPERATION_STATE_WAITING_FOR_INPUT
    create_time { seconds: 100 }
    input_request { reason: "lost in a restart" env_keys: "A" }
    steps { name: "get_cvm" state: STEP_STATE_SUCCEEDED start_time { seconds: 100 } finish_time { seconds: 101 } }
    steps { name: "register_compose_hash" state: STEP_STATE_SKIPPED finish_time { seconds: 102 } detail: "already registered" }
    steps { name: "encrypt_env" state: STEP_STATE_FAILED start_time { seconds: 102 } detail: "boom" }
  )pb");
  ProgressPrinter p;
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_SNAPSHOT, "", op, 3000)),
            "operation op_1 (update_env_vars, request r): waiting_for_input\n"
            "    +1.00s  get_cvm                  done      1.00s\n"
            "    +2.00s  register_compose_hash    skipped   already registered\n"
            "    +2.00s  encrypt_env              FAILED    boom\n");
  EXPECT_EQ(p.OnEvent(Event(v1::OperationEvent::TYPE_SNAPSHOT, "", op, 3000)), "");
}

}  // namespace
}  // namespace kmsctl
