#include "signer/server/signer_main.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "platform/config_file.h"
#include "platform/http/metrics_server.h"
#include "platform/listen_flags.h"
#include "platform/log/level_flag.h"
#include "platform/log/log.h"
#include "platform/process_hardening.h"
#include "platform/signals.h"
#include "platform/transport/transport.h"
#include "signer/audit/audit_log.h"
#include "signer/cli/keys_command.h"
#include "signer/cli/records_command.h"
#include "signer/engine/engine.h"
#include "signer/keystore/key_store.h"
#include "signer/keystore/password.h"
#include "signer/metrics/metrics.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"
#include "signer/server/record_backend.h"
#include "signer/server/record_health.h"
#include "signer/server/serving_process.h"
#include "signer/signer_service.h"

ABSL_FLAG(std::string, config, "",
          "config file (onchainkms.signer.v1.SignerConfig as text proto, or JSON if it ends in .json)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long calls in flight may take to finish");
ABSL_FLAG(bool, insecure, false, "same as --insecure_loopback: allow plaintext TCP on a loopback address only");
ABSL_FLAG(std::string, keystore_dir, "", "directory of keystore V3 files (overrides keystore_dir)");
ABSL_FLAG(std::string, password_file, "", "file holding the keystore password, mode 0600 (overrides password)");
ABSL_FLAG(
    std::string, password_env, "",
    "NAME of an environment variable holding the keystore password (overrides password); never the password itself");
ABSL_FLAG(std::string, policy_file, "", "policy file (overrides policy_file)");
ABSL_FLAG(std::string, anti_equivocation_db, "",
          "anti-equivocation SQLite database (overrides anti_equivocation_db_path)");
ABSL_FLAG(std::string, anti_equivocation_postgres_dsn_file, "",
          "file (mode 0600) holding the PostgreSQL connection string of a shared anti-equivocation record "
          "(overrides anti_equivocation_postgres.dsn_file and anti_equivocation_db_path); never the string itself");
ABSL_FLAG(std::string, audit_log, "", "audit log, JSON Lines (overrides audit_log_path)");
ABSL_FLAG(int, metrics_port, -1, "Prometheus metrics port (overrides metrics_port; 0 disables)");
ABSL_FLAG(std::string, metrics_bind_address, "", "metrics bind address (overrides metrics_bind_address)");
ABSL_FLAG(std::vector<std::string>, allowed_peer_uids, {},
          "extra unix-socket peer uids allowed to call (comma-separated)");
ABSL_FLAG(std::string, kdf, "scrypt", "keys new/import: scrypt (n=2^18, r=8, p=1) or pbkdf2 (c=262144)");
ABSL_FLAG(uint64_t, scrypt_n, uint64_t{1} << 18,
          "keys new/import: scrypt n (a power of two; below 2^18 for tests only)");
ABSL_FLAG(std::string, expect_head, "",
          "audit verify: the audit_head the signer logged (at start or stop) that must still be in the chain "
          "(also spelled --expect-head)");
ABSL_FLAG(int64_t, chain_id, -1, "records prune: the chain");
ABSL_FLAG(std::string, sender, "", "records prune: the key (0x address)");
ABSL_FLAG(int64_t, confirmed_nonce, -1,
          "records prune: the key's confirmed (e.g. finalized) transaction count on the chain");
ABSL_FLAG(int64_t, keep_depth, -1, "records prune: how many nonces below the confirmed one keep their records");
ABSL_FLAG(absl::Duration, record_health_interval, absl::Seconds(1),
          "how often health checks that the anti-equivocation record answers");

