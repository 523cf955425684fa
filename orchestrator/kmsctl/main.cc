// kmsctl: the command-line client of the onchain-kms orchestrator. See README.md and
// `kmsctl --help`.
//
//   kmsctl --orchestrator=unix:/run/onchain-kms/orchestrator.sock deploy --name=my-app \
//       --compose=docker-compose.yml --kms=base --env-file=.env
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "orchestrator/kmsctl/cli.h"
#include "orchestrator/kmsctl/exit_codes.h"
#include "orchestrator/kmsctl/runner.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::variant<kmsctl::Invocation, kmsctl::CliError> parsed = kmsctl::ParseCommandLine(args, kmsctl::SystemIo());
  if (const auto* error = std::get_if<kmsctl::CliError>(&parsed)) {
    std::fprintf(stderr, "kmsctl: %s\n", error->message.c_str());
    return error->exit_code;
  }
  const kmsctl::Invocation& invocation = std::get<kmsctl::Invocation>(parsed);
  if (invocation.command == nullptr) {  // help
    std::fputs(invocation.help_text.c_str(), stdout);
    return kmsctl::kExitOk;
  }

  // Ctrl-C (or SIGTERM) cancels the call in flight, so that kmsctl can say what goes on in the
  // orchestrator; a second one exits at once. Blocked before gRPC starts its threads.
  static sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  static kmsctl::Interrupter* const interrupter = new kmsctl::Interrupter();
  std::thread([] {
    int signal = 0;
    sigwait(&signals, &signal);
    interrupter->Interrupt();
    sigwait(&signals, &signal);
    _exit(kmsctl::kExitInterrupted);
  }).detach();

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      kmsctl::MakeChannel(invocation.connection, kmsctl::SystemIo());
  if (!channel.ok()) {
    std::fprintf(stderr, "kmsctl: %s\n", std::string(channel.status().message()).c_str());
    return kmsctl::kExitInvalidArgument;
  }
  std::unique_ptr<kmsctl::v1::Orchestrator::Stub> stub = kmsctl::v1::Orchestrator::NewStub(*channel);
  return kmsctl::Run(invocation, *stub, stdout, stderr, *interrupter);
}
