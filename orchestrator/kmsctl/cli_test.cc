#include "orchestrator/kmsctl/cli.h"

#include <map>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "orchestrator/kmsctl/exit_codes.h"

namespace kmsctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FakeIo final : public Io {
 public:
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return absl::NotFoundError("No such file or directory");
    return it->second;
  }
  absl::StatusOr<std::string> ReadStdin() override {
    ++stdin_reads;
    return stdin_text;
  }
  std::optional<std::string> Getenv(const std::string& name) override {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  }
  std::string NewRequestId() override { return "generated-id"; }

  std::map<std::string, std::string> files;
  std::map<std::string, std::string> env;
  std::string stdin_text;
  int stdin_reads = 0;
};

class CliTest : public ::testing::Test {
 protected:
  CliTest() {
    io_.files["compose.yml"] = "services:\n  app:\n    image: nginx\n";
    io_.files["app.env"] = "# the app's secrets\nAPI_KEY=s3cret-value\nexport DB_URL=\"postgres://x\"\n";
    io_.files["pre.sh"] = "echo hi\n";
  }

  Invocation Parse(std::vector<std::string> args) {
    auto r = ParseCommandLine(args, io_);
    if (const CliError* e = std::get_if<CliError>(&r)) {
      ADD_FAILURE() << "unexpected error (exit " << e->exit_code << "): " << e->message;
      return Invocation();
    }
    return std::get<Invocation>(r);
  }

  CliError Error(std::vector<std::string> args) {
    auto r = ParseCommandLine(args, io_);
    if (const CliError* e = std::get_if<CliError>(&r)) return *e;
    ADD_FAILURE() << "parsed, but an error was expected";
    return CliError{0, ""};
  }

  FakeIo io_;
};

template <typename M>
void ExpectProto(const M& actual, const std::string& text) {
  M expected;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &expected)) << text;
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(expected, actual)) << diff << "\nactual:\n" << actual.DebugString();
}

// ---------------------------------------------------------------------------------------------
// Help and usage

TEST_F(CliTest, WaitRunningWithAndWithoutATimeout) {
  Invocation a = Parse({"compose", "update", "cvm-1", "--compose=compose.yml", "--wait-running"});
  ExpectProto(a.compose_update.wait_until_running(), "enabled: true");
  Invocation b = Parse({"compose", "update", "cvm-1", "--wait-running=90s", "--compose", "compose.yml"});
  ExpectProto(b.compose_update.wait_until_running(), "enabled: true timeout { seconds: 90 }");
  Invocation c = Parse({"deploy", "--name=my-app-1", "--compose=compose.yml", "--kms=base", "--wait-running=1.5s"});
  ExpectProto(c.deploy.wait_until_running(), "enabled: true timeout { seconds: 1 nanos: 500000000 }");
  Invocation d = Parse({"envs", "update", "cvm-1", "--env-file=app.env"});
  EXPECT_FALSE(d.envs_update.has_wait_until_running());
  EXPECT_EQ(Error({"compose", "update", "cvm-1", "--compose=compose.yml", "--wait-running=soon"}).exit_code, 2);
  Invocation e = Parse({"cvms", "get", "my-app-1"});
  EXPECT_EQ(e.cvm_get.cvm_id(), "my-app-1");
  Invocation f = Parse({"cvms", "list", "--page-size=5"});
  EXPECT_EQ(f.cvms_list.page_size(), 5u);
  EXPECT_EQ(Parse({"nodes", "list"}).command->name(), "nodes list");
}

