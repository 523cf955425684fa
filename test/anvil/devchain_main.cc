// devchain: a local chain for the demo and manual testing. Starts anvil with the test
// DstackApp/DstackKms deployed, prints one JSON line
//   {"rpc_url":..., "chain_id":..., "kms_address":..., "app_implementation":...,
//    "deployer_address":..., "deployer_private_key":..., "anvil_pid":...}
// on stdout, then runs until SIGTERM or SIGINT and stops anvil. Exits 1 if anvil dies first.
//
//   bazel run //test/anvil:devchain -- --chain_id=8453 --fund=0xabc...,0xdef...
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "test/anvil/harness.h"

ABSL_FLAG(uint64_t, chain_id, 31337, "chain id: 31337 (anvil), 1 (Ethereum), 8453 (Base), ...");
ABSL_FLAG(double, block_time, 0, "seconds between blocks (interval mining); 0 mines every transaction at once");
ABSL_FLAG(bool, automine, true, "with --block_time=0: false mines only on request (anvil_mine)");
ABSL_FLAG(std::vector<std::string>, fund, {}, "comma-separated addresses to fund with --fund_ether each");
ABSL_FLAG(uint64_t, fund_ether, 1000, "ether given to each --fund address");
ABSL_FLAG(std::string, anvil, "", "anvil binary (default: $ANVIL_BINARY or the pinned npm one)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals before anything else so sigtimedwait receives them (the harness
  // unblocks them again in the anvil child).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  anvil::Options options;
  options.chain_id = absl::GetFlag(FLAGS_chain_id);
  options.block_time = absl::Seconds(absl::GetFlag(FLAGS_block_time));
  options.automine = absl::GetFlag(FLAGS_automine);
  options.anvil_binary = absl::GetFlag(FLAGS_anvil);
  absl::StatusOr<std::unique_ptr<anvil::Anvil>> chain = anvil::Anvil::Start(options);
  if (!chain.ok()) {
    std::cerr << "devchain: " << chain.status() << "\n";
    return 1;
  }
  anvil::Anvil& a = **chain;
  for (const std::string& address : absl::GetFlag(FLAGS_fund)) {
    if (absl::Status s = a.FundEther(address, absl::GetFlag(FLAGS_fund_ether)); !s.ok()) {
      std::cerr << "devchain: funding " << address << ": " << s << "\n";
      return 1;
    }
  }

  const anvil::DevChain& c = a.chain();
  boost::json::object line{
      {"rpc_url", c.rpc_url},
      {"chain_id", c.chain_id},
      {"kms_address", c.kms_address},
      {"app_implementation", c.app_implementation},
      {"deployer_address", c.deployer_address},
      {"deployer_private_key", c.deployer_private_key},
      {"anvil_pid", a.pid()},
  };
  std::cout << boost::json::serialize(line) << std::endl;  // endl: the reader waits for this line

  const timespec tick{1, 0};
  while (true) {
    int sig = sigtimedwait(&stop, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (!a.Running()) {
      std::cerr << "devchain: anvil exited unexpectedly\n";
      return 1;
    }
  }
  return 0;  // ~Anvil stops anvil
}
