// Process-level tests of the real signer binary: key import, serving on a unix socket, every
// kind of decision, reload, restart, audit verification, a caller from another uid, mTLS — and
// a grep of everything the signer wrote for the private key and the password.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chain/hex.h"
#include "chain/secp256k1.h"
#include "chain/transaction.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "platform/config_file.h"
#include "platform/http/client.h"
#include "platform/http/url.h"
#include "platform/postgres/schema.h"
#include "platform/postgres/shared_server.h"
#include "platform/testing/server_process.h"
#include "platform/testing/wait_for.h"
#include "signer/policy/policy.h"
#include "signer/testing/anvil_fixtures.h"
#include "test/support/node_tools.h"

extern char** environ;

namespace {

namespace v1 = onchainkms::signer::v1;
using platform::testing::RunfilePath;
using platform::testing::ShortTempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string& SignerBinary() {
  static const std::string path = RunfilePath("signer/signer");
  return path;
}

constexpr char kPassword[] = "correct horse battery staple #42";
using signer::fixtures::kApp;
using signer::fixtures::kFactory;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& content, mode_t mode = 0600) {
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << content; }
  ::chmod(path.c_str(), mode);
}

// Spawns `binary args` with stdin from `in` (or /dev/null), stdout/stderr appended to files.
pid_t Spawn(const std::string& binary, const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& in, const std::string& out, const std::string& err) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.empty() ? "/dev/null" : in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  if (posix_spawn(&pid, binary.c_str(), &fa, &attr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return pid;
}

int WaitExit(pid_t pid, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time until = absl::Now() + timeout;
  for (;;) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (absl::Now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int RunSigner(const std::string& dir, const std::string& name, const std::vector<std::string>& args,
              const std::vector<std::string>& env = {}, const std::string& in = "") {
  return WaitExit(Spawn(SignerBinary(), args, env, in, dir + "/" + name + ".stdout", dir + "/" + name + ".stderr"));
}

std::string Popen(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

// GET http://127.0.0.1:<port><path> through the project's HTTP client; the body, or "" if the
// exchange failed.
std::string HttpGet(int port, const std::string& path) {
  absl::StatusOr<platform::http::Url> url = platform::http::ParseUrl(absl::StrCat("http://127.0.0.1:", port));
  if (!url.ok()) return "";
  absl::StatusOr<std::unique_ptr<platform::http::Client>> client = platform::http::Client::Create(*url, {});
  if (!client.ok()) return "";
  absl::StatusOr<platform::http::Response> r = (*client)->Send({.method = "GET", .target = path});
  return r.ok() ? r->body : "";
}

absl::Status WaitServing(pid_t pid, const std::string& address) {
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < until) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return absl::FailedPreconditionError("signer exited before serving");
    absl::StatusOr<std::string> h =
        platform::testing::CheckHealth(address, "onchainkms.signer.v1.Signer", absl::Milliseconds(500));
    if (h.ok() && *h == "SERVING") return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("not serving");
}

std::string RandomKeyHex() {
  std::random_device rd;
  for (;;) {
    chain::Bytes k(32);
    for (auto& b : k) b = static_cast<uint8_t>(rd());
    if (chain::ValidateSecret(k).ok()) return chain::ToHex(k, false);
  }
}

// `key` is bound to the test's own uid (the Unix-socket caller) and the insecure loopback one.
std::string PolicyText(bool allow_anvil, const std::string& key) {
  return absl::StrCat(R"pb(
chains {
  chain_id: )pb",
                      allow_anvil ? "31337" : "8453", R"pb(
  kms_contract_addresses: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
  app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
  max_fee_per_gas_wei: "100000000000"
  max_priority_fee_per_gas_wei: "10000000000"
  max_gas_limit: 2000000
}
default_key_limits { rate_limit { requests_per_second: 1000 burst: 1000 } fee_budget_24h_wei: "1000000000000000000" }
message_signing { enabled: false }
callers {
  name: "test"
  identities: [ "uid:)pb",
                      ::getuid(), R"pb(", "insecure" ]
  keys: [ ")pb",
                      key, R"pb(", "0x1111111111111111111111111111111111111111" ]
  intents: [ INTENT_DEPLOY_AND_REGISTER_APP, INTENT_ADD_COMPOSE_HASH, INTENT_GENERIC_TRANSACTION, INTENT_SIGN_MESSAGE ]
}
)pb");
}

v1::SignAddComposeHashRequest AddHash(const std::string& from, uint64_t nonce, char hash_digit = 'a') {
  v1::SignAddComposeHashRequest r;
  r.set_request_id(absl::StrCat("test:", nonce));
  r.set_chain_id(31337);
  r.set_app_contract_address(kApp);
  r.set_from_address(from);
  r.set_nonce(nonce);
  r.set_gas_limit(60000);
  r.set_max_fee_per_gas_wei("2000000000");
  r.set_max_priority_fee_per_gas_wei("1000000");
  r.set_compose_hash(std::string(64, hash_digit));
  return r;
}

// The string `field` of every log line (JSON) whose msg is `msg`, in order.
std::vector<std::string> LoggedFields(const std::string& log, const std::string& msg, const std::string& field) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(std::string(line), ec);
    if (ec || !v.is_object() || v.as_object().if_contains("msg") == nullptr) continue;
    const boost::json::object& o = v.as_object();
    if (o.at("msg") != msg.c_str() || o.if_contains(field) == nullptr) continue;
    values.emplace_back(o.at(field).as_string().c_str());
  }
  return values;
}

std::vector<std::string> LoggedAuditHeads(const std::string& log, const std::string& msg) {
  return LoggedFields(log, msg, "audit_head");
}

// Decodes the raw tx with `cast decode-transaction` (an independent implementation).
boost::json::object CastDecode(const std::string& raw) {
  absl::StatusOr<std::string> cast = testsupport::CastBinary();
  EXPECT_TRUE(cast.ok()) << cast.status();
  const std::string out = Popen(*cast + " decode-transaction " + raw);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(out, ec);
  if (!ec && v.is_string()) v = boost::json::parse(v.as_string().c_str(), ec);  // cast prints a JSON string of JSON
  EXPECT_FALSE(ec) << out;
  return ec || !v.is_object() ? boost::json::object() : v.as_object();
}

