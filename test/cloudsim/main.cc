// cloudsim: the Phala Cloud simulator as a standalone process.
//
//   cloudsim --db=/tmp/sim.sqlite --rpc_url=http://127.0.0.1:8545 --kms_contract=0x... [--port=0]
//
// Prints one JSON line on stdout when ready ({"base_url": ".../api/v1", ...}), serves until
// SIGTERM/SIGINT, then stops gracefully. See README.md for every flag.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cloudapi/js_json.h"
#include "test/cloudsim/server.h"
#include "test/cloudsim/simulator.h"
#include "test/cloudsim/store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1", "address to listen on (admin endpoints answer loopback peers only)");
ABSL_FLAG(int, port, 0, "TCP port; 0 picks a free one (see the ready line)");
ABSL_FLAG(int, threads, 4, "I/O threads");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; serve HTTPS when set with --tls_key");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, db, "cloudsim.sqlite", "SQLite state file (WAL); reuse it to keep state across restarts");
ABSL_FLAG(std::string, api_keys, "phak_cloudsim_test_key", "comma-separated accepted X-API-Key values");
ABSL_FLAG(std::string, base_path, "/api/v1", "API base path");
ABSL_FLAG(std::string, rpc_url, "http://127.0.0.1:8545", "JSON-RPC endpoint of the chain (anvil)");
ABSL_FLAG(int64_t, chain_id, 31337, "chain id reported in the on-chain KMS entries");
ABSL_FLAG(std::string, kms_contract, "", "DstackKms factory address; empty = no on-chain KMS entries");
ABSL_FLAG(std::string, gateway_app_id, "", "gateway_app_id of the on-chain KMS entries (empty = null)");
ABSL_FLAG(std::string, onchain_kms, "BASE,ETHEREUM", "on-chain KMS entry types to list");
ABSL_FLAG(bool, phala_kms, true, "list the PHALA (centralized) KMS entry");
ABSL_FLAG(std::string, kms_version, "v0.5.3", "KMS version string");
ABSL_FLAG(std::string, kms_signing_key, "",
          "secp256k1 key (hex) signing env-encryption public keys; empty = one random key per KMS, "
          "persisted in the db");
