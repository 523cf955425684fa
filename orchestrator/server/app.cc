#include "orchestrator/server/app.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chain/address.h"
#include "chain/hex.h"
#include "chain/u256.h"
#include "cloudapi/api_key.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/flows/flows.h"
#include "orchestrator/flows/owner_action.h"
#include "orchestrator/server/journal_backend.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kServiceName[] = "onchainkms.orchestrator.v1.Orchestrator";

absl::Duration Dur(const google::protobuf::Duration& d, absl::Duration dflt) {
  if (d.seconds() == 0 && d.nanos() == 0) return dflt;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<App>> App::Start(const v1::OrchestratorConfig& config,
                                                const platform::TransportOptions& listen) {
  std::unique_ptr<App> app(new App());
  // The listener's options are checked before anything is opened; it listens last.
  absl::StatusOr<std::unique_ptr<platform::Transport>> t = platform::Transport::Create(listen);
  if (!t.ok()) return t.status();
  app->transport_ = *std::move(t);
  app->deps_.metrics = &app->metrics_;
  RETURN_IF_ERROR(app->OpenJournal(config));
  RETURN_IF_ERROR(app->ConnectPhalaCloud(config));
  RETURN_IF_ERROR(app->ConnectSigner(config));
  std::map<uint64_t, v1::KmsType> chain_types;
  for (int i = 0; i < config.chains_size(); ++i) {
    absl::StatusOr<v1::KmsType> type = app->AddChain(config.chains(i), absl::StrCat("chains[", i, "]"));
    if (!type.ok()) return type.status();
    chain_types[config.chains(i).chain_id()] = *type;
  }
  RETURN_IF_ERROR(app->SetFlowOptions(config));
  RETURN_IF_ERROR(app->SetUpOwnership());
  RETURN_IF_ERROR(app->StartManager(config));
  RETURN_IF_ERROR(app->Serve(chain_types));
  RETURN_IF_ERROR(app->ServeMetrics(config));

  const absl::Duration interval = Dur(config.health_check_interval(), absl::Seconds(5));
  app->health_thread_ = std::thread([p = app.get(), interval] { p->HealthLoop(interval); });
  platform::log::Info("orchestrator started", {{"address", app->transport_->address()},
                                               {"journal", app->journal_description_},
                                               {"phala_cloud", app->cloud_->origin()},
                                               {"chains", absl::StrCat(app->deps_.chains.size())}});
  return app;
}

absl::Status App::OpenJournal(const v1::OrchestratorConfig& config) {
  ASSIGN_OR_RETURN(OpenedJournal opened, OpenConfiguredJournal(config));
  journal_ = std::move(opened.journal);
  journal_description_ = std::move(opened.description);
  nonces_ = std::move(opened.nonces);
  deps_.journal = journal_.get();
  if (opened.changes != nullptr) {
    follower_ = std::make_unique<engine::ChangeFollower>(std::move(opened.changes));
    follower_->Start();
  }
  return absl::OkStatus();
}

absl::Status App::ConnectPhalaCloud(const v1::OrchestratorConfig& config) {
  cloudapi::CloudClientOptions co;
  co.base_url = !config.phala_cloud().base_url().empty()        ? config.phala_cloud().base_url()
                : ::getenv("PHALA_CLOUD_API_PREFIX") != nullptr ? ::getenv("PHALA_CLOUD_API_PREFIX")
                                                                : cloudapi::kDefaultBaseUrl;
  absl::StatusOr<cloudapi::ApiKey> key = config.phala_cloud().api_key_file().empty()
                                             ? cloudapi::ApiKey::FromEnvironment()
                                             : cloudapi::ApiKey::FromFile(config.phala_cloud().api_key_file());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("phala_cloud.api_key_file: ", key.status().message()));
  }
  co.api_key = *std::move(key);
  co.transport.request_timeout = Dur(config.phala_cloud().request_timeout(), absl::Seconds(30));
  co.transport.extra_ca_file = config.phala_cloud().ca_file();
  co.observer = metrics_.CloudObserver();
  co.retry.total_timeout = std::max(absl::Minutes(1), 3 * co.transport.request_timeout);
  absl::StatusOr<std::unique_ptr<cloudapi::CloudClient>> cloud = cloudapi::CloudClient::Create(std::move(co));
  if (!cloud.ok()) return absl::InvalidArgumentError(absl::StrCat("phala_cloud: ", cloud.status().message()));
  cloud_ = *std::move(cloud);
  deps_.cloud = cloud_.get();
  return absl::OkStatus();
}