// A new database on the shared server with durable commits (the server's default is off, which
// the signer refuses); the path of its DSN file.
std::string DurableDatabase(const std::string& name) {
  const std::string dsn_file = *platform::postgres::SharedServer().CreateDatabase(name);
  EXPECT_TRUE(platform::postgres::Connect(*platform::postgres::Dsn::FromFile(dsn_file))
                  ->Exec(absl::StrCat("ALTER DATABASE ", name, " SET synchronous_commit = on"))
                  .ok());
  return dsn_file;
}

class SignerProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    in_ = dir_.path() + "/in";    // the test's own inputs (hold the secrets by design)
    out_ = dir_.path() + "/out";  // everything the signer writes
    ::mkdir(in_.c_str(), 0700);
    ::mkdir(out_.c_str(), 0755);
    key_hex_ = RandomKeyHex();
    Write(in_ + "/key", "0x" + key_hex_ + "\n");
    Write(in_ + "/pw", std::string(kPassword) + "\n");
    address_ = chain::AddressFromSecret(*chain::FromHex(key_hex_))->Checksummed();
    socket_ = out_ + "/s.sock";
    metrics_port_ = platform::testing::FreeTcpPort();
    Write(out_ + "/policy.textproto", PolicyText(true, address_), 0644);
    Write(out_ + "/signer.json",
          absl::StrCat(R"({"listen": {"unix": {"path": ")", socket_, R"("}}, "keystoreDir": ")", out_,
                       R"(/ks", "password": {"envVar": "SIGNER_TEST_PASSWORD"}, "policyFile": ")", out_,
                       R"(/policy.textproto", "antiEquivocationDbPath": ")", out_, R"(/ae.sqlite", "auditLogPath": ")",
                       out_, R"(/audit.jsonl", "metricsPort": )", metrics_port_, "}"),
          0644);
  }

  void ImportKeys() {
    ASSERT_EQ(RunSigner(out_, "import",
                        {"keys", "import", "--keystore_dir=" + out_ + "/ks", "--password_file=" + in_ + "/pw",
                         "--scrypt_n=4096"},
                        {}, in_ + "/key"),
              0)
        << Read(out_ + "/import.stderr");
    EXPECT_THAT(Read(out_ + "/import.stdout"), HasSubstr(address_));
    ASSERT_EQ(RunSigner(out_, "new",
                        {"keys", "new", "--keystore_dir=" + out_ + "/ks", "--password_env=SIGNER_TEST_PASSWORD",
                         "--kdf=pbkdf2"},
                        {std::string("SIGNER_TEST_PASSWORD=") + kPassword}),
              0)
        << Read(out_ + "/new.stderr");
    ASSERT_EQ(RunSigner(out_, "list", {"keys", "list", "--keystore_dir=" + out_ + "/ks"}), 0);
    EXPECT_THAT(Read(out_ + "/list.stdout"), HasSubstr(address_));
    for (const auto& e : std::filesystem::directory_iterator(out_ + "/ks")) {
      struct stat st;
      ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
    }
  }

  pid_t StartSigner(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--config=" + out_ + "/signer.json"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t pid = Spawn(SignerBinary(), args, {std::string("SIGNER_TEST_PASSWORD=") + kPassword}, "",
                      out_ + "/signer.stdout", out_ + "/signer.stderr");
    EXPECT_TRUE(WaitServing(pid, "unix:" + socket_).ok()) << Read(out_ + "/signer.stderr");
    return pid;
  }

  std::unique_ptr<v1::Signer::Stub> Stub() {
    return v1::Signer::NewStub(grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  ShortTempDir dir_;
  std::string in_, out_, key_hex_, address_, socket_;
  int metrics_port_ = 0;
};

TEST_F(SignerProcess, SignsDeniesReloadsRestartsAndLeaksNoSecret) {
  ImportKeys();
  pid_t pid = StartSigner();
  {
    auto stub = Stub();
    {
      grpc::ClientContext ctx;
      v1::ListKeysResponse keys;
      ASSERT_TRUE(stub->ListKeys(&ctx, {}, &keys).ok());
      // Two keys in the store; the policy binds this caller to the imported one only.
      EXPECT_EQ(keys.keys_size(), 1);
    }
    // deployAndRegisterApp: signed, recovers to the key, decodes with cast to what was asked.
    v1::SignDeployAndRegisterAppRequest deploy;
    deploy.set_chain_id(31337);
    deploy.set_kms_contract_address(kFactory);
    deploy.set_from_address(absl::AsciiStrToLower(address_));
    deploy.set_nonce(0);
    deploy.set_gas_limit(300000);
    deploy.set_max_fee_per_gas_wei("2000000000");
    deploy.set_max_priority_fee_per_gas_wei("1000000000");
    deploy.set_initial_owner(address_);
    deploy.set_initial_compose_hash(std::string(64, '1'));
    v1::SignedTransaction tx;
    {
      grpc::ClientContext ctx;
      grpc::Status s = stub->SignDeployAndRegisterApp(&ctx, deploy, &tx);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    absl::StatusOr<chain::SignedEip1559Transaction> decoded =
        chain::DecodeSignedEip1559(*chain::FromHex(tx.raw_transaction()));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->Sender()->Checksummed(), address_);
    boost::json::object cast = CastDecode(tx.raw_transaction());
    EXPECT_EQ(absl::AsciiStrToLower(cast["signer"].as_string().c_str()), absl::AsciiStrToLower(address_));
    EXPECT_EQ(cast["type"].as_string(), "0x2");
    EXPECT_EQ(cast["chainId"].as_string(), "0x7a69");
    EXPECT_EQ(cast["nonce"].as_string(), "0x0");
    EXPECT_EQ(cast["gas"].as_string(), "0x493e0");
    EXPECT_EQ(cast["maxFeePerGas"].as_string(), "0x77359400");
    EXPECT_EQ(cast["maxPriorityFeePerGas"].as_string(), "0x3b9aca00");
    EXPECT_EQ(absl::AsciiStrToLower(cast["to"].as_string().c_str()), absl::AsciiStrToLower(kFactory));
    EXPECT_EQ(cast["value"].as_string(), "0x0");
    EXPECT_EQ(std::string(cast["input"].as_string().c_str()).substr(0, 10), "0x8618169d");
    EXPECT_EQ(cast["hash"].as_string(), tx.transaction_hash());

    // addComposeHash: first, repeat, conflict, fee bump.
    v1::SignedTransaction first, again, other;
    {
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->SignAddComposeHash(&ctx, AddHash(address_, 1), &first).ok());
    }
    EXPECT_EQ(std::string(CastDecode(first.raw_transaction())["input"].as_string().c_str()),
              "0xdfc77223" + std::string(64, 'a'));
    {
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->SignAddComposeHash(&ctx, AddHash(address_, 1), &again).ok());
      EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
      EXPECT_EQ(again.raw_transaction(), first.raw_transaction());
    }
    {
      grpc::ClientContext ctx;
      grpc::Status s = stub->SignAddComposeHash(&ctx, AddHash(address_, 1, 'b'), &other);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      EXPECT_TRUE(other.raw_transaction().empty()) << "a denied request signs nothing";
    }
    // Refusals of every kind.
    struct Refusal {
      std::function<grpc::Status(grpc::ClientContext*)> call;
      grpc::StatusCode code;
      std::string needle;
    };
    v1::SignedTransaction sink;
    v1::SignMessageResponse msg_sink;
    std::vector<Refusal> refusals = {
        {[&](grpc::ClientContext* c) {
           auto r = AddHash(address_, 2);
           r.set_chain_id(1);
           return stub->SignAddComposeHash(c, r, &sink);
         },
         grpc::StatusCode::PERMISSION_DENIED, "chains"},
        {[&](grpc::ClientContext* c) {
           auto r = AddHash(address_, 2);
           r.set_gas_limit(3000000);
           return stub->SignAddComposeHash(c, r, &sink);
         },
         grpc::StatusCode::PERMISSION_DENIED, "chains[chain_id=31337].max_gas_limit"},
        {[&](grpc::ClientContext* c) {
           v1::SignTransactionRequest r;
           r.set_chain_id(31337);
           r.set_from_address(address_);
           r.set_to(kApp);
           r.set_data("0xf2fde38b");
           r.set_gas_limit(50000);
           r.set_max_fee_per_gas_wei("1");
           r.set_max_priority_fee_per_gas_wei("1");
           return stub->SignTransaction(c, r, &sink);
         },
         grpc::StatusCode::PERMISSION_DENIED, "generic_transaction_rules"},
        {[&](grpc::ClientContext* c) {
           v1::SignMessageRequest r;
           r.set_from_address(address_);
           r.set_message("0x00");
           return stub->SignMessage(c, r, &msg_sink);
         },
         grpc::StatusCode::PERMISSION_DENIED, "message_signing.enabled"},
        {[&](grpc::ClientContext* c) {
           return stub->SignAddComposeHash(c, AddHash("0x1111111111111111111111111111111111111111", 2), &sink);
         },
         grpc::StatusCode::NOT_FOUND, "0x1111111111111111111111111111111111111111"},
        {[&](grpc::ClientContext* c) {  // a key the policy does not bind to this caller
           return stub->SignAddComposeHash(c, AddHash("0x2222222222222222222222222222222222222222", 2), &sink);
         },
         grpc::StatusCode::PERMISSION_DENIED, "callers[name=\"test\"].keys"},
        {[&](grpc::ClientContext* c) {
           auto r = AddHash(address_, 2);
           r.set_max_fee_per_gas_wei("12.5");
           return stub->SignAddComposeHash(c, r, &sink);
         },
         grpc::StatusCode::INVALID_ARGUMENT, "max_fee_per_gas_wei"},
    };
    for (const Refusal& r : refusals) {
      grpc::ClientContext ctx;
      grpc::Status s = r.call(&ctx);
      EXPECT_EQ(s.error_code(), r.code) << r.needle << ": " << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr(r.needle));
    }
    EXPECT_TRUE(sink.raw_transaction().empty());
    EXPECT_TRUE(msg_sink.signature().empty());

    // Metrics on their own port.
    const std::string metrics = HttpGet(metrics_port_, "/metrics");
    Write(out_ + "/metrics.txt", metrics, 0644);
    EXPECT_THAT(metrics, HasSubstr("signer_requests_total{method=\"SignAddComposeHash\",outcome=\"ok\"} 2"));
    EXPECT_THAT(metrics, HasSubstr("signer_policy_denials_total{rule=\"message_signing.enabled\"} 1"));
    EXPECT_THAT(metrics, HasSubstr("signer_request_duration_seconds_bucket"));

    // SIGHUP with an invalid policy: rejected, the old one stays (chain 31337 still allowed).
    // The reload's log line is the event: a sleep would race the signal handling on a busy machine.
    const std::string stderr_path = out_ + "/signer.stderr";
    auto logged = [&](const std::string& line) { return absl::StrContains(Read(stderr_path), line); };
    ASSERT_FALSE(logged("policy reload"));
    Write(out_ + "/policy.textproto", "chains { chain_id: 0 }", 0644);
    ::kill(pid, SIGHUP);
    ASSERT_TRUE(platform::testing::WaitFor([&] { return logged("policy reload rejected"); })) << Read(stderr_path);
    {
      grpc::ClientContext ctx;
      grpc::Status s = stub->SignAddComposeHash(&ctx, AddHash(address_, 2), &sink);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    // A valid policy without chain 31337 takes effect.
    Write(out_ + "/policy.textproto", PolicyText(false, address_), 0644);
    ::kill(pid, SIGHUP);
    ASSERT_TRUE(platform::testing::WaitFor([&] { return logged("policy reloaded"); })) << Read(stderr_path);
    {
      grpc::ClientContext ctx;
      grpc::Status s = stub->SignAddComposeHash(&ctx, AddHash(address_, 3), &sink);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    }
  }
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0) << "graceful SIGTERM";
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "socket removed";

  // Restart: the anti-equivocation record survived.
  Write(out_ + "/policy.textproto", PolicyText(true, address_), 0644);
  pid = StartSigner();
  {
    auto stub = Stub();
    v1::SignedTransaction again;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->SignAddComposeHash(&ctx, AddHash(address_, 1), &again).ok());
    EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
    grpc::ClientContext ctx2;
    EXPECT_EQ(stub->SignAddComposeHash(&ctx2, AddHash(address_, 1, 'c'), &again).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);

  // The audit log verifies with the CLI, and a tampered copy does not.
  EXPECT_EQ(RunSigner(out_, "verify", {"audit", "verify", out_ + "/audit.jsonl"}), 0) << Read(out_ + "/verify.stderr");
  std::string audit = Read(out_ + "/audit.jsonl");
  EXPECT_GE(std::count(audit.begin(), audit.end(), '\n'), 14);
  EXPECT_THAT(audit, HasSubstr("\"transport\":\"unix\""));
  EXPECT_THAT(audit, HasSubstr("\"rule\":\"chains[chain_id=31337].max_gas_limit\""));
  const size_t pos = audit.find("\"decision\":\"deny\"");
  ASSERT_NE(pos, std::string::npos);
  std::string tampered = audit;
  tampered.replace(pos, 17, "\"decision\":\"allo\"");
  Write(in_ + "/tampered.jsonl", tampered);
  EXPECT_EQ(RunSigner(in_, "verify-tampered", {"audit", "verify", in_ + "/tampered.jsonl"}), 1);
  EXPECT_THAT(Read(in_ + "/verify-tampered.stderr"), HasSubstr("line "));

  // The head logged at start and stop of both runs is in the chain (`--expect-head`); the last
  // stop's is the head. Cutting the last record at a record boundary passes a plain verify; only
  // the kept head shows it.
  const std::vector<std::string> started = LoggedAuditHeads(Read(out_ + "/signer.stderr"), "serving");
  const std::vector<std::string> stopped = LoggedAuditHeads(Read(out_ + "/signer.stderr"), "stopped");
  ASSERT_EQ(started.size(), 2u);
  ASSERT_EQ(stopped.size(), 2u);
  // The binary runs on the allocator it links (cc_binary malloc, signer/server/serving_process.h),
  // the one the benchmarks measured.
  const std::vector<std::string> allocators = LoggedFields(Read(out_ + "/signer.stderr"), "serving", "allocator");
  EXPECT_EQ(allocators.size(), 2u);
  for (const std::string& allocator : allocators) EXPECT_THAT(allocator, StartsWith("jemalloc 5."));
  for (const std::string& head : {started[0], stopped[0], started[1], stopped[1]}) {
    EXPECT_EQ(RunSigner(out_, "verify-head", {"audit", "verify", "--expect-head=" + head, out_ + "/audit.jsonl"}), 0)
        << head << ": " << Read(out_ + "/verify-head.stderr");
  }
  EXPECT_THAT(Read(out_ + "/verify.stdout"), HasSubstr("head " + stopped[1]));
  audit.erase(audit.rfind('\n', audit.size() - 2) + 1);
  Write(in_ + "/cut.jsonl", audit);
  EXPECT_EQ(RunSigner(in_, "verify-cut", {"audit", "verify", in_ + "/cut.jsonl"}), 0)
      << Read(in_ + "/verify-cut.stderr");
  EXPECT_EQ(RunSigner(in_, "verify-cut-head", {"audit", "verify", "--expect_head=" + stopped[1], in_ + "/cut.jsonl"}),
            1);
  EXPECT_THAT(Read(in_ + "/verify-cut-head.stderr"),
              HasSubstr("expected head " + stopped[1] + " is not the hash of any record"));
  EXPECT_EQ(RunSigner(in_, "verify-cut-start", {"audit", "verify", "--expect-head", started[1], in_ + "/cut.jsonl"}), 0)
      << Read(in_ + "/verify-cut-start.stderr");

  // Finally: nothing the signer wrote contains the key (any case, with or without 0x, or raw)
  // or the password.
  const chain::Bytes raw_key = *chain::FromHex(key_hex_);
  const std::vector<std::string> needles = {key_hex_, absl::AsciiStrToUpper(key_hex_),
                                            std::string(raw_key.begin(), raw_key.end()), kPassword};
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(out_)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string content = Read(e.path());
    for (const std::string& n : needles) {
      EXPECT_EQ(content.find(n), std::string::npos) << "secret found in " << e.path();
    }
  }
  EXPECT_GE(files, 10) << "keystore files, db (+wal), audit log, stdout/stderr of every run, metrics";
}

