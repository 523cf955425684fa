// The Phala Cloud API simulator: routes, auth, validation, state transitions and on-chain checks
// for the endpoints of ../shared/facts/phala-cloud-api.md §12, plus the test-only /_sim admin
// endpoints. Transport-neutral: HttpServer (server.h) feeds it requests.
//
// On purpose, as a test tool, it keeps every app's X25519 private key and decrypts what clients
// encrypt to it; the decrypted env values are stored only in its test-inspection table
// (GET /_sim/cvms/{id}), never returned by the Phala Cloud API routes.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_SIMULATOR_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_SIMULATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "test/cloudsim/boot.h"
#include "test/cloudsim/eth_rpc.h"
#include "test/cloudsim/faults.h"
#include "test/cloudsim/http_types.h"
#include "test/cloudsim/sim_crypto.h"
#include "test/cloudsim/store.h"

namespace cloudsim {

struct SimConfig {
  std::string base_path = "/api/v1";
  std::vector<std::string> api_keys = {"phak_cloudsim_test_key"};

  // The chain the on-chain KMS entries point at (the local anvil).
  std::string rpc_url = "http://127.0.0.1:8545";
  int64_t chain_id = 31337;
  std::string kms_contract;    // DstackKms factory; empty = no on-chain KMS entries
  std::string gateway_app_id;  // empty = null
  std::vector<std::string> onchain_kms_types = {"BASE", "ETHEREUM"};
  bool phala_kms = true;
  std::string kms_version = "v0.5.3";
  std::string kms_signing_key_hex;  // secp256k1; empty = generated once per KMS and persisted
  absl::Duration rpc_timeout = absl::Seconds(10);

  // The one simulated node.
  int64_t node_id = 1;
  std::string node_name = "sim-node-1";
  std::string region = "sim-local";
  std::string device_id;      // 64 hex; empty = sha256("cloudsim-device-1")
  std::string os_image_hash;  // 64 hex; empty = sha256("cloudsim-os-dstack-0.5.3")
  std::string fmspc = "B0C06F000000";
  std::string base_image = "dstack-0.5.3";
  std::string os_version = "0.5.3";
  std::string gateway_base_domain = "sim.phala.invalid";
  // Further nodes listed by GET /teepods/available and usable by provision: ids node_id+1, ...,
  // named "sim-node-<id>", device ids sha256("cloudsim-device-<id>").
  int64_t extra_nodes = 1;
  // How CVMs boot (boot.h); rules set through POST /_sim/boot persist in the database and win.
  BootRules boot;
  // PHALA KMS app ids are CREATE-style addresses of this account at a counter (a guess; see
  // README). Empty = keccak256("cloudsim-phala-kms")[12:].
  std::string phala_app_deployer;
};

class Simulator {
 public:
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(SimConfig config, std::unique_ptr<Store> store,
                                                           uint64_t fault_seed = 1);

  // Every request: the API under base_path, the admin API under /_sim.
  HttpResponse Handle(const HttpRequest& req);
  // The fault decision for a request (admin requests are never faulted).
  FaultDecision DecideFault(const HttpRequest& req);
  // Appends to the request log (admin requests are not logged; the API key never is).
  void Record(const HttpRequest& req, const HttpResponse* res, const std::string& fault, int64_t duration_ms);

  FaultInjector& faults() { return faults_; }
  Store& store() { return *store_; }
  const SimConfig& config() const { return config_; }
  // KmsInfo objects as listed by GET /kms (tests, ready line).
  boost::json::array KmsSummary();

  struct Route;
  struct Ctx;

 private:
  Simulator(SimConfig config, std::unique_ptr<Store> store, uint64_t fault_seed)
      : config_(std::move(config)), store_(std::move(store)), faults_(fault_seed) {}
  absl::Status Init();

  HttpResponse HandleApi(const HttpRequest& req, const std::string& api_path);
  HttpResponse HandleAdmin(const HttpRequest& req, const std::string& admin_path);

