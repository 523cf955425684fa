// health_probe: asks a gRPC server's grpc.health.v1.Health/Check whether it is SERVING.
// For scripts, Kubernetes exec probes (which, unlike the built-in gRPC probe, work over a Unix
// socket shared by the sidecar pair) and the demo.
//
//   health_probe --address=unix:/run/onchain-kms/signer.sock [--service=NAME] [--wait=30s] [--alive]
//
// Exit codes, as the widely used grpc_health_probe: 0 SERVING, 1 bad arguments, 2 cannot
// connect, 3 the RPC failed, 4 not SERVING. With --alive (a Kubernetes liveness probe) any
// answer is 0: NOT_SERVING means a dependency is down, which readiness handles; a restart would not.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, address, "", "server address: unix:/path or host:port (required)");
ABSL_FLAG(std::string, service, "", "service name to check; empty = the whole server");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "deadline of one Check call");
ABSL_FLAG(absl::Duration, wait, absl::ZeroDuration(),
          "keep retrying (every 100ms) until SERVING or this much time has passed");
ABSL_FLAG(std::string, tls_ca_file, "", "TLS: PEM CA bundle for the server certificate (enables TLS)");
ABSL_FLAG(std::string, tls_cert_file, "", "TLS: client certificate (PEM), for mTLS");
ABSL_FLAG(std::string, tls_key_file, "", "TLS: client private key (PEM), for mTLS");
ABSL_FLAG(std::string, tls_server_name, "", "TLS: expected server name, if not the address's host");
ABSL_FLAG(bool, quiet, false, "print nothing on success");
ABSL_FLAG(bool, alive, false,
          "liveness: exit 0 when the server answers at all, NOT_SERVING included (readiness probes "
          "leave it out)");

namespace {

enum ExitCode { kServing = 0, kBadArgs = 1, kConnectFailed = 2, kRpcFailed = 3, kNotServing = 4 };

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Checks grpc.health.v1.Health of a gRPC server. Exit 0 when SERVING.");
  absl::ParseCommandLine(argc, argv);
  const std::string address = absl::GetFlag(FLAGS_address);
  if (address.empty()) {
    std::fprintf(stderr, "health_probe: --address is required\n");
    return kBadArgs;
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  // Retry connecting quickly while --wait-ing for a server that is still starting. Not
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: despite its name it is the shortest time one connection
  // attempt (TCP connect, TLS handshake, HTTP/2 settings) is given before gRPC cuts it; gRPC's
  // default (20 s) leaves a slow handshake on a loaded node to the call's --timeout.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  if (!absl::GetFlag(FLAGS_tls_ca_file).empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!ReadFile(absl::GetFlag(FLAGS_tls_ca_file), &ssl.pem_root_certs) ||
        (!absl::GetFlag(FLAGS_tls_cert_file).empty() &&
         !ReadFile(absl::GetFlag(FLAGS_tls_cert_file), &ssl.pem_cert_chain)) ||
        (!absl::GetFlag(FLAGS_tls_key_file).empty() &&
         !ReadFile(absl::GetFlag(FLAGS_tls_key_file), &ssl.pem_private_key))) {
      std::fprintf(stderr, "health_probe: cannot read a TLS file\n");
      return kBadArgs;
    }
    credentials = grpc::SslCredentials(ssl);
    if (!absl::GetFlag(FLAGS_tls_server_name).empty()) {
      args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_tls_server_name));
    }
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, credentials, args);
  auto stub = grpc::health::v1::Health::NewStub(channel);

  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_wait);
  int code = kRpcFailed;
  std::string message;
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
    // While --wait-ing, let the call wait for the connection (up to its deadline) instead of
    // failing fast: a sync client makes progress on a new connection only while a call is active.
    context.set_wait_for_ready(absl::GetFlag(FLAGS_wait) > absl::ZeroDuration());
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(absl::GetFlag(FLAGS_service));
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok()) {
      message = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
      code = response.status() == grpc::health::v1::HealthCheckResponse::SERVING || absl::GetFlag(FLAGS_alive)
                 ? kServing
                 : kNotServing;
    } else {
      message = "rpc failed with code " + std::to_string(status.error_code()) + ": " + status.error_message();
      code = (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
                 ? kConnectFailed
                 : kRpcFailed;
    }
    if (code == kServing || absl::Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (code == kServing) {
    if (!absl::GetFlag(FLAGS_quiet)) std::printf("status: %s\n", message.c_str());
  } else {
    const std::string what = code == kNotServing ? "status " + message : message;
    std::fprintf(stderr, "health_probe: %s: %s\n", address.c_str(), what.c_str());
  }
  return code;
}