TEST_F(SignerProcess, RefusesACallerFromAnotherUid) {
  ImportKeys();
  ::chmod(dir_.path().c_str(), 0755);
  const std::string probe = dir_.path() + "/probe";
  std::filesystem::copy_file(RunfilePath("signer/server/testing/probe_client"), probe);
  ::chmod(probe.c_str(), 0755);
  pid_t pid = StartSigner({"--socket_mode=0666"});  // the file system lets anyone connect; SO_PEERCRED decides
  const std::string target = "unix:" + socket_;
  const std::string ours = Popen(probe + " " + target);
  EXPECT_EQ(ours.substr(0, 2), "0 ") << ours;
  const std::string theirs =
      Popen("setpriv --reuid=65534 --regid=65534 --clear-groups " + probe + " " + target + " 2>&1");
  // UNAVAILABLE (14): the connection was closed at accept; or PERMISSION_DENIED (7).
  EXPECT_TRUE(absl::StartsWith(theirs, "14 ") || absl::StartsWith(theirs, "7 ")) << theirs;
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);
  EXPECT_THAT(Read(out_ + "/signer.stderr"), HasSubstr("\"peer_uid\":65534"));
}

TEST_F(SignerProcess, SecondSignerOnTheSameDatabaseIsRefused) {
  ImportKeys();
  const pid_t first = StartSigner();
  // Another socket, the same anti-equivocation database: two signers could each sign a different
  // transaction for one nonce, so the second must not start.
  const int code =
      RunSigner(out_, "second", {"--config=" + out_ + "/signer.json", "--listen=unix:" + out_ + "/s2.sock"},
                {std::string("SIGNER_TEST_PASSWORD=") + kPassword});
  EXPECT_EQ(code, 3) << "the record cannot be opened";
  const std::string printed = Read(out_ + "/second.stderr");
  EXPECT_THAT(printed, HasSubstr("cannot open the anti-equivocation database"));
  EXPECT_THAT(printed, HasSubstr(out_ + "/ae.sqlite is in use by another process"));
  EXPECT_THAT(printed, HasSubstr(absl::StrCat("by pid ", first)));
  EXPECT_NE(::access((out_ + "/s2.sock").c_str(), F_OK), 0) << "the second never listened";
  // The first keeps serving.
  EXPECT_EQ(*platform::testing::CheckHealth("unix:" + socket_, "onchainkms.signer.v1.Signer"), "SERVING");
  grpc::ClientContext ctx;
  v1::SignedTransaction signed_tx;
  const grpc::Status status = Stub()->SignAddComposeHash(&ctx, AddHash(address_, 0), &signed_tx);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(WaitExit((::kill(first, SIGTERM), first)), 0);
}

