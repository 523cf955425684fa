// orchestrator: deploys and updates Phala Cloud CVMs governed by an on-chain KMS, as durable
// operations over gRPC. See orchestrator/README.md.
//
//   orchestrator --config=/etc/onchain-kms/orchestrator.textproto
//   orchestrator --config=FILE --listen=unix:/run/onchain-kms/orchestrator.sock --journal_path=...
//
// Flags given on the command line override the config file (--log_level its log_level). Exit codes: 0 after a graceful
// shutdown (SIGTERM/SIGINT), 1 if it cannot start, 2 for a bad command line or config file.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "orchestrator/server/app.h"
#include "platform/config_file.h"
#include "platform/listen_flags.h"
#include "platform/log/level_flag.h"
#include "platform/log/log.h"
#include "platform/process_hardening.h"
#include "platform/signals.h"
#include "platform/transport/transport.h"

ABSL_FLAG(std::string, config, "",
          "config file (onchainkms.orchestrator.v1.OrchestratorConfig as text proto, or JSON if it ends in .json)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long in-flight steps may take to reach a checkpoint");
ABSL_FLAG(std::string, journal_path, "", "a SQLite journal file, instead of the config's journal");
ABSL_FLAG(std::string, journal_postgres_dsn_file, "",
          "a PostgreSQL journal: the file holding its connection string, instead of the config's journal");
ABSL_FLAG(std::string, phala_cloud_base_url, "", "overrides phala_cloud.base_url");
ABSL_FLAG(std::string, phala_cloud_api_key_file, "", "overrides phala_cloud.api_key_file");
ABSL_FLAG(std::string, signer_address, "", "overrides signer.address (unix:/path or host:port)");
ABSL_FLAG(std::string, default_signer_key_address, "", "overrides default_signer_key_address");
ABSL_FLAG(std::string, bearer_tokens_file, "",
          "overrides listen.tcp.bearer_tokens_file (TLS listeners only: refused on any other)");
ABSL_FLAG(int, metrics_port, -1, "Prometheus metrics port (overrides metrics_port; 0 disables)");
ABSL_FLAG(std::string, metrics_bind_address, "", "metrics bind address (overrides metrics_bind_address)");