absl::Status App::ConnectSigner(const v1::OrchestratorConfig& config) {
  if (config.signer().address().empty()) {
    if (config.chains_size() > 0)
      return absl::InvalidArgumentError("signer.address: required when chains are configured");
    return absl::OkStatus();
  }
  SignerClientOptions so;
  so.address = config.signer().address();
  so.timeout = Dur(config.signer().timeout(), absl::Seconds(10));
  if (config.signer().has_tls()) {
    so.tls = SignerClientOptions::Tls{config.signer().tls().ca_file(), config.signer().tls().cert_file(),
                                      config.signer().tls().key_file(), config.signer().tls().server_name()};
  }
  absl::StatusOr<std::unique_ptr<SignerClient>> sc = SignerClient::Create(so);
  if (!sc.ok()) return sc.status();
  signer_client_ = *std::move(sc);
  signer_ = std::make_unique<engine::JournalingSigner>(*signer_client_, *journal_, nonces_.get());
  deps_.signer_keys = [c = signer_client_.get()] { return c->ListKeys(); };
  deps_.signer = signer_.get();
  return absl::OkStatus();
}

absl::StatusOr<v1::KmsType> App::AddChain(const v1::ChainConfig& c, const std::string& f) {
  if (c.chain_id() == 0) return absl::InvalidArgumentError(absl::StrCat(f, ".chain_id: required"));
  if (deps_.chains.count(c.chain_id()) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(f, ".chain_id: chain ", c.chain_id(), " listed twice"));
  }
  if (c.rpc_endpoints_size() == 0) return absl::InvalidArgumentError(absl::StrCat(f, ".rpc_endpoints: at least one"));
  absl::StatusOr<chain::U256> max_fee = chain::U256::FromDecimal(c.max_fee_per_gas_wei());
  if (!max_fee.ok()) return absl::InvalidArgumentError(absl::StrCat(f, ".max_fee_per_gas_wei: required decimal wei"));
  absl::StatusOr<chain::U256> max_prio = chain::U256::FromDecimal(c.max_priority_fee_per_gas_wei());
  if (!max_prio.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(f, ".max_priority_fee_per_gas_wei: required decimal wei"));
  }
  chain::jsonrpc::ClientOptions ro;
  ro.endpoints.assign(c.rpc_endpoints().begin(), c.rpc_endpoints().end());
  ro.expected_chain_id = c.chain_id();
  ro.endpoint_cooldown = absl::Seconds(2);
  ro.on_retry = metrics_.RpcRetryObserver(c.chain_id());
  ro.transport.request_timeout = Dur(c.rpc_timeout(), absl::Seconds(30));
  ro.transport.connect_timeout = std::min(ro.transport.connect_timeout, ro.transport.request_timeout);
  absl::StatusOr<std::unique_ptr<chain::jsonrpc::Client>> rpc = chain::jsonrpc::Client::Create(ro);
  if (!rpc.ok()) return absl::InvalidArgumentError(absl::StrCat(f, ".rpc_endpoints: ", rpc.status().message()));
  chain::onchain::OperationOptions oo;
  oo.gas_margin_percent = c.gas_limit_margin_percent() == 0 ? 20 : std::max(100u, c.gas_limit_margin_percent()) - 100;
  oo.wait.confirmations = std::max(1u, c.confirmations());
  oo.wait.poll_interval = Dur(c.receipt_poll_interval(), absl::Seconds(2));
  oo.wait.timeout = Dur(c.receipt_timeout(), absl::Minutes(10));
  oo.nonces.stuck_after = Dur(c.fee_bump_after(), absl::Seconds(60));
  oo.nonces.fees.max_fee_per_gas_cap = *max_fee;
  oo.nonces.fees.max_priority_fee_per_gas = *max_prio;
  oo.nonces.observer = metrics_.TxObserver(c.chain_id());
  metrics_.ChainConfigured(c.chain_id());
  auto ops = std::make_unique<chain::onchain::OnchainOperations>(**rpc, *signer_, oo, nonces_.get());
  v1::KmsType type = c.kms_type();
  if (type == v1::KMS_TYPE_UNSPECIFIED) {
    type = c.chain_id() == 1 ? v1::KMS_TYPE_ETHEREUM : c.chain_id() == 8453 ? v1::KMS_TYPE_BASE : type;
  }
  if (type != v1::KMS_TYPE_ETHEREUM && type != v1::KMS_TYPE_BASE) {
    return absl::InvalidArgumentError(absl::StrCat(f, ".kms_type: ETHEREUM or BASE required for chain ", c.chain_id()));
  }
  engine::ChainBackend b;
  b.chain_id = c.chain_id();
  b.kms_type = type;
  b.rpc = rpc->get();
  b.ops = ops.get();
  b.receipt_timeout = oo.wait.timeout;
  deps_.chains[c.chain_id()] = b;
  rpcs_.push_back(*std::move(rpc));
  ops_.push_back(std::move(ops));
  return type;
}