// The issue's proof: two signer processes on one PostgreSQL record, 64 concurrent requests with
// four different payloads for each of 8 nonces, spread over both. Every nonce is signed for
// exactly one payload (its requests on either replica get those same bytes again; the others
// are refused), and a fee bump on either replica follows the rules.
TEST_F(SignerProcess, TwoReplicasOnOnePostgresSignOncePerNonce) {
  ImportKeys();
  platform::postgres::TestServer& server = platform::postgres::SharedServer();
  const std::string dsn_file = DurableDatabase("signer_replicas");
  const std::string pg = "--anti_equivocation_postgres_dsn_file=" + dsn_file;
  const pid_t a = StartSigner({pg});
  const std::string socket_b = out_ + "/b.sock";
  const pid_t b = Spawn(SignerBinary(),
                        {"--config=" + out_ + "/signer.json", pg, "--listen=unix:" + socket_b, "--metrics_port=0",
                         "--audit_log=" + out_ + "/audit-b.jsonl"},
                        {std::string("SIGNER_TEST_PASSWORD=") + kPassword}, "", out_ + "/b.stdout", out_ + "/b.stderr");
  ASSERT_TRUE(WaitServing(b, "unix:" + socket_b).ok()) << Read(out_ + "/b.stderr");
  std::shared_ptr<grpc::Channel> channels[2] = {
      grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()),
      grpc::CreateChannel("unix:" + socket_b, grpc::InsecureChannelCredentials())};

  constexpr int kNonces = 8, kPerNonce = 8;
  struct Answer {
    bool ok = false;
    grpc::StatusCode code = grpc::StatusCode::OK;
    std::string raw;
  };
  std::vector<Answer> answers(kNonces * kPerNonce);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kNonces * kPerNonce; ++i) {
    threads.emplace_back([&, i] {
      const int nonce = i / kPerNonce, r = i % kPerNonce;
      v1::SignAddComposeHashRequest req = AddHash(address_, nonce, "abcd"[r / 2]);
      req.set_request_id(absl::StrCat("race:", i));
      std::unique_ptr<v1::Signer::Stub> stub = v1::Signer::NewStub(channels[r % 2]);
      grpc::ClientContext ctx;
      v1::SignedTransaction tx;
      while (!go.load()) std::this_thread::yield();
      const grpc::Status s = stub->SignAddComposeHash(&ctx, req, &tx);
      answers[i] = {s.ok(), s.error_code(), tx.raw_transaction()};
    });
  }
  go.store(true);  // all at once, so both replicas classify the same nonces before either commits
  for (std::thread& t : threads) t.join();
  for (int nonce = 0; nonce < kNonces; ++nonce) {
    std::set<std::string> signed_raw;
    for (int r = 0; r < kPerNonce; ++r) {
      const Answer& ans = answers[nonce * kPerNonce + r];
      if (ans.ok) {
        signed_raw.insert(ans.raw);
      } else {
        EXPECT_EQ(ans.code, grpc::StatusCode::FAILED_PRECONDITION) << "nonce " << nonce;
      }
    }
    EXPECT_EQ(signed_raw.size(), 1u) << "nonce " << nonce << ": one signature, whoever asked";
  }

  // A fee bump of nonce 0 through either replica: +10% on both fees over the highest, else refused.
  char winner = 0;
  for (int r = 0; r < kPerNonce; ++r) {
    if (answers[r].ok) winner = "abcd"[r / 2];
  }
  auto bump = [&](int replica, char digit, const char* fee, const char* tip, v1::SignedTransaction* tx) {
    v1::SignAddComposeHashRequest req = AddHash(address_, 0, digit);
    req.set_max_fee_per_gas_wei(fee);
    req.set_max_priority_fee_per_gas_wei(tip);
    grpc::ClientContext ctx;
    return v1::Signer::NewStub(channels[replica])->SignAddComposeHash(&ctx, req, tx);
  };
  v1::SignedTransaction bumped, refused;
  const grpc::Status ok = bump(1, winner, "2200000000", "1100000", &bumped);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(bumped.nonce_use(), v1::NONCE_USE_FEE_BUMP);
  EXPECT_EQ(bump(0, winner, "2310000000", "1155000", &refused).error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "+5% over the other replica's bump";
  EXPECT_EQ(bump(0, winner == 'a' ? 'b' : 'a', "3000000000", "2000000", &refused).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION)
      << "another payload";
  v1::SignedTransaction again;
  ASSERT_TRUE(bump(0, winner, "2200000000", "1100000", &again).ok());
  EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(again.raw_transaction(), bumped.raw_transaction()) << "replica A returns B's bump";

  // A nonce first signed on A: a valid bump on B is a FEE_BUMP replacing A's transaction; a bump
  // below +10% on B is refused; two different valid bumps racing on A and B: exactly one wins.
  auto sign = [&](int replica, uint64_t nonce, char digit, const char* fee, const char* tip,
                  v1::SignedTransaction* tx) {
    v1::SignAddComposeHashRequest req = AddHash(address_, nonce, digit);
    req.set_max_fee_per_gas_wei(fee);
    req.set_max_priority_fee_per_gas_wei(tip);
    grpc::ClientContext ctx;
    return v1::Signer::NewStub(channels[replica])->SignAddComposeHash(&ctx, req, tx);
  };
  v1::SignedTransaction first_on_a, bump_on_b, low_on_b;
  ASSERT_TRUE(sign(0, 20, 'a', "2000000000", "1000000", &first_on_a).ok());
  EXPECT_EQ(first_on_a.nonce_use(), v1::NONCE_USE_FIRST);
  EXPECT_EQ(sign(1, 20, 'a', "2100000000", "1050000", &low_on_b).error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "+5% on B over A's FIRST";
  ASSERT_TRUE(sign(1, 20, 'a', "2200000000", "1100000", &bump_on_b).ok());
  EXPECT_EQ(bump_on_b.nonce_use(), v1::NONCE_USE_FEE_BUMP);
  EXPECT_EQ(bump_on_b.replaced_transaction_hash(), first_on_a.transaction_hash());
  v1::SignedTransaction raced[2];
  grpc::Status raced_status[2];
  {
    std::atomic<bool> start{false};
    std::thread ta([&] {
      while (!start.load()) std::this_thread::yield();
      raced_status[0] = sign(0, 20, 'a', "2640000000", "1320000", &raced[0]);
    });
    std::thread tb([&] {
      while (!start.load()) std::this_thread::yield();
      raced_status[1] = sign(1, 20, 'a', "2700000000", "1350000", &raced[1]);
    });
    start.store(true);
    ta.join();
    tb.join();
  }
  int bumps = 0;
  for (int i = 0; i < 2; ++i) {
    if (raced_status[i].ok()) {
      EXPECT_EQ(raced[i].nonce_use(), v1::NONCE_USE_FEE_BUMP);
      ++bumps;
    } else {
      EXPECT_EQ(raced_status[i].error_code(), grpc::StatusCode::FAILED_PRECONDITION) << raced_status[i].error_message();
    }
  }
  EXPECT_EQ(bumps, 1) << "two different +20% bumps racing on A and B: one fee bump";
  ::kill(a, SIGTERM);
  ::kill(b, SIGTERM);
  EXPECT_EQ(WaitExit(a), 0);
  EXPECT_EQ(WaitExit(b), 0);
  EXPECT_THAT(Read(out_ + "/signer.stderr") + Read(out_ + "/b.stderr"), Not(HasSubstr(server.app_password())));
  const std::string audit = Read(out_ + "/audit.jsonl") + Read(out_ + "/audit-b.jsonl");
  size_t lost = 0;
  for (size_t at = 0; (at = audit.find("\"lost_race\":true", at)) != std::string::npos; ++at) ++lost;
  std::printf("requests that lost a race to the other replica and were classified again: %zu\n", lost);
}

TEST_F(SignerProcess, PostgresStartUpErrorsAreClearAndNeverShowThePassword) {
  ImportKeys();
  platform::postgres::TestServer& server = platform::postgres::SharedServer();
  const std::string env = std::string("SIGNER_TEST_PASSWORD=") + kPassword;
  // Both records named: a configuration error.
  std::string both = Read(out_ + "/signer.json");
  both.insert(both.rfind('}'), R"(, "antiEquivocationPostgres": {"dsnFile": "/nonexistent"})");
  Write(out_ + "/both.json", both, 0644);
  EXPECT_EQ(RunSigner(out_, "both", {"--config=" + out_ + "/both.json"}, {env}), 2);
  EXPECT_THAT(Read(out_ + "/both.stderr"), HasSubstr("exactly one"));
  EXPECT_EQ(RunSigner(out_, "both_flags",
                      {"--config=" + out_ + "/signer.json", "--anti_equivocation_db=" + out_ + "/x.sqlite",
                       "--anti_equivocation_postgres_dsn_file=/nonexistent"},
                      {env}),
            2);
  // Each case: exit 3 (the record cannot be opened), one error line naming the problem, never
  // the password, nothing listening, nothing written to the database.
  auto refused = [&](const std::string& name, const std::string& dsn_file, const std::string& problem) {
    SCOPED_TRACE(name);
    EXPECT_EQ(
        RunSigner(out_, name,
                  {"--config=" + out_ + "/signer.json", "--anti_equivocation_postgres_dsn_file=" + dsn_file}, {env}),
        3);
    const std::string printed = Read(out_ + "/" + name + ".stderr");
    std::vector<std::string> lines;
    for (absl::string_view l : absl::StrSplit(printed, '\n')) {
      if (absl::StrContains(l, "anti-equivocation") || absl::StrContains(l, "anti_equivocation")) lines.emplace_back(l);
    }
    ASSERT_EQ(lines.size(), 1u) << printed;
    EXPECT_THAT(lines[0], HasSubstr("cannot open the anti-equivocation database"));
    EXPECT_THAT(lines[0], HasSubstr(problem));
    EXPECT_THAT(printed, Not(HasSubstr(server.app_password())));
    EXPECT_THAT(printed, Not(HasSubstr("Wr0ng-pass")));
    EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "never listened";
  };
  refused("nofile", "/nonexistent/dsn", "anti_equivocation_postgres.dsn_file: DSN file /nonexistent/dsn: cannot open");
  const std::string untouched_file = *server.CreateDatabase("signer_untouched");
  const std::string readable = out_ + "/readable.dsn";
  Write(readable, Read(untouched_file), 0644);
  refused("readable", readable, "mode 0644 lets group or others read it");
  const std::string garbage = *server.WriteDsnFile("garbage.dsn", "host='unterminated password=Wr0ng-pass");
  refused("garbage", garbage, "not a valid PostgreSQL connection string");
  const std::string wrong = *server.WriteDsnFile("wrong.dsn", server.DsnText("signer_untouched", "Wr0ng-pass"));
  refused("wrong", wrong, "UNAUTHENTICATED");
  // The database these cases named is still empty: not even the schema table was created.
  std::unique_ptr<platform::postgres::Connection> untouched =
      platform::postgres::Connect(*platform::postgres::Dsn::FromFile(untouched_file));
  EXPECT_EQ(untouched->Execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")->Text(0, 0), "0");

  // A database whose signer schema is newer than this binary: refused before any write.
  const std::string newer_file = DurableDatabase("signer_newer");
  std::unique_ptr<platform::postgres::Connection> newer =
      platform::postgres::Connect(*platform::postgres::Dsn::FromFile(newer_file));
  const std::vector<absl::string_view> future(99, "SELECT 1");
  ASSERT_TRUE(platform::postgres::ApplySchema(*newer, "signer_equivocation", future).ok());
  auto snapshot = [&] {
    return newer
        ->Execute(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) || '/' || "
            "(SELECT string_agg(t::text, ',') FROM platform_schema_versions t) FROM pg_tables "
            "WHERE schemaname = 'public'")
        ->Text(0, 0);
  };
  const std::string before = snapshot();
  refused("newer", newer_file, "99");
  EXPECT_EQ(snapshot(), before) << "nothing written";
}

// A migration with the shipped binary's tools: the SQLite record cannot be exported while its
// signer runs (the file lock, exit 3); stopped, it is exported, pruned and imported into
// PostgreSQL, and signers there keep every promise the SQLite signer made.
TEST_F(SignerProcess, RecordsMoveFromSqliteToPostgresWithTheBinarysTools) {
  ImportKeys();
  pid_t pid = StartSigner();
  std::string signed_raw[3];
  for (int n = 0; n < 3; ++n) {
    grpc::ClientContext ctx;
    v1::SignedTransaction tx;
    ASSERT_TRUE(Stub()->SignAddComposeHash(&ctx, AddHash(address_, n), &tx).ok());
    signed_raw[n] = tx.raw_transaction();
  }
  const std::string sqlite = "--anti_equivocation_db=" + out_ + "/ae.sqlite";
  EXPECT_EQ(RunSigner(out_, "busy", {"records", "export", sqlite}), 3);
  EXPECT_THAT(Read(out_ + "/busy.stderr"), HasSubstr("is in use by another process"));
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);

  ASSERT_EQ(RunSigner(out_, "export", {"records", "export", out_ + "/records.jsonl", sqlite}), 0)
      << Read(out_ + "/export.stderr");
  const std::string exported = Read(out_ + "/records.jsonl");
  EXPECT_EQ(std::count(exported.begin(), exported.end(), '\n'), 4) << exported;
  ASSERT_EQ(RunSigner(out_, "prune",
                      {"records", "prune", sqlite, "--chain_id=31337", "--sender=" + address_, "--confirmed_nonce=2",
                       "--keep_depth=0"}),
            0)
      << Read(out_ + "/prune.stderr");
  EXPECT_THAT(Read(out_ + "/prune.stdout"), HasSubstr("\"pruned_below\":\"2\",\"deleted\":0"));
  EXPECT_EQ(RunSigner(out_, "prune_usage", {"records", "prune", sqlite, "--chain_id=31337"}), 2);

  const std::string pg = "--anti_equivocation_postgres_dsn_file=" + DurableDatabase("signer_migrated");
  ASSERT_EQ(RunSigner(out_, "import", {"records", "import", out_ + "/records.jsonl", pg}), 0)
      << Read(out_ + "/import.stderr");
  EXPECT_THAT(Read(out_ + "/import.stdout"), HasSubstr("\"added\":3,\"present\":0"));
  pid = StartSigner({pg});
  {
    grpc::ClientContext ctx;
    v1::SignedTransaction tx;
    ASSERT_TRUE(Stub()->SignAddComposeHash(&ctx, AddHash(address_, 1), &tx).ok());
    EXPECT_EQ(tx.nonce_use(), v1::NONCE_USE_REPEAT);
    EXPECT_EQ(tx.raw_transaction(), signed_raw[1]) << "the bytes the SQLite signer released";
  }
  {
    grpc::ClientContext ctx;
    v1::SignedTransaction tx;
    EXPECT_EQ(Stub()->SignAddComposeHash(&ctx, AddHash(address_, 2, 'b'), &tx).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION)
        << "another payload for a nonce the SQLite signer signed";
  }
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);
}