namespace {

constexpr char kDefaultListen[] = "unix:/run/onchain-kms/orchestrator.sock";
namespace v1 = onchainkms::orchestrator::v1;

int Fail(int code, const std::string& message) {
  platform::log::Error("cannot start", {{"error", message}});
  std::fprintf(stderr, "orchestrator: %s\n", message.c_str());
  return code;
}

// Who may call, from the config's listen section (the listener itself comes from
// platform::ListenOptionsFromConfig and the flags).
platform::TransportOptions TransportOptionsFrom(const v1::OrchestratorConfig& config) {
  platform::TransportOptions topts;
  const v1::UnixSocketListen& unix_socket = config.listen().unix();
  topts.allowed_peer_uids.assign(unix_socket.allowed_peer_uids().begin(), unix_socket.allowed_peer_uids().end());
  topts.allowed_peer_gids.assign(unix_socket.allowed_peer_gids().begin(), unix_socket.allowed_peer_gids().end());
  topts.restrict_unix_peers = !topts.allowed_peer_uids.empty() || !topts.allowed_peer_gids.empty();
  if (config.listen().has_tcp()) {
    topts.bearer_tokens_file = config.listen().tcp().bearer_tokens_file();
    const v1::ServerTls& tls = config.listen().tcp().tls();
    topts.allowed_client_cert_sha256.assign(tls.allowed_client_cert_sha256().begin(),
                                            tls.allowed_client_cert_sha256().end());
    topts.allowed_client_names.assign(tls.allowed_client_names().begin(), tls.allowed_client_names().end());
  }
  return topts;
}

// --journal_path / --journal_postgres_dsn_file replace whichever journal the file names (a
// PostgreSQL journal keeps the file's other settings: pool_size, replica_id, the lease timings).
absl::Status ApplyJournalFlags(v1::OrchestratorConfig& config) {
  const std::string path = absl::GetFlag(FLAGS_journal_path);
  const std::string dsn_file = absl::GetFlag(FLAGS_journal_postgres_dsn_file);
  if (!path.empty() && !dsn_file.empty()) {
    return absl::InvalidArgumentError("--journal_path and --journal_postgres_dsn_file: give at most one");
  }
  if (!path.empty()) {
    config.clear_journal();
    config.set_journal_path(path);
  }
  if (!dsn_file.empty()) {
    config.clear_journal_path();
    config.mutable_journal()->mutable_postgres()->set_dsn_file(dsn_file);
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  platform::ShutdownSignals signals;  // before any thread exists
  // Debian's Abseil is built with Mutex deadlock detection on: a lock-order graph and a stack
  // trace per acquisition, about 1.5 % of the process's CPU under load (bench/README.md). The
  // tests keep it (they do not run this main).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // The API key and env values in flight live in this process's memory: no core file, no ptrace.
  if (absl::Status s = platform::HardenProcess(); !s.ok()) return Fail(1, "cannot harden the process: " + s.ToString());
  absl::SetProgramUsageMessage(
      "The onchain-kms orchestrator: deploys and updates Phala Cloud CVMs governed by a KMS.\n"
      "  orchestrator --config=FILE [--listen=unix:/path | host:port] [--journal_path=F | "
      "--journal_postgres_dsn_file=F]\n"
      "  [--signer_address=A]");
  absl::ParseCommandLine(argc, argv);

  v1::OrchestratorConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    if (absl::Status s = platform::LoadConfigFile(path, &config); !s.ok()) return Fail(2, s.ToString());
  }
  if (absl::Status s = platform::log::ApplyLogLevel(config.log_level()); !s.ok()) return Fail(2, s.ToString());
  if (absl::Status s = ApplyJournalFlags(config); !s.ok()) return Fail(2, s.ToString());
  if (std::string v = absl::GetFlag(FLAGS_phala_cloud_base_url); !v.empty())
    config.mutable_phala_cloud()->set_base_url(v);
  if (std::string v = absl::GetFlag(FLAGS_phala_cloud_api_key_file); !v.empty()) {
    config.mutable_phala_cloud()->set_api_key_file(v);
  }
  if (std::string v = absl::GetFlag(FLAGS_signer_address); !v.empty()) config.mutable_signer()->set_address(v);
  if (std::string v = absl::GetFlag(FLAGS_default_signer_key_address); !v.empty()) {
    config.set_default_signer_key_address(v);
  }
  if (int v = absl::GetFlag(FLAGS_metrics_port); v >= 0) config.set_metrics_port(static_cast<uint32_t>(v));
  if (std::string v = absl::GetFlag(FLAGS_metrics_bind_address); !v.empty()) config.set_metrics_bind_address(v);

  platform::ListenOptions defaults;
  defaults.address = kDefaultListen;
  absl::StatusOr<platform::ListenOptions> listen = platform::ListenOptionsFromConfig(config.listen(), defaults);
  if (listen.ok()) listen = platform::ApplyListenFlags(*std::move(listen));
  if (!listen.ok()) return Fail(2, listen.status().ToString());
  platform::TransportOptions topts = TransportOptionsFrom(config);
  topts.listen = *listen;
  if (std::string v = absl::GetFlag(FLAGS_bearer_tokens_file); !v.empty()) topts.bearer_tokens_file = v;

  absl::StatusOr<std::unique_ptr<orchestrator::server::App>> app = orchestrator::server::App::Start(config, topts);
  if (!app.ok()) {
    return Fail(app.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1, app.status().ToString());
  }
  std::fprintf(stderr, "orchestrator: serving on %s\n", (*app)->address().c_str());

  const int signal = signals.Wait();
  platform::log::Info("signal received, shutting down", {{"signal", signal}});
  if (!(*app)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace))) {
    // A worker is still blocked in a network call; every step is checkpointed in the journal.
    std::fflush(stderr);
    ::_exit(0);
  }
  app->reset();
  std::fprintf(stderr, "orchestrator: stopped\n");
  return 0;
}