TEST_F(CliTest, HelpEverywhere) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}, {"--orchestrator=unix:/x", "--help"}}) {
    Invocation inv = Parse(args);
    EXPECT_EQ(inv.command, nullptr);
    EXPECT_THAT(inv.help_text, HasSubstr("Exit codes:"));
    EXPECT_THAT(inv.help_text, HasSubstr("compose-hash add"));
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"deploy", "--help"}, {"help", "deploy"}, {"--help", "deploy"}, {"deploy", "--name=x", "-h"}}) {
    Invocation inv = Parse(args);
    EXPECT_EQ(inv.command, nullptr);
    EXPECT_THAT(inv.help_text, HasSubstr("Usage: kmsctl deploy --name=NAME"));
    EXPECT_THAT(inv.help_text, HasSubstr("--env-file=FILE"));
    EXPECT_THAT(inv.help_text, HasSubstr("--request-id=ID"));
    EXPECT_THAT(inv.help_text, HasSubstr("--public-logs[=false]"));
    EXPECT_THAT(inv.help_text, HasSubstr("Global flags:"));
  }
  EXPECT_THAT(Parse({"ops", "--help"}).help_text, HasSubstr("ops supply-envs"));
  EXPECT_THAT(Parse({"help", "ops"}).help_text, HasSubstr("ops watch"));
  EXPECT_THAT(Parse({"ops", "watch", "-h"}).help_text, HasSubstr("Usage: kmsctl ops watch OPERATION"));
  EXPECT_THAT(Parse({"compose-file", "update", "--help"}).help_text, HasSubstr("--update-mask=FIELD,..."));
  EXPECT_THAT(Parse({"adopt", "--help"}).help_text, HasSubstr("Usage: kmsctl adopt (--cvm=CVM"));
  // Every command has its own help.
  for (const auto& words : std::vector<std::vector<std::string>>{{"kms", "list"},
                                                                 {"envs", "update"},
                                                                 {"compose", "update"},
                                                                 {"compose-hash", "add"},
                                                                 {"ops", "list"},
                                                                 {"ops", "get"},
                                                                 {"ops", "cancel"},
                                                                 {"ops", "supply-envs"}}) {
    std::vector<std::string> args = words;
    args.push_back("--help");
    EXPECT_THAT(Parse(args).help_text, HasSubstr("Usage: kmsctl " + words[0] + " " + words[1]));
  }
}

