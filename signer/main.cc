// signer: the isolated key-holding gRPC service. See signer/README.md.
//
//   signer --config=/etc/onchain-kms/signer.textproto
//   signer --listen=unix:/run/onchain-kms/signer.sock
//
// Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 if it cannot start, 2 for a bad
// command line or config file.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "rpc/config_file.h"
#include "rpc/listen_flags.h"
#include "rpc/server.h"
#include "rpc/signals.h"
#include "signer/signer_service.h"

ABSL_FLAG(std::string, config, "",
          "config file (onchainkms.signer.v1.SignerConfig as text proto, or JSON if it ends in .json)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long calls in flight may take to finish");

namespace {

constexpr char kDefaultListen[] = "unix:/run/onchain-kms/signer.sock";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "signer: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  rpc::ShutdownSignals signals;  // before any thread exists
  absl::SetProgramUsageMessage(
      "The onchain-kms signer: holds the keys, signs transactions its policy allows.\n"
      "  signer --config=FILE [--listen=unix:/path | host:port] [--socket_mode=0660 --socket_group=G]");
  absl::FlagsUsageConfig usage;  // --help lists our flags (main.cc's and rpc/'s), not gRPC's
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "signer/") || absl::StrContains(file, "rpc/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);

  onchainkms::signer::v1::SignerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    if (absl::Status s = rpc::LoadConfigFile(path, &config); !s.ok()) return Fail(2, s.ToString());
  }
  rpc::ListenOptions defaults;
  defaults.address = kDefaultListen;
  absl::StatusOr<rpc::ListenOptions> listen = rpc::ListenOptionsFromConfig(config.listen(), defaults);
  if (listen.ok()) listen = rpc::ApplyListenFlags(*std::move(listen));
  if (!listen.ok()) return Fail(2, listen.status().ToString());
  // The signer only accepts TCP callers it can identify by a client certificate.
  if (listen->tls.has_value() && listen->tls->client_ca_file.empty()) {
    return Fail(2,
                "TCP with TLS needs a client CA (--tls_client_ca_file / listen.tcp.tls.client_ca_file): "
                "the signer requires client certificates");
  }

  signer::SignerService service;
  absl::StatusOr<std::unique_ptr<rpc::Server>> server =
      rpc::Server::Start(*listen, {{onchainkms::signer::v1::Signer::service_full_name(), &service}});
  if (!server.ok()) {
    return Fail(server.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1,
                server.status().ToString());
  }
  (*server)->health().SetAll(rpc::HealthService::kServing);
  std::fprintf(stderr, "signer: serving on %s\n", (*server)->address().c_str());

  const int signal = signals.Wait();
  std::fprintf(stderr, "signer: signal %d, shutting down\n", signal);
  (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  std::fprintf(stderr, "signer: stopped\n");
  return 0;
}