ABSL_FLAG(int64_t, rpc_timeout_ms, 10000, "deadline of one JSON-RPC call");
ABSL_FLAG(int64_t, node_id, 1, "the simulated node's (teepod) id");
ABSL_FLAG(std::string, device_id, "", "the node's device id (64 hex); empty = a fixed derived value");
ABSL_FLAG(std::string, os_image_hash, "", "OS image hash (64 hex); empty = a fixed derived value");
ABSL_FLAG(std::string, gateway_domain, "sim.phala.invalid", "gateway base domain in CVM info");
ABSL_FLAG(std::string, phala_app_deployer, "", "account whose CREATE addresses are PHALA app ids; empty = derived");
ABSL_FLAG(std::string, faults_json, "", "fault rules at start: a JSON rule or array (same shape as POST /_sim/faults)");
ABSL_FLAG(uint64_t, fault_seed, 1, "seed of the fault rate generator");
ABSL_FLAG(bool, quiet, false, "no access log on stderr");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Phala Cloud simulator (see test/cloudsim/README.md)");
  absl::ParseCommandLine(argc, argv);

  // Handle SIGTERM/SIGINT synchronously in this thread; the server threads inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  cloudsim::SimConfig config;
  config.base_path = absl::GetFlag(FLAGS_base_path);
  config.api_keys = absl::StrSplit(absl::GetFlag(FLAGS_api_keys), ',', absl::SkipEmpty());
  config.rpc_url = absl::GetFlag(FLAGS_rpc_url);
  config.chain_id = absl::GetFlag(FLAGS_chain_id);
  config.kms_contract = absl::GetFlag(FLAGS_kms_contract);
  config.gateway_app_id = absl::GetFlag(FLAGS_gateway_app_id);
  config.onchain_kms_types = absl::StrSplit(absl::GetFlag(FLAGS_onchain_kms), ',', absl::SkipEmpty());
  config.phala_kms = absl::GetFlag(FLAGS_phala_kms);
  config.kms_version = absl::GetFlag(FLAGS_kms_version);
  config.kms_signing_key_hex = absl::GetFlag(FLAGS_kms_signing_key);
  config.rpc_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_rpc_timeout_ms));
  config.node_id = absl::GetFlag(FLAGS_node_id);
  config.device_id = absl::GetFlag(FLAGS_device_id);
  config.os_image_hash = absl::GetFlag(FLAGS_os_image_hash);
  config.gateway_base_domain = absl::GetFlag(FLAGS_gateway_domain);
  config.phala_app_deployer = absl::GetFlag(FLAGS_phala_app_deployer);

  std::string db = absl::GetFlag(FLAGS_db);
  absl::StatusOr<std::unique_ptr<cloudsim::Store>> store = cloudsim::Store::Open(db);
  if (!store.ok()) {
    std::cerr << "cloudsim: " << store.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<cloudsim::Simulator>> sim =
      cloudsim::Simulator::Create(config, *std::move(store), absl::GetFlag(FLAGS_fault_seed));
  if (!sim.ok()) {
    std::cerr << "cloudsim: " << sim.status().message() << "\n";
    return 2;
  }
  if (std::string faults = absl::GetFlag(FLAGS_faults_json); !faults.empty()) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(faults, ec);
    absl::Status s = ec ? absl::InvalidArgumentError("--faults_json is not JSON") : (*sim)->faults().AddAll(v);
    if (!s.ok()) {
      std::cerr << "cloudsim: " << s.message() << "\n";
      return 2;
    }
  }

  cloudsim::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.port = static_cast<uint16_t>(absl::GetFlag(FLAGS_port));
  options.threads = absl::GetFlag(FLAGS_threads);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  cloudsim::Simulator* s = sim->get();
  bool quiet = absl::GetFlag(FLAGS_quiet);
  absl::StatusOr<std::unique_ptr<cloudsim::HttpServer>> server = cloudsim::HttpServer::Start(
      options, [s](const cloudsim::HttpRequest& r) { return s->Handle(r); },
      [s](const cloudsim::HttpRequest& r) { return s->DecideFault(r); },
      [s, quiet](const cloudsim::HttpRequest& r, const cloudsim::HttpResponse* res, const std::string& fault,
                 int64_t ms) {
        s->Record(r, res, fault, ms);
        if (!quiet) {
          std::cerr << absl::StrCat("cloudsim: ", r.method, " ", r.path, " -> ",
                                    res ? std::to_string(res->status) : std::string("dropped"), " ", ms, "ms",
                                    fault.empty() ? "" : absl::StrCat(" [fault ", fault, "]"), "\n");
        }
      });
  if (!server.ok()) {
    std::cerr << "cloudsim: " << server.status().message() << "\n";
    return 2;
  }
  std::string host =
      options.listen_address == "0.0.0.0" || options.listen_address == "::" ? "127.0.0.1" : options.listen_address;
  std::string origin = absl::StrCat((*server)->tls() ? "https" : "http", "://", host, ":", (*server)->port());
  boost::json::object ready;
  ready["base_url"] = origin + config.base_path;
  ready["admin_url"] = origin + "/_sim";
  ready["port"] = (*server)->port();
  ready["tls"] = (*server)->tls();
  ready["db"] = db;
  ready["pid"] = static_cast<int64_t>(getpid());
  ready["kms"] = s->KmsSummary();
  std::cout << cloudapi::StringifyLikeJs(ready).value_or(boost::json::serialize(ready)) << std::endl;

  int sig = 0;
  sigwait(&sigs, &sig);
  std::cerr << "cloudsim: signal " << sig << ", stopping\n";
  (*server)->Stop(absl::Seconds(5));
  return 0;
}