TEST_F(CliTest, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "missing command"},
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"ops"}, "'kmsctl ops' needs a subcommand"},
           {{"ops", "frob"}, "unknown command 'ops frob'"},
           {{"help", "nope"}, "unknown command 'nope'"},
           {{"--bogus", "ops", "list"}, "unknown flag --bogus (command flags go after the command)"},
           {{"--name=x", "deploy"}, "unknown flag --name"},
           {{"ops", "list", "--name=x"}, "unknown flag --name for 'kmsctl ops list'"},
           {{"ops", "get"}, "missing OPERATION"},
           {{"ops", "get", "a", "b"}, "unexpected argument 'b'"},
           {{"ops", "get", ""}, "empty OPERATION"},
           {{"ops", "get", "op", "--orchestrator"}, "--orchestrator needs a value"},
           {{"ops", "list", "--all=maybe"}, "expected true or false"},
           {{"ops", "list", "--kind=deploy", "--kind=deploy"}, "given twice"},
           {{"ops", "list", "--page-size=many"}, "--page-size: not a number"},
           {{"ops", "list", "--page-size=5000000000"}, "--page-size: not a number in 0..4294967295"},
           {{"ops", "list", "--kind=deploy"}, "--kind: 'deploy' is not one of deploy-cvm, update-env-vars"},
           {{"ops", "list", "--state=done"}, "is not one of pending, running, waiting-for-input, succeeded"},
           {{"ops", "list", "--all", "--page-token=t"}, "--all and --page-token exclude each other"},
           {{"ops", "watch", "op", "--timeout=soon"}, "--timeout: not a positive duration"},
           {{"ops", "watch", "op", "--timeout=-5s"}, "not a positive duration"},
           {{"-x", "ops", "list"}, "unknown flag '-x'"},
           {{"deploy", "--compose=compose.yml", "--kms=base"}, "--name is required"},
           {{"deploy", "--name=my-app", "--compose=compose.yml", "--kms=tdx"},
            "--kms: 'tdx' is not one of phala, ethereum, base"},
           {{"deploy", "--name=my-app", "--compose=compose.yml", "--kms=base", "--storage-fs=ntfs"}, "ext4, zfs"},
           {{"deploy", "--name=my-app", "--compose=compose.yml", "--kms=base", "--request-id=a b"}, "--request-id"},
           {{"envs", "update", "cvm1"}, "--env-file is required"},
           {{"compose", "update", "cvm1"}, "--compose is required"},
           {{"compose-file", "update", "cvm1"}, "nothing to change"},
           {{"compose-file", "update", "cvm1", "--update-mask=compose"}, "'compose' is not a field of AppCompose"},
           {{"compose-hash", "add", "0xab"}, "give either --cvm or --chain-id with --app-contract"},
           {{"compose-hash", "add", "0xab", "--cvm=c", "--chain-id=1"}, "give either --cvm"},
           {{"compose-hash", "add", "0xab", "--chain-id=1"}, "--app-contract is required"},
           {{"ops", "supply-envs", "op"}, "--env-file is required"},
           {{"adopt", "--tenant=t"}, "give one of --cvm, --chain-id with --app-contract, or --phala-app-id"},
           {{"adopt", "--cvm=c", "--phala-app-id=a", "--tenant=t"}, "give one of --cvm"},
           {{"adopt", "--cvm=c"}, "--tenant is required"},
           {{"adopt", "--chain-id=1", "--tenant=t"}, "--app-contract is required"},
           {{"ops", "get", "op", "--token-file=t"}, "--token-file needs TLS"},
           {{"ops", "get", "op", "--tls-cert=c"}, "--tls-cert and --tls-key go together"},
           {{"ops", "get", "op", "--tls-ca=ca.pem"}, "not a Unix socket"},
       }) {
    CliError e = Error(c.args);
    EXPECT_EQ(e.exit_code, kExitUsage) << c.message;
    EXPECT_THAT(e.message, HasSubstr(c.message));
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

TEST_F(CliTest, DeployWithEveryFlag) {
  Invocation inv = Parse({"--orchestrator",
                          "unix:/tmp/o.sock",
                          "deploy",
                          "--name=my-app",
                          "--compose",
                          "compose.yml",
                          "--kms=BASE",
                          "--kms-id=kms-base-sim",
                          "--kms-contract=0x5FbDB2315678afecb367f032d93F642f64180aa3",
                          "--instance-type=tdx.small",
                          "--vcpu=2",
                          "--memory-mb=2048",
                          "--disk-size-gb=20",
                          "--image=dstack-0.5.3",
                          "--node-id=7",
                          "--region=us-west",
                          "--listed=false",
                          "--env-file=app.env",
                          "--pre-launch-script=pre.sh",
                          "--app-name=inner",
                          "--allowed-env=API_KEY,DB_URL",
                          "--allowed-env",
                          "EXTRA",
                          "--kms-enabled",
                          "--gateway-enabled=false",
                          "--public-logs=true",
                          "--public-sysinfo=0",
                          "--public-tcbinfo=yes",
                          "--local-key-provider=false",
                          "--key-provider-id=kp",
                          "--no-instance-id",
                          "--secure-time=false",
                          "--storage-fs=zfs",
                          "--feature=kms,tproxy-net",
                          "--manifest-version=2",
                          "--runner=docker-compose",
                          "--signer-key=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                          "--app-owner=0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                          "--device-id=ab",
                          "--allow-any-device",
                          "--disable-upgrades",
                          "--require-tcb-up-to-date=false",
                          "--nonce=5",
                          "--app-id=0x1234",
                          "--request_id=req-1",
                          "--no-wait",
                          "--json",
                          "--rpc-timeout=5s"});
  ASSERT_NE(inv.command, nullptr);
  EXPECT_EQ(inv.command->name(), "deploy");
  EXPECT_EQ(inv.connection.address, "unix:/tmp/o.sock");
  EXPECT_FALSE(inv.connection.tls);
  EXPECT_TRUE(inv.json);
  EXPECT_FALSE(inv.wait);
  EXPECT_EQ(inv.rpc_timeout, absl::Seconds(5));
  EXPECT_EQ(inv.request_id, "req-1");
  EXPECT_FALSE(inv.request_id_generated);
  ExpectProto(inv.deploy, R"pb(
    request_id: "req-1"
    name: "my-app"
    compose {
      name: "inner"
      docker_compose_file: "services:\n  app:\n    image: nginx\n"
      pre_launch_script: "echo hi\n"
      allowed_envs: [ "API_KEY", "DB_URL", "EXTRA" ]
      kms_enabled: true
      gateway_enabled: false
      public_logs: true
      public_sysinfo: false
      public_tcbinfo: true
      local_key_provider_enabled: false
      key_provider_id: "kp"
      no_instance_id: true
      secure_time: false
      storage_fs: STORAGE_FS_ZFS
      features: [ "kms", "tproxy-net" ]
      manifest_version: 2
      runner: "docker-compose"
    }
    kms_type: KMS_TYPE_BASE
    kms_id: "kms-base-sim"
    kms_contract_address: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    instance_type: "tdx.small"
    vcpu: 2
    memory_mb: 2048
    disk_size_gb: 20
    image: "dstack-0.5.3"
    node_id: 7
    region: "us-west"
    listed: false
    env_vars { key: "API_KEY" value: "s3cret-value" }
    env_vars { key: "DB_URL" value: "postgres://x" }
    signer_key_address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    app_owner_address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    device_id: "ab"
    allow_any_device: true
    disable_upgrades: true
    require_tcb_up_to_date: false
    nonce: 5
    app_id: "0x1234"
  )pb");
  ASSERT_TRUE(inv.env_vars.has_value());
  EXPECT_EQ(inv.env_vars->size(), 2u);
}

TEST_F(CliTest, DeployMinimalLeavesOptionalFieldsUnset) {
  Invocation inv = Parse({"deploy", "--name=my-app", "--compose=compose.yml", "--kms=phala"});
  EXPECT_TRUE(inv.wait);
  EXPECT_EQ(inv.timeout, absl::InfiniteDuration());
  EXPECT_EQ(inv.request_id, "generated-id");
  EXPECT_TRUE(inv.request_id_generated);
  EXPECT_FALSE(inv.env_vars.has_value());
  ExpectProto(inv.deploy, R"pb(
    request_id: "generated-id"
    name: "my-app"
    compose { docker_compose_file: "services:\n  app:\n    image: nginx\n" }
    kms_type: KMS_TYPE_PHALA
  )pb");
  EXPECT_FALSE(inv.deploy.compose().has_kms_enabled());
  EXPECT_FALSE(inv.deploy.has_listed());
  EXPECT_FALSE(inv.deploy.has_require_tcb_up_to_date());
}

TEST_F(CliTest, EnvFromStdinAndComposeFromFile) {
  io_.stdin_text = "A=1\nB='two words'\n";
  Invocation inv = Parse({"deploy", "--name=my-app", "--compose=compose.yml", "--kms=ethereum", "--env-file=-"});
  ASSERT_EQ(inv.deploy.env_vars_size(), 2);
  EXPECT_EQ(inv.deploy.env_vars(1).key(), "B");
  EXPECT_EQ(inv.deploy.env_vars(1).value(), "two words");
  EXPECT_EQ(io_.stdin_reads, 1);
}

TEST_F(CliTest, StdinOnlyOnce) {
  CliError e = Error({"deploy", "--name=my-app", "--compose=-", "--kms=base", "--env-file=-"});
  EXPECT_EQ(e.exit_code, kExitUsage);
  EXPECT_THAT(e.message, HasSubstr("both read standard input"));
}

TEST_F(CliTest, BadInputFilesAreInvalidArgumentWithoutSecrets) {
  io_.files["bad.env"] = "GOOD=fine\nthis line has the-secret-value and no equals sign\n";
  CliError e = Error({"envs", "update", "cvm1", "--env-file=bad.env"});
  EXPECT_EQ(e.exit_code, kExitInvalidArgument);
  EXPECT_THAT(e.message, HasSubstr("--env-file=bad.env: env line 2"));
  EXPECT_THAT(e.message, Not(HasSubstr("the-secret-value")));
  EXPECT_THAT(e.message, Not(HasSubstr("fine")));

  e = Error({"envs", "update", "cvm1", "--env-file=missing.env"});
  EXPECT_EQ(e.exit_code, kExitInvalidArgument);
  EXPECT_THAT(e.message, HasSubstr("--env-file: cannot read missing.env"));

  e = Error({"compose", "update", "cvm1", "--compose=missing.yml"});
  EXPECT_EQ(e.exit_code, kExitInvalidArgument);
}

TEST_F(CliTest, EnvsUpdate) {
  io_.files["empty.env"] = "";
  Invocation inv =
      Parse({"envs", "update", "app_0123", "--env-file=app.env", "--signer-key=0xabc", "--request-id=r:1.2_3-4"});
  ASSERT_NE(inv.command, nullptr);
  EXPECT_EQ(inv.command->name(), "envs update");
  ExpectProto(inv.envs_update, R"pb(
    request_id: "r:1.2_3-4"
    cvm_id: "app_0123"
    env_vars { key: "API_KEY" value: "s3cret-value" }
    env_vars { key: "DB_URL" value: "postgres://x" }
    signer_key_address: "0xabc"
  )pb");
  // An empty file removes every env var.
  inv = Parse({"envs", "update", "cvm1", "--env-file=empty.env"});
  EXPECT_EQ(inv.envs_update.env_vars_size(), 0);
  ASSERT_TRUE(inv.env_vars.has_value());
  EXPECT_TRUE(inv.env_vars->empty());
}

TEST_F(CliTest, ComposeUpdate) {
  io_.stdin_text = "services: {}\n";
  Invocation inv = Parse({"compose", "update", "my-app", "--compose=-", "--timeout=2m"});
  EXPECT_EQ(inv.timeout, absl::Minutes(2));
  ExpectProto(inv.compose_update, R"pb(
    request_id: "generated-id" cvm_id: "my-app" docker_compose_file: "services: {}\n"
  )pb");
}

TEST_F(CliTest, ComposeFileUpdate) {
  Invocation inv = Parse({"compose-file", "update", "cvm1", "--compose=compose.yml", "--allowed-env=A",
                          "--update-mask=docker_compose_file,allowed_envs", "--update-mask=pre_launch_script",
                          "--env-file=app.env", "--public-logs=false"});
  ExpectProto(inv.compose_file_update, R"pb(
    request_id: "generated-id"
    cvm_id: "cvm1"
    compose {
      docker_compose_file: "services:\n  app:\n    image: nginx\n"
      allowed_envs: "A"
      public_logs: false
    }
    update_mask { paths: [ "docker_compose_file", "allowed_envs", "pre_launch_script" ] }
    update_env_vars: true
    env_vars { key: "API_KEY" value: "s3cret-value" }
    env_vars { key: "DB_URL" value: "postgres://x" }
  )pb");
  // A mask alone may clear fields.
  inv = Parse({"compose-file", "update", "cvm1", "--update-mask=pre_launch_script"});
  EXPECT_FALSE(inv.compose_file_update.update_env_vars());
  // Env vars alone.
  inv = Parse({"compose-file", "update", "cvm1", "--env-file=app.env"});
  EXPECT_TRUE(inv.compose_file_update.update_env_vars());
}

TEST_F(CliTest, ComposeHashAdd) {
  Invocation inv = Parse({"compose-hash", "add", "ab" + std::string(62, '0'), "--cvm=my-app"});
  ExpectProto(inv.compose_hash_add, R"pb(
    request_id: "generated-id" cvm_id: "my-app" compose_hash: "ab00000000000000000000000000000000000000000000000000000000000000"
  )pb");
  inv = Parse(
      {"compose-hash", "add", "0x01", "--chain-id=31337", "--app-contract=0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"});
  ExpectProto(inv.compose_hash_add, R"pb(
    request_id: "generated-id"
    app { chain_id: 31337 app_contract_address: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be" }
    compose_hash: "0x01"
  )pb");
}

TEST_F(CliTest, OpsCommands) {
  Invocation inv = Parse({"ops", "list", "--kind=deploy-cvm", "--state=WAITING_FOR_INPUT", "--cvm=c1", "--page-size=10",
                          "--page-token=tok"});
  ExpectProto(inv.ops_list, R"pb(
    kind: OPERATION_KIND_DEPLOY_CVM state: OPERATION_STATE_WAITING_FOR_INPUT cvm_id: "c1" page_size: 10 page_token: "tok"
  )pb");
  EXPECT_FALSE(inv.ops_list_all);
  inv = Parse({"ops", "list", "--kind=OPERATION_KIND_ADD_COMPOSE_HASH", "--all"});
  EXPECT_EQ(inv.ops_list.kind(), v1::OPERATION_KIND_ADD_COMPOSE_HASH);
  EXPECT_TRUE(inv.ops_list_all);
  EXPECT_TRUE(inv.request_id.empty());  // reads carry none

  EXPECT_EQ(Parse({"ops", "get", "op_1"}).operation_id, "op_1");
  EXPECT_EQ(Parse({"ops", "watch", "op_2", "--timeout=30s"}).timeout, absl::Seconds(30));
  EXPECT_EQ(Parse({"ops", "cancel", "--", "-op"}).operation_id, "-op");

  io_.stdin_text = "A=1\n";
  inv = Parse({"ops", "supply-envs", "op_3", "--env-file=-", "--request-id=again"});
  ExpectProto(inv.supply_envs, R"pb(
    request_id: "again" operation_id: "op_3" env_vars { key: "A" value: "1" }
  )pb");
}

TEST_F(CliTest, KmsList) {
  Invocation inv = Parse({"kms", "list", "--type=ethereum", "--chain-id=1", "--onchain"});
  ExpectProto(inv.kms_list, R"pb(kms_type: KMS_TYPE_ETHEREUM chain_id: 1 onchain_only: true)pb");
  ExpectProto(Parse({"kms", "list"}).kms_list, "");
}

TEST_F(CliTest, Connection) {
  EXPECT_EQ(Parse({"ops", "get", "x"}).connection.address, "unix:/run/onchain-kms/orchestrator.sock");
  io_.env["KMSCTL_ORCHESTRATOR"] = "unix:/tmp/env.sock";
  EXPECT_EQ(Parse({"ops", "get", "x"}).connection.address, "unix:/tmp/env.sock");
  EXPECT_EQ(Parse({"ops", "get", "x", "--orchestrator=localhost:7443"}).connection.address, "localhost:7443");

  Connection c = Parse({"ops", "get", "x", "--orchestrator=orch.example:7443", "--tls-ca=ca.pem", "--tls-cert=c.pem",
                        "--tls-key=k.pem", "--tls-server-name=orch", "--token-file=tok"})
                     .connection;
  EXPECT_TRUE(c.tls);
  EXPECT_EQ(c.tls_ca_file, "ca.pem");
  EXPECT_EQ(c.tls_cert_file, "c.pem");
  EXPECT_EQ(c.tls_key_file, "k.pem");
  EXPECT_EQ(c.tls_server_name, "orch");
  EXPECT_EQ(c.token_file, "tok");
  EXPECT_TRUE(Parse({"ops", "get", "x", "--orchestrator=o:1", "--tls", "--token-file=t"}).connection.tls);
  EXPECT_FALSE(Parse({"ops", "get", "x", "--orchestrator=127.0.0.1:1"}).connection.tls);
}

TEST_F(CliTest, MutatingCommandsCarryRequestIds) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"deploy", "--name=my-app", "--compose=compose.yml", "--kms=base"},
                                             {"envs", "update", "c", "--env-file=app.env"},
                                             {"compose", "update", "c", "--compose=compose.yml"},
                                             {"compose-file", "update", "c", "--runner=x"},
                                             {"compose-hash", "add", "h", "--cvm=c"},
                                             {"app", "devices", "add", "d", "--cvm=c"},
                                             {"app", "disable-upgrades", "--yes", "--cvm=c"},
                                             {"ops", "supply-envs", "op", "--env-file=app.env"}}) {
    Invocation inv = Parse(args);
    ASSERT_NE(inv.command, nullptr);
    EXPECT_TRUE(inv.command->mutating);
    EXPECT_EQ(inv.request_id, "generated-id");
    EXPECT_TRUE(inv.request_id_generated);
  }
  EXPECT_EQ(Error({"ops", "get", "x", "--request-id=r"}).exit_code, kExitUsage);
  EXPECT_EQ(Error({"ops", "get", "x", "--no-wait"}).exit_code, kExitUsage);
}