namespace signer::server {
namespace {

namespace v1 = onchainkms::signer::v1;
using platform::log::Level;
using platform::log::Log;

constexpr char kDefaultListen[] = "unix:/run/onchain-kms/signer.sock";

int Fail(int code, absl::string_view what, const absl::Status& s) {
  Log(Level::kError, what, {{"error", std::string(s.message())}, {"code", absl::StatusCodeToString(s.code())}});
  return code;
}

void ApplyFlagOverrides(v1::SignerConfig* c) {
  if (auto v = absl::GetFlag(FLAGS_keystore_dir); !v.empty()) c->set_keystore_dir(v);
  if (auto v = absl::GetFlag(FLAGS_password_file); !v.empty()) c->mutable_password()->set_file(v);
  if (auto v = absl::GetFlag(FLAGS_password_env); !v.empty()) c->mutable_password()->set_env_var(v);
  if (auto v = absl::GetFlag(FLAGS_policy_file); !v.empty()) c->set_policy_file(v);
  if (auto v = absl::GetFlag(FLAGS_anti_equivocation_db); !v.empty()) {
    c->set_anti_equivocation_db_path(v);
    c->clear_anti_equivocation_postgres();
  }
  if (auto v = absl::GetFlag(FLAGS_anti_equivocation_postgres_dsn_file); !v.empty()) {
    c->mutable_anti_equivocation_postgres()->set_dsn_file(v);
    c->clear_anti_equivocation_db_path();
  }
  if (auto v = absl::GetFlag(FLAGS_audit_log); !v.empty()) c->set_audit_log_path(v);
  if (int v = absl::GetFlag(FLAGS_metrics_port); v >= 0) c->set_metrics_port(static_cast<uint32_t>(v));
  if (auto v = absl::GetFlag(FLAGS_metrics_bind_address); !v.empty()) c->set_metrics_bind_address(v);
}

int RunKeys(const std::vector<std::string>& args, const v1::SignerConfig& config) {
  cli::KeysOptions o;
  o.keystore_dir = config.keystore_dir();
  o.password = config.password();
  const std::string kdf = absl::GetFlag(FLAGS_kdf);
  if (kdf == "pbkdf2") {
    o.encrypt.kdf = keystore::EncryptParams::Kdf::kPbkdf2;
  } else if (kdf != "scrypt") {
    std::fprintf(stderr, "signer keys: --kdf must be scrypt or pbkdf2\n");
    return 2;
  }
  o.encrypt.scrypt_n = absl::GetFlag(FLAGS_scrypt_n);
  return cli::RunKeysCommand(args, o, stdout, stderr);
}

absl::Status CheckRecordChoice(const v1::SignerConfig& config);

absl::Status CheckRequiredPaths(const v1::SignerConfig& config) {
  for (const auto& [field, value] :
       std::vector<std::pair<const char*, std::string>>{{"keystore_dir", config.keystore_dir()},
                                                        {"policy_file", config.policy_file()},
                                                        {"audit_log_path", config.audit_log_path()}}) {
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required (config file or flag)"));
  }
  return CheckRecordChoice(config);
}

absl::Status CheckRecordChoice(const v1::SignerConfig& config) {
  if (!absl::GetFlag(FLAGS_anti_equivocation_db).empty() &&
      !absl::GetFlag(FLAGS_anti_equivocation_postgres_dsn_file).empty()) {
    return absl::InvalidArgumentError("--anti_equivocation_db, --anti_equivocation_postgres_dsn_file: at most one");
  }
  const bool sqlite = !config.anti_equivocation_db_path().empty();
  const bool postgres = config.has_anti_equivocation_postgres();
  if (sqlite == postgres) {
    return absl::InvalidArgumentError(
        "anti_equivocation_db_path, anti_equivocation_postgres: exactly one is required (config file or flag)");
  }
  if (postgres && config.anti_equivocation_postgres().dsn_file().empty()) {
    return absl::InvalidArgumentError("anti_equivocation_postgres.dsn_file: required");
  }
  return absl::OkStatus();
}

std::optional<uint64_t> OptionalFlag(int64_t v) {
  return v < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(v));
}

int RunRecords(const std::vector<std::string>& args, const v1::SignerConfig& config) {
  if (absl::Status s = CheckRecordChoice(config); !s.ok()) {
    std::fprintf(stderr, "signer records: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  cli::RecordsOptions o;
  o.backend = config.has_anti_equivocation_postgres() ? "postgres" : "sqlite";
  o.open = [&config]() -> absl::StatusOr<std::unique_ptr<equivocation::RecordAdmin>> {
    absl::StatusOr<OpenedRecord> opened = OpenRecord(config);
    if (!opened.ok()) return opened.status();
    opened->store.release();  // owned from here on through its RecordAdmin side (the same object)
    return std::unique_ptr<equivocation::RecordAdmin>(opened->admin);
  };
  o.chain_id = OptionalFlag(absl::GetFlag(FLAGS_chain_id));
  o.sender = absl::GetFlag(FLAGS_sender);
  o.confirmed_nonce = OptionalFlag(absl::GetFlag(FLAGS_confirmed_nonce));
  o.keep_depth = OptionalFlag(absl::GetFlag(FLAGS_keep_depth));
  return cli::RunRecordsCommand(args, o, stdout, stderr);
}

// The listener from the config file and flags: a unix socket only our uid, allowed_peer_uids and
// the socket's group may use; TCP only with mTLS and an allowlist.
absl::StatusOr<platform::TransportOptions> TransportOptionsFrom(const v1::SignerConfig& config) {
  platform::ListenOptions defaults;
  defaults.address = kDefaultListen;
  absl::StatusOr<platform::ListenOptions> listen = platform::ListenOptionsFromConfig(config.listen(), defaults);
  if (listen.ok()) listen = platform::ApplyListenFlags(*std::move(listen));
  if (!listen.ok()) return listen.status();
  if (absl::GetFlag(FLAGS_insecure)) listen->insecure_loopback = true;
  platform::TransportOptions topts;
  topts.listen = *listen;
  topts.restrict_unix_peers = true;
  topts.require_client_certificate = true;
  topts.max_receive_message_bytes = 1 << 20;
  for (uint32_t uid : config.listen().unix().allowed_peer_uids()) topts.allowed_peer_uids.push_back(uid);
  for (const std::string& s : absl::GetFlag(FLAGS_allowed_peer_uids)) {
    uint32_t uid = 0;
    if (!absl::SimpleAtoi(s, &uid)) return absl::InvalidArgumentError("--allowed_peer_uids: not a uid");
    topts.allowed_peer_uids.push_back(uid);
  }
  for (const std::string& s : config.listen().tcp().tls().allowed_client_cert_sha256())
    topts.allowed_client_cert_sha256.push_back(s);
  for (const std::string& s : config.listen().tcp().tls().allowed_client_names())
    topts.allowed_client_names.push_back(s);
  return topts;
}

// Passwords into locked memory, every key file decrypted once; the passwords are wiped on return.
// Sets *exit_code (1 or 2) on failure.
std::unique_ptr<keystore::KeyStore> LoadKeys(const v1::SignerConfig& config, int* exit_code) {
  std::optional<crypto::LockedBuffer> default_password;
  if (config.has_password()) {
    absl::StatusOr<crypto::LockedBuffer> p = keystore::ReadPassword(config.password(), "password");
    if (!p.ok()) {
      *exit_code = Fail(1, "cannot read the keystore password", p.status());
      return nullptr;
    }
    default_password = *std::move(p);
  }
  absl::flat_hash_map<chain::Address, crypto::LockedBuffer> per_key;
  for (int i = 0; i < config.key_passwords_size(); ++i) {
    const std::string field = absl::StrCat("key_passwords[", i, "]");
    absl::StatusOr<chain::Address> a = chain::Address::Parse(config.key_passwords(i).address());
    if (!a.ok()) {
      *exit_code = Fail(2, "bad configuration",
                        absl::InvalidArgumentError(absl::StrCat(field, ".address: ", a.status().message())));
      return nullptr;
    }
    absl::StatusOr<crypto::LockedBuffer> p =
        keystore::ReadPassword(config.key_passwords(i).password(), field + ".password");
    if (!p.ok()) {
      *exit_code = Fail(1, "cannot read a keystore password", p.status());
      return nullptr;
    }
    per_key.emplace(*a, *std::move(p));
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<keystore::KeyStore>> loaded = keystore::KeyStore::Load(
      config.keystore_dir(),
      [&](const std::optional<chain::Address>& a) -> absl::StatusOr<const crypto::LockedBuffer*> {
        if (a.has_value()) {
          auto it = per_key.find(*a);
          if (it != per_key.end()) return &it->second;
        }
        if (default_password.has_value()) return &*default_password;
        return absl::InvalidArgumentError("no password configured for this key (password or key_passwords)");
      });
  if (!loaded.ok()) {
    *exit_code = Fail(1, "cannot load the keys", loaded.status());
    return nullptr;
  }
  for (const std::string& name : (*loaded)->skipped()) {
    Log(Level::kWarn, "keystore entry skipped: not a regular file", {{"entry", name}});
  }
  Log(Level::kInfo, "keys loaded",
      {{"keys", static_cast<uint64_t>((*loaded)->size())}, {"seconds", absl::ToDoubleSeconds(absl::Now() - start)}});
  return *std::move(loaded);
}

// Everything behind the gRPC edge, built by OpenSigner() in this order.
struct SignerCore {
  std::unique_ptr<keystore::KeyStore> keys;
  std::unique_ptr<policy::PolicyHolder> policy;
  policy::UsageTracker usage;
  std::unique_ptr<equivocation::Store> store;
  std::unique_ptr<audit::AuditLog> audit;
  metrics::Metrics metrics;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<platform::http::MetricsServer> metrics_server;
};

// Keys, policy, anti-equivocation database, audit log, engine (fee ledger replayed), metrics
// endpoint. 0, or the exit code after logging why.
int OpenSigner(const v1::SignerConfig& config, SignerCore& core) {
  int code = 0;
  core.keys = LoadKeys(config, &code);
  if (core.keys == nullptr) return code;
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> initial = policy::LoadPolicyFile(config.policy_file());
  if (!initial.ok()) return Fail(2, "cannot load the policy", initial.status());
  core.policy = std::make_unique<policy::PolicyHolder>(*initial);
  absl::StatusOr<OpenedRecord> record = OpenRecord(config);
  if (!record.ok()) return Fail(kExitRecordUnavailable, "cannot open the anti-equivocation database", record.status());
  if (equivocation::PostgresStore* pg = record->postgres; pg != nullptr) {
    // The rate limit's buckets live in the shared record too, so the limit is global.
    core.usage.UseSharedBucket(
        [pg](const chain::Address& key, double rate, uint32_t burst) { return pg->TakeToken(key, rate, burst); });
  }
  core.store = std::move(record->store);
  const absl::Duration fsync_interval =
      config.audit_fsync_every_record()
          ? absl::ZeroDuration()
          : absl::Milliseconds(config.audit_fsync_interval_ms() == 0 ? 10 : config.audit_fsync_interval_ms());
  absl::StatusOr<std::unique_ptr<audit::AuditLog>> audit =
      audit::AuditLog::Open(config.audit_log_path(), fsync_interval);
  if (!audit.ok()) return Fail(1, "cannot open the audit log", audit.status());
  core.audit = *std::move(audit);

  core.metrics.SetKeysLoaded(static_cast<int64_t>(core.keys->size()));
  core.metrics.SetGroupCommitFns([s = core.store.get()] { return s->commits(); },
                                 [s = core.store.get()] { return s->records_written(); });
  core.engine = std::make_unique<engine::Engine>(engine::EngineDeps{core.keys.get(), core.policy.get(), &core.usage,
                                                                    core.store.get(), core.audit.get(), &core.metrics});
  if (absl::Status s = core.engine->ReplayFeeLedger(); !s.ok()) return Fail(1, "cannot replay the fee ledger", s);
  if (config.metrics_port() != 0) {
    absl::StatusOr<std::unique_ptr<platform::http::MetricsServer>> m = platform::http::MetricsServer::Start(
        {.bind_address = config.metrics_bind_address(), .port = static_cast<int>(config.metrics_port())},
        [&metrics = core.metrics] { return metrics.Render(); });
    if (!m.ok()) return Fail(1, "cannot start the metrics endpoint (metrics_bind_address, metrics_port)", m.status());
    core.metrics_server = *std::move(m);
  }
  return 0;
}

// SIGHUP: an invalid policy is rejected and the old one kept; both outcomes are audited.
void ReloadPolicy(const v1::SignerConfig& config, SignerCore& core) {
  policy::PolicyHolder& policy = *core.policy;
  boost::json::object event;
  event["event"] = "policy_reload";
  if (absl::Status s = policy.Reload(config.policy_file()); s.ok()) {
    core.metrics.PolicyReload(true);
    event["result"] = "ok";
    event["policy"] = policy.Get()->fingerprint();
    Log(Level::kInfo, "policy reloaded", {{"policy", policy.Get()->fingerprint()}});
  } else {
    core.metrics.PolicyReload(false);
    event["result"] = "rejected";
    event["reason"] = std::string(s.message());
    event["policy"] = policy.Get()->fingerprint();
    Log(Level::kError, "policy reload rejected; the previous policy stays in force",
        {{"error", std::string(s.message())}, {"policy", policy.Get()->fingerprint()}});
  }
  (void)core.audit->Append(event);
}

// Health SERVING while the record answers, until SIGTERM/SIGINT; SIGHUP reloads the policy.
void ServeUntilShutdown(const v1::SignerConfig& config, platform::ShutdownSignals& signals, SignerCore& core,
                        platform::Transport& transport) {
  RecordHealth health(core.store.get(), &transport.health(), absl::GetFlag(FLAGS_record_health_interval));
  Log(Level::kInfo, "serving",
      {{"address", transport.address()},
       {"allocator", AllocatorInUse()},
       {"metrics_port", core.metrics_server ? core.metrics_server->port() : 0},
       {"keys", static_cast<uint64_t>(core.keys->size())},
       {"policy", core.policy->Get()->fingerprint()},
       {"audit_seq", core.audit->seq()},
       {"audit_head", core.audit->head_hash()}});
  for (;;) {
    const int sig = signals.Wait();
    if (sig != SIGHUP) {
      Log(Level::kInfo, "shutting down", {{"signal", sig}});
      return;
    }
    ReloadPolicy(config, core);
  }
}

int Serve(const v1::SignerConfig& config, platform::ShutdownSignals& signals) {
  if (absl::Status s = CheckRequiredPaths(config); !s.ok()) return Fail(2, "bad configuration", s);
  absl::StatusOr<platform::TransportOptions> topts = TransportOptionsFrom(config);
  if (!topts.ok()) return Fail(2, "bad listen configuration", topts.status());
  // Checked before the keys are decrypted (slow); it listens once everything is open.
  absl::StatusOr<std::unique_ptr<platform::Transport>> transport = platform::Transport::Create(*std::move(topts));
  if (!transport.ok()) return Fail(2, "refused listen configuration", transport.status());
  SignerCore core;
  if (int code = OpenSigner(config, core); code != 0) return code;

  SignerService service(core.engine.get(), **transport);
  if (absl::Status s = (*transport)->Serve({{v1::Signer::service_full_name(), &service}}); !s.ok()) {
    return Fail(s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1, "cannot start the server", s);
  }
  core.metrics.SetRefusedConnectionsFn([t = transport->get()] { return t->refused_connections(); });
  ServeUntilShutdown(config, signals, core, **transport);
  (*transport)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));  // calls in flight finish first
  if (core.metrics_server) core.metrics_server->Stop();
  core.store.reset();  // drains queued records
  // The engine's end writes the last summaries of refused calls to the audit log.
  core.engine.reset();
  Log(Level::kInfo, "stopped", {{"audit_seq", core.audit->seq()}, {"audit_head", core.audit->head_hash()}});
  core.audit.reset();
  return 0;
}

}  // namespace

int SignerMain(int argc, char** argv) {
  // Before any secret is read and before any thread exists.
  if (absl::Status s = platform::HardenProcess(); !s.ok()) return Fail(1, "cannot harden the process", s);
  ConfigureServingProcess();
  platform::ShutdownSignals signals({SIGTERM, SIGINT, SIGHUP});
  absl::SetProgramUsageMessage(
      "The onchain-kms signer: holds the keys, signs what its policy allows.\n"
      "  signer --config=FILE [--listen=unix:/path | host:port] [--socket_mode=0660 --socket_group=G]\n"
      "  signer keys new|import|list --keystore_dir=DIR [--password_file=F | --password_env=VAR]\n"
      "  signer records export|import|prune (--anti_equivocation_db=F | --anti_equivocation_postgres_dsn_file=F)\n"
      "  signer audit verify [--expect_head=HASH] FILE");
  absl::FlagsUsageConfig usage;  // --help lists our flags (signer/'s and platform/'s), not gRPC's
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "signer/") || absl::StrContains(file, "platform/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  // --expect-head, as operators' runbooks spell it, is our --expect_head.
  std::vector<std::string> spelled(argv, argv + argc);
  std::vector<char*> argv_flags;
  for (std::string& a : spelled) {
    if (a == "--expect-head" || absl::StartsWith(a, "--expect-head=")) a[8] = '_';
    argv_flags.push_back(a.data());
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv_flags.data());
  std::vector<std::string> args(positional.begin() + 1, positional.end());

  if (!args.empty() && args[0] == "audit") {
    return cli::RunAuditCommand({args.begin() + 1, args.end()}, absl::GetFlag(FLAGS_expect_head), stdout, stderr);
  }

  v1::SignerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    if (absl::Status s = platform::LoadConfigFile(path, &config); !s.ok())
      return Fail(2, "cannot load the config file", s);
  }
  ApplyFlagOverrides(&config);
  if (absl::Status s = platform::log::ApplyLogLevel(config.log_level()); !s.ok())
    return Fail(2, "bad configuration", s);
  if (!args.empty() && args[0] == "keys") return RunKeys({args.begin() + 1, args.end()}, config);
  if (!args.empty() && args[0] == "records") return RunRecords({args.begin() + 1, args.end()}, config);
  if (!args.empty()) {
    std::fprintf(stderr, "signer: unknown command \"%s\" (serve by default; or keys, records, audit)\n",
                 args[0].c_str());
    return 2;
  }
  return Serve(config, signals);
}

}  // namespace signer::server