// Health follows the PostgreSQL record: NOT_SERVING while the server is stopped (requests fail
// UNAVAILABLE and nothing is signed or recorded), SERVING again once it is back.
TEST_F(SignerProcess, HealthIsNotServingWhileThePostgresRecordIsUnreachable) {
  ImportKeys();
  platform::postgres::TestServer& server = platform::postgres::SharedServer();
  const std::string dsn_file = DurableDatabase("signer_outage");
  const pid_t pid =
      StartSigner({"--anti_equivocation_postgres_dsn_file=" + dsn_file, "--record_health_interval=200ms"});
  auto health = [&] {
    absl::StatusOr<std::string> h =
        platform::testing::CheckHealth("unix:" + socket_, "onchainkms.signer.v1.Signer", absl::Seconds(1));
    return h.ok() ? *h : std::string(h.status().message());
  };
  auto await = [&](const std::string& want) {
    platform::testing::WaitFor([&] { return health() == want; });
    return health();
  };
  v1::SignedTransaction tx;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Stub()->SignAddComposeHash(&ctx, AddHash(address_, 0), &tx).ok());
  }
  ASSERT_TRUE(server.Stop().ok());
  EXPECT_EQ(await("NOT_SERVING"), "NOT_SERVING");  // never, without the record health check
  {
    grpc::ClientContext ctx;
    const grpc::Status s = Stub()->SignAddComposeHash(&ctx, AddHash(address_, 1, 'a'), &tx);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(await("SERVING"), "SERVING");
  {
    // Nothing was recorded for nonce 1 during the outage: another payload is its FIRST.
    grpc::ClientContext ctx;
    const grpc::Status s = Stub()->SignAddComposeHash(&ctx, AddHash(address_, 1, 'b'), &tx);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(tx.nonce_use(), v1::NONCE_USE_FIRST);
  }
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);
  const std::string log = Read(out_ + "/signer.stderr");
  EXPECT_THAT(log, HasSubstr("anti-equivocation record unreachable; not serving"));
  EXPECT_THAT(log, HasSubstr("anti-equivocation record reachable again; serving"));
  EXPECT_THAT(log, Not(HasSubstr(server.app_password())));
}