constexpr char kApp[] = "--app-contract=0xa16E02E87b7454126E5E10d957A927A7F5B5d2be";

TEST_F(CliTest, AppState) {
  Invocation inv = Parse({"app", "state", "--chain-id=31337", kApp, "--device=0x01,0x02", "--compose-hash=0x03"});
  ASSERT_NE(inv.command, nullptr);
  EXPECT_FALSE(inv.command->mutating);
  ExpectProto(inv.app_state, R"pb(
    app { chain_id: 31337 app_contract_address: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be" }
    device_ids: "0x01" device_ids: "0x02" compose_hashes: "0x03"
  )pb");
  ExpectProto(Parse({"app", "state", "--cvm=my-app"}).app_state, R"pb(cvm_id: "my-app")pb");
  EXPECT_THAT(Error({"app", "state"}).message, HasSubstr("give either --cvm or --chain-id with --app-contract"));
  EXPECT_THAT(Error({"app", "state", "--cvm=c", "--chain-id=1"}).message, HasSubstr("give either --cvm"));
}

TEST_F(CliTest, AppDevices) {
  ExpectProto(Parse({"app", "devices", "add", "0xab", "--cvm=my-app"}).app_change, R"pb(
    request_id: "generated-id" cvm_id: "my-app" add_device { device_id: "0xab" }
  )pb");
  ExpectProto(Parse({"app", "devices", "add", "--node=7", "--cvm=my-app", "--signer-key=0x01"}).app_change, R"pb(
    request_id: "generated-id" cvm_id: "my-app" signer_key_address: "0x01" add_device { node_id: 7 }
  )pb");
  ExpectProto(Parse({"app", "devices", "rm", "0xcd", "--chain-id=31337", kApp}).app_change, R"pb(
    request_id: "generated-id"
    app { chain_id: 31337 app_contract_address: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be" }
    remove_device { device_id: "0xcd" }
  )pb");
  ExpectProto(Parse({"app", "devices", "allow-any", "false", "--cvm=c"}).app_change, R"pb(
    request_id: "generated-id" cvm_id: "c" set_allow_any_device { allow_any_device: false }
  )pb");
  EXPECT_TRUE(
      Parse({"app", "devices", "allow-any", "true", "--cvm=c"}).app_change.set_allow_any_device().allow_any_device());
  EXPECT_THAT(Error({"app", "devices", "add", "--cvm=c"}).message, HasSubstr("give either a DEVICE id or --node"));
  EXPECT_THAT(Error({"app", "devices", "add", "0xab", "--node=1", "--cvm=c"}).message, HasSubstr("either a DEVICE"));
  EXPECT_THAT(Error({"app", "devices", "allow-any", "maybe", "--cvm=c"}).message, HasSubstr("true or false"));
  EXPECT_THAT(Parse({"app", "devices", "--help"}).help_text, HasSubstr("app devices allow-any"));
  EXPECT_THAT(Parse({"app", "--help"}).help_text, HasSubstr("app devices add"));
  EXPECT_THAT(Parse({"app", "devices", "rm", "--help"}).help_text,
              HasSubstr("Usage: kmsctl app devices rm [DEVICE | --node=N]"));
}

// The one-way changes are refused without --yes: a usage error (exit 2) before anything is sent.
TEST_F(CliTest, OneWayAppChangesNeedYes) {
  CliError e = Error({"app", "disable-upgrades", "--cvm=c"});
  EXPECT_EQ(e.exit_code, kExitUsage);
  EXPECT_THAT(e.message, HasSubstr("disabling upgrades cannot be undone; add --yes to confirm (nothing was sent)"));
  e = Error({"app", "transfer-ownership", "--new-owner=0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--cvm=c"});
  EXPECT_EQ(e.exit_code, kExitUsage);
  EXPECT_THAT(e.message, HasSubstr("add --yes"));
  EXPECT_THAT(Error({"app", "transfer-ownership", "--yes", "--cvm=c"}).message, HasSubstr("--new-owner"));
  ExpectProto(Parse({"app", "disable-upgrades", "--yes", "--cvm=c"}).app_change, R"pb(
    request_id: "generated-id" cvm_id: "c" disable_upgrades { confirm: true }
  )pb");
  ExpectProto(
      Parse({"app", "transfer-ownership", "--new-owner=0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--yes", "--cvm=c"})
          .app_change,
      R"pb(
        request_id: "generated-id"
        cvm_id: "c"
        transfer_ownership { new_owner: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" confirm: true }
      )pb");
  ExpectProto(Parse({"app", "accept-ownership", "--cvm=c"}).app_change, R"pb(
    request_id: "generated-id" cvm_id: "c" accept_ownership {}
  )pb");
}

}  // namespace
}  // namespace kmsctl