absl::Status App::SetFlowOptions(const v1::OrchestratorConfig& config) {
  if (!config.default_signer_key_address().empty()) {
    absl::StatusOr<chain::Address> a = chain::Address::Parse(config.default_signer_key_address());
    if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat("default_signer_key_address: ", a.status().message()));
    deps_.options.default_signer_key_address = *a;
  }
  deps_.options.compose_hash_warn_only = config.compose_hash_check_warn_only();
  for (int i = 0; i < config.trusted_kms_signers_size(); ++i) {
    const v1::TrustedKmsSigner& t = config.trusted_kms_signers(i);
    absl::StatusOr<chain::Bytes> k = chain::FromHex(t.public_key());
    if (t.kms_id().empty() || !k.ok() || k->size() != 33 || ((*k)[0] != 2 && (*k)[0] != 3)) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted_kms_signers[", i, "]: kms_id and a 33-byte compressed public key are required"));
    }
    std::array<uint8_t, 33> arr;
    std::copy(k->begin(), k->end(), arr.begin());
    deps_.options.trusted_kms_signers[t.kms_id()] = arr;
  }
  return SetAccess(config);
}

absl::Status App::SetAccess(const v1::OrchestratorConfig& config) {
  ASSIGN_OR_RETURN(access::AccessPolicy policy,
                   access::AccessPolicy::Compile(config, deps_.options.default_signer_key_address));
  policy_ = std::make_unique<access::AccessPolicy>(std::move(policy));
  if (!policy_->configured()) platform::log::Warn(policy_->CompatibilityWarning());
  if (signer_ != nullptr) {
    signer_->SetKeyCheck([p = policy_.get()](absl::string_view caller, const chain::Address& key, uint64_t chain_id) {
      return p->CheckSignerKey(p->ResolveKey(caller), key, chain_id);
    });
    // An app call whose sender (the app's owner) fails this waits for the owner instead.
    deps_.signer_may_send = [p = policy_.get(), c = signer_client_.get()](absl::string_view caller,
                                                                          const chain::Address& key,
                                                                          uint64_t chain_id) -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(const std::vector<chain::Address> keys, c->ListKeys());
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) return false;
      return p->CheckSignerKey(p->ResolveKey(caller), key, chain_id).ok();
    };
  }
  deps_.owner_txs = &owner_txs_;
  return absl::OkStatus();
}

absl::Status App::StartManager(const v1::OrchestratorConfig& config) {
  engine::ManagerOptions mo;
  mo.workers = config.max_concurrent_operations() == 0 ? 64 : static_cast<int>(config.max_concurrent_operations());
  mo.run.retry_timeout = Dur(config.transient_retry_timeout(), absl::Minutes(10));
  if (!config.env_digest_key_file().empty()) {
    absl::StatusOr<std::string> k = ReadSecretFile(config.env_digest_key_file(), "env_digest_key_file");
    if (!k.ok()) return k.status();
    if (k->size() < 32) return absl::InvalidArgumentError("env_digest_key_file: at least 32 bytes");
    mo.env_digest_key = *std::move(k);
  }
  if (config.journal().has_postgres()) {
    absl::StatusOr<ReplicaSettings> replica = ConfiguredReplica(config.journal().postgres());
    if (!replica.ok()) return replica.status();
    mo.owner_id = replica->replica_id;
    mo.lease = replica->lease;
    platform::log::Info("replica", {{"replica_id", mo.owner_id}});
  }
  mo.remote_watch = follower_.get();
  manager_ = std::make_unique<engine::OperationManager>(*journal_, deps_, flows::AllFlows(), mo);
  return manager_->Start();
}