TEST_F(SignerProcess, RefusesPlaintextTcpOffLoopbackAndServesMtlsWithAnAllowlist) {
  ImportKeys();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--listen=0.0.0.0:0"}, {"--listen=0.0.0.0:0", "--insecure"}, {"--listen=127.0.0.1:0"}}) {
    std::vector<std::string> a = {"--config=" + out_ + "/signer.json"};
    a.insert(a.end(), args.begin(), args.end());
    EXPECT_EQ(RunSigner(out_, "tcp", a, {std::string("SIGNER_TEST_PASSWORD=") + kPassword}), 2) << args[0];
  }
  {  // Plaintext on loopback with the explicit flag works (development only).
    const int port = platform::testing::FreeTcpPort();
    pid_t pid = Spawn(
        SignerBinary(), {"--config=" + out_ + "/signer.json", absl::StrCat("--listen=127.0.0.1:", port), "--insecure"},
        {std::string("SIGNER_TEST_PASSWORD=") + kPassword}, "", out_ + "/loopback.stdout", out_ + "/loopback.stderr");
    ASSERT_TRUE(WaitServing(pid, absl::StrCat("127.0.0.1:", port)).ok()) << Read(out_ + "/loopback.stderr");
    auto stub =
        v1::Signer::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::ListKeysResponse keys;
    EXPECT_TRUE(stub->ListKeys(&ctx, {}, &keys).ok());
    EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);
    EXPECT_THAT(Read(out_ + "/audit.jsonl"), HasSubstr("\"transport\":\"insecure-loopback\""));
  }
  // Test PKI: a CA, a server cert for 127.0.0.1, an allowed and a not-allowed client.
  const std::string d = in_;
  const std::string script = absl::StrCat(
      "set -e; cd ", d, "; exec 2>/dev/null; ", "openssl ecparam -name prime256v1 -genkey -noout -out ca.key; ",
      "openssl req -x509 -new -key ca.key -subj /CN=test-ca -days 2 -out ca.pem; ",
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext; ",
      "for n in server alice mallory; do openssl ecparam -name prime256v1 -genkey -noout -out $n.key; ",
      "openssl req -new -key $n.key -subj /CN=$n -out $n.csr; ",
      "if [ $n = server ]; then e='-extfile san.ext'; else e=''; fi; ",
      "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 $e -out $n.pem; done; ",
      "openssl x509 -in alice.pem -noout -fingerprint -sha256 | cut -d= -f2");
  const std::string alice_fp = std::string(absl::StripAsciiWhitespace(Popen(script)));
  ASSERT_EQ(alice_fp.size(), 95u) << alice_fp;
  const int port = platform::testing::FreeTcpPort();
  Write(out_ + "/tls.json",
        absl::StrCat(R"({"listen": {"tcp": {"address": "127.0.0.1:)", port, R"(", "tls": {"certFile": ")", d,
                     R"(/server.pem", "keyFile": ")", d, R"(/server.key", "clientCaFile": ")", d,
                     R"(/ca.pem", "allowedClientCertSha256": [")", alice_fp, R"("]}}}, "keystoreDir": ")", out_,
                     R"(/ks", "password": {"envVar": "SIGNER_TEST_PASSWORD"}, "policyFile": ")", out_,
                     R"(/policy.textproto", "antiEquivocationDbPath": ")", out_, R"(/ae.sqlite", "auditLogPath": ")",
                     out_, R"(/audit.jsonl"})"),
        0644);
  pid_t pid = Spawn(SignerBinary(), {"--config=" + out_ + "/tls.json"},
                    {std::string("SIGNER_TEST_PASSWORD=") + kPassword}, "", out_ + "/tls.stdout", out_ + "/tls.stderr");
  auto call = [&](const std::string& who) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Read(d + "/ca.pem");
    if (!who.empty()) {
      o.pem_private_key = Read(d + "/" + who + ".key");
      o.pem_cert_chain = Read(d + "/" + who + ".pem");
    }
    auto stub = v1::Signer::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(o)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListKeysResponse resp;
    return stub->ListKeys(&ctx, {}, &resp);
  };
  grpc::Status alice;
  platform::testing::WaitFor([&] {  // the keys load (scrypt), then the port opens
    alice = call("alice");
    return alice.ok();
  });
  EXPECT_TRUE(alice.ok()) << alice.error_message() << Read(out_ + "/tls.stderr");
  grpc::Status mallory = call("mallory");
  EXPECT_EQ(mallory.error_code(), grpc::StatusCode::PERMISSION_DENIED) << mallory.error_message();
  EXPECT_THAT(mallory.error_message(), HasSubstr("allowlist"));
  EXPECT_NE(call("").error_code(), grpc::StatusCode::OK) << "no client certificate";
  EXPECT_EQ(WaitExit((::kill(pid, SIGTERM), pid)), 0);
  EXPECT_THAT(Read(out_ + "/audit.jsonl"), HasSubstr("\"transport\":\"mtls\""));
}