  // API routes.
  HttpResponse AuthMe(const Ctx& c);
  HttpResponse ListKms(const Ctx& c);
  HttpResponse GetKms(const Ctx& c);
  HttpResponse NextAppIds(const Ctx& c);
  HttpResponse GetPubkey(const Ctx& c);
  HttpResponse Provision(const Ctx& c);
  HttpResponse Commit(const Ctx& c);
  HttpResponse GetCvm(const Ctx& c);
  HttpResponse GetComposeFile(const Ctx& c);
  HttpResponse ProvisionComposeFile(const Ctx& c);
  HttpResponse CommitComposeFile(const Ctx& c);
  HttpResponse UpdateEnvs(const Ctx& c);
  HttpResponse UpdateDockerCompose(const Ctx& c);
  HttpResponse UpdatePreLaunchScript(const Ctx& c);
  HttpResponse GetDockerComposeYml(const Ctx& c);
  HttpResponse GetPreLaunchScript(const Ctx& c);
  HttpResponse PatchCvm(const Ctx& c);
  HttpResponse CommitUpdate(const Ctx& c);
  HttpResponse ListCvms(const Ctx& c);
  HttpResponse AvailableNodes(const Ctx& c);

  // Shared pieces.
  struct Kms {
    boost::json::object info;  // the 7 KmsInfo keys
    std::string type;          // PHALA | BASE | ETHEREUM
    std::string contract;      // 40 lower-case hex, "" for PHALA
    std::optional<KmsSigner> signer;
  };
  struct Node {
    int64_t id;
    std::string name;
    std::string device_id;  // 64 lower-case hex
  };
  const Node* FindNode(int64_t id) const;
  BootRules boot_rules();
  const Kms* FindKms(absl::string_view ref) const;  // id, slug or type name
  const Kms* KmsById(absl::string_view id) const;
  std::optional<Row> ResolveCvm(absl::string_view ref);
  std::pair<std::string, std::string> AppKey(const std::string& app_id);  // {priv, pub} hex
  std::string PhalaAppId(int64_t nonce) const;
  HttpResponse RawTextUpdate(const Ctx& c, const char* field, const char* kind);
  // The common update path: 465 / proof verification / apply.
  HttpResponse ApplyOrRequireProof(Row cvm, boost::json::object new_compose, std::optional<std::string> encrypted_env,
                                   std::optional<boost::json::array> env_keys, const char* kind,
                                   const std::string* claimed_hash, const std::string* tx_hash, bool envs_endpoint);
  std::optional<HttpResponse> VerifyProof(const boost::json::object& cvm, const std::string& compose_hash,
                                          const std::string& tx_hash);
  std::string Apply(Row& cvm, const boost::json::object& new_compose, const std::optional<std::string>& encrypted_env,
                    const char* source, const std::string& tx_hash);
  // Applies the change stored in `pending` (its proof checked) to the CVM as stored now, and marks
  // it done. Returns the correlation id.
  std::string ApplyPending(const Row& cvm, const Row& pending, const char* source, const std::string& tx_hash);
  void RecordEnv(int64_t cvm_id, const boost::json::object& cvm, const std::string& encrypted_env, const char* source);
  HttpResponse PreconditionRequired(const boost::json::object& cvm, const std::string& compose_hash,
                                    const boost::json::object* extra);
  boost::json::object CvmDetail(const Row& cvm, bool legacy);
  boost::json::object CommitBody(const Row& cvm);

  SimConfig config_;
  std::unique_ptr<Store> store_;
  FaultInjector faults_;
  std::optional<EthRpc> rpc_;
  std::vector<Kms> kms_;
  std::string phala_deployer_;  // 40 hex
  std::string device_id_, os_image_hash_;
  std::vector<Node> nodes_;  // nodes_[0] is the configured node
  absl::Mutex boot_mu_;
  BootRules boot_rules_ ABSL_GUARDED_BY(boot_mu_);
  // Serialises read-check-write sequences on CVMs and provisions (RPC calls run outside it).
  absl::Mutex state_mu_;
};

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_SIMULATOR_H_