absl::Status App::Serve(const std::map<uint64_t, v1::KmsType>& chain_types) {
  kms_ = std::make_unique<service::KmsDirectory>(*cloud_, absl::Minutes(1));
  service::ServiceOptions so;
  so.chains = chain_types;
  so.default_signer_key = deps_.options.default_signer_key_address;
  so.policy = policy_.get();
  so.ownership = ownership_.get();
  so.flow_deps = &deps_;
  so.submit_owner_transaction = [this](const v1::SubmitOwnerTransactionRequest& request) {
    return flows::SubmitOwnerTransaction(deps_, *manager_, request);
  };
  service_ = std::make_unique<service::OrchestratorServiceImpl>(*manager_, *kms_, *transport_, so);
  return transport_->Serve({{kServiceName, service_.get()}});
}

absl::Status App::ServeMetrics(const v1::OrchestratorConfig& config) {
  if (config.metrics_port() == 0) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<platform::http::MetricsServer>> server = platform::http::MetricsServer::Start(
      {.bind_address = config.metrics_bind_address(), .port = static_cast<int>(config.metrics_port())},
      [m = &metrics_] { return m->Render(); });
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("metrics_bind_address, metrics_port: ", server.status().message()));
  }
  metrics_server_ = *std::move(server);
  platform::log::Info("metrics endpoint listening", {{"port", static_cast<int64_t>(metrics_server_->port())}});
  return absl::OkStatus();
}

absl::Status App::CheckDependencies() {
  RETURN_IF_ERROR(journal_->Ping());
  // A journal that answers reads but refuses writes (e.g. a full disk) has paused operations.
  RETURN_IF_ERROR(manager_->JournalHealth());
  // Several replicas: a replica whose lease is not current starts no step.
  RETURN_IF_ERROR(manager_->LeaseHealth());
  if (!deps_.chains.empty()) {
    absl::StatusOr<std::vector<chain::Address>> keys = signer_client_->ListKeys();
    if (!keys.ok()) return keys.status();
  }
  for (const auto& [id, b] : deps_.chains) {
    chain::jsonrpc::CallOptions o;
    o.deadline = absl::Now() + absl::Seconds(5);
    absl::StatusOr<uint64_t> got = b.rpc->ChainId(o);
    if (!got.ok()) return absl::Status(got.status().code(), absl::StrCat("chain ", id, ": ", got.status().message()));
    if (*got != id) return absl::FailedPreconditionError(absl::StrCat("chain ", id, ": the RPC serves chain ", *got));
  }
  return absl::OkStatus();
}

void App::HealthLoop(absl::Duration interval) {
  bool serving = false;
  bool first = true;
  do {
    const absl::Status s = CheckDependencies();
    const bool now = s.ok();
    if (now != serving || first) {
      transport_->health().SetServingStatus(
          "", now ? platform::HealthService::kServing : platform::HealthService::kNotServing);
      transport_->health().SetServingStatus(
          kServiceName, now ? platform::HealthService::kServing : platform::HealthService::kNotServing);
      if (now) {
        platform::log::Info("health: serving (journal, signer and chain RPCs reachable)");
      } else {
        platform::log::Warn("health: not serving", {{"reason", std::string(s.message())}});
      }
      serving = now;
      first = false;
    }
  } while (!stop_health_.WaitForNotificationWithTimeout(serving ? interval : std::min(interval, absl::Seconds(1))));
}

bool App::Shutdown(absl::Duration grace) {
  if (shut_down_) return true;
  shut_down_ = true;
  if (!stop_health_.HasBeenNotified()) stop_health_.Notify();
  if (health_thread_.joinable()) health_thread_.join();
  if (transport_ != nullptr) transport_->health().SetAll(platform::HealthService::kNotServing);
  const bool done = manager_ == nullptr || manager_->Shutdown(grace);
  if (follower_ != nullptr) follower_->Stop();  // its streams end UNAVAILABLE too
  // Clients reconnecting their watches would keep calling on open connections until the
  // shutdown deadline cancels what is in flight (CANCELLED); the API promises UNAVAILABLE.
  if (transport_ != nullptr) transport_->EndUnixConnections();
  if (transport_ != nullptr) transport_->Shutdown(absl::Seconds(1));
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  platform::log::Info("orchestrator stopped", {{"clean", done}});
  return done;
}

App::~App() { Shutdown(absl::Seconds(5)); }

}  // namespace orchestrator::server