TEST(SignerExamplesTest, ExampleConfigAndPolicyParseAndCompile) {
  v1::SignerConfig config;
  ASSERT_TRUE(platform::LoadConfigFile(RunfilePath("signer/signer.example.textproto"), &config).ok());
  EXPECT_EQ(config.listen().unix().mode(), "0660");
  EXPECT_EQ(config.log_level(), "info");
  absl::StatusOr<std::shared_ptr<const signer::policy::CompiledPolicy>> policy =
      signer::policy::LoadPolicyFile(RunfilePath("signer/policy.example.textproto"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  // Safe to copy: callers are bound, and transferOwnership goes to the named owner only.
  EXPECT_TRUE((*policy)->binds_callers());
  signer::policy::TxIntent t;
  t.kind = signer::policy::TxIntent::Kind::kGeneric;
  t.caller = "token:ops";
  t.chain_id = 31337;
  t.from = *chain::Address::Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  t.to = *chain::Address::Parse(kApp);
  t.gas_limit = 50000;
  const std::string owner = "0000000000000000000000009999999999999999999999999999999999999999";
  t.data = *chain::FromHex("0xf2fde38b" + owner);
  EXPECT_TRUE((*policy)->CheckTransaction(t).allowed()) << (*policy)->CheckTransaction(t).status;
  t.data = *chain::FromHex("0xf2fde38b000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_THAT((*policy)->CheckTransaction(t).rule, HasSubstr("arguments[index=0]"));
  t.data = *chain::FromHex("0xf2fde38b" + owner + "00");
  EXPECT_THAT((*policy)->CheckTransaction(t).rule, HasSubstr("function_signature"));
  t.caller = "uid:1000";  // the orchestrator may not use the owner key
  EXPECT_FALSE((*policy)->CheckTransaction(t).allowed());
}

TEST(SignerCommandLineTest, BadCommandsAndConfigsExitWithTwo) {
  ShortTempDir dir;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--config=/nonexistent/signer.textproto"},
           {"frobnicate"},
           {"keys"},
           {"audit", "verify"},
           {"--log_level=loud"},
           {"--listen=unix:" + dir.path() + "/x.sock"},  // no keystore_dir, policy, db, audit log
       }) {
    EXPECT_EQ(RunSigner(dir.path(), "bad", args), 2) << args[0];
  }
}

}  // namespace
