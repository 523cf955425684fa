#include "orchestrator/signer_client/signer_client.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "chain/hex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "platform/status.h"

namespace orchestrator {
namespace {

namespace sv1 = onchainkms::signer::v1;
using chain::onchain::SignedTx;

constexpr char kFromSignerPayload[] = "type.onchain-kms/orchestrator.FromSigner";
using chain::onchain::TxEnvelope;

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view role) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("signer.tls.", role, ": cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The signer accepts request ids of [A-Za-z0-9._:-] only; chain/onchain tags fee bumps and
// re-signs with "/bump<n>" and "/resign<n>", and the orchestrator's ids are "<op>/<step>".
std::string SignerRequestId(absl::string_view id) {
  std::string out(id.substr(0, 128));
  for (char& c : out) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-')) c = ':';
  }
  return out;
}

template <typename Request>
void FillEnvelope(const TxEnvelope& e, Request* r) {
  r->set_request_id(SignerRequestId(e.request_id));
  r->set_chain_id(e.chain_id);
  r->set_from_address(e.from.Checksummed());
  r->set_nonce(e.nonce);
  r->set_gas_limit(e.gas_limit);
  r->set_max_fee_per_gas_wei(e.max_fee_per_gas.ToDecimal());
  r->set_max_priority_fee_per_gas_wei(e.max_priority_fee_per_gas.ToDecimal());
  r->set_only_if_signed(e.only_if_signed);
}

absl::Status Bad(absl::string_view field, const absl::Status& s) {
  return absl::InternalError(absl::StrCat("signer answer: ", field, ": ", s.message()));
}

}  // namespace

absl::StatusOr<SignedTx> FromProto(const sv1::SignedTransaction& p) {
  SignedTx tx;
  absl::StatusOr<chain::Bytes> raw = chain::FromHex(p.raw_transaction());
  if (!raw.ok()) return Bad("raw_transaction", raw.status());
  tx.raw = *std::move(raw);
  absl::StatusOr<chain::Hash32> hash = chain::Hash32::FromHex(p.transaction_hash());
  if (!hash.ok()) return Bad("transaction_hash", hash.status());
  tx.hash = *hash;
  absl::StatusOr<chain::Address> from = chain::Address::Parse(p.from_address());
  if (!from.ok()) return Bad("from_address", from.status());
  tx.from = *from;
  tx.chain_id = p.chain_id();
  tx.nonce = p.nonce();
  absl::StatusOr<chain::Address> to = chain::Address::Parse(p.to());
  if (!to.ok()) return Bad("to", to.status());
  tx.to = *to;
  absl::StatusOr<chain::U256> value = chain::U256::FromDecimal(p.value_wei().empty() ? "0" : p.value_wei());
  if (!value.ok()) return Bad("value_wei", value.status());
  tx.value = *value;
  absl::StatusOr<chain::Bytes> data = chain::FromHex(p.data());
  if (!data.ok()) return Bad("data", data.status());
  tx.data = *std::move(data);
  tx.gas_limit = p.gas_limit();
  absl::StatusOr<chain::U256> max_fee = chain::U256::FromDecimal(p.max_fee_per_gas_wei());
  if (!max_fee.ok()) return Bad("max_fee_per_gas_wei", max_fee.status());
  tx.max_fee_per_gas = *max_fee;
  absl::StatusOr<chain::U256> prio = chain::U256::FromDecimal(p.max_priority_fee_per_gas_wei());
  if (!prio.ok()) return Bad("max_priority_fee_per_gas_wei", prio.status());
  tx.max_priority_fee_per_gas = *prio;
  switch (p.nonce_use()) {
    case sv1::NONCE_USE_FIRST:
      tx.nonce_use = chain::onchain::NonceUse::kFirst;
      break;
    case sv1::NONCE_USE_REPEAT:
      tx.nonce_use = chain::onchain::NonceUse::kRepeat;
      break;
    case sv1::NONCE_USE_FEE_BUMP:
      tx.nonce_use = chain::onchain::NonceUse::kFeeBump;
      break;
    default:
      tx.nonce_use = chain::onchain::NonceUse::kUnspecified;
  }
  if (!p.replaced_transaction_hash().empty()) {
    absl::StatusOr<chain::Hash32> r = chain::Hash32::FromHex(p.replaced_transaction_hash());
    if (!r.ok()) return Bad("replaced_transaction_hash", r.status());
    tx.replaced_transaction_hash = *r;
  }
  return tx;
}

absl::StatusOr<std::unique_ptr<SignerClient>> SignerClient::Create(const SignerClientOptions& options) {
  if (options.address.empty()) return absl::InvalidArgumentError("signer.address: required");
  if (options.timeout <= absl::ZeroDuration()) return absl::InvalidArgumentError("signer.timeout: must be positive");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  if (absl::StartsWith(options.address, "unix:")) {
    if (options.address.size() <= 5) return absl::InvalidArgumentError("signer.address: empty unix socket path");
    creds = grpc::InsecureChannelCredentials();
  } else {
    if (!options.tls.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("signer.address ", options.address, ": a TCP signer needs mTLS (signer.tls)"));
    }
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> ca = ReadFile(options.tls->ca_file, "ca_file");
    if (!ca.ok()) return ca.status();
    absl::StatusOr<std::string> cert = ReadFile(options.tls->cert_file, "cert_file");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls->key_file, "key_file");
    if (!key.ok()) return key.status();
    ssl.pem_root_certs = *ca;
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
    creds = grpc::SslCredentials(ssl);
    if (!options.tls->server_name.empty()) args.SetSslTargetNameOverride(options.tls->server_name);
  }
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  auto channel = grpc::CreateCustomChannel(options.address, creds, args);
  return std::unique_ptr<SignerClient>(new SignerClient(options, sv1::Signer::NewStub(channel)));
}

SignerClient::SignerClient(SignerClientOptions options, std::unique_ptr<sv1::Signer::Stub> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {}

void SignerClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  context->set_wait_for_ready(false);
}

absl::Status SignerClient::CallError(const grpc::Status& status, absl::string_view method) const {
  absl::Status s = platform::FromGrpcStatus(status);
  absl::Status out(s.code(), absl::StrCat("signer at ", options_.address, ": ", method, ": ", s.message()));
  out.SetPayload(kFromSignerPayload, absl::Cord(method));
  return out;
}

bool FromSigner(const absl::Status& status) { return status.GetPayload(kFromSignerPayload).has_value(); }

namespace {

void FillDeploy(const TxEnvelope& envelope, const chain::Address& kms, const chain::DeployAndRegisterAppParams& params,
                sv1::SignDeployAndRegisterAppRequest* req) {
  FillEnvelope(envelope, req);
  req->set_kms_contract_address(kms.Checksummed());
  req->set_initial_owner(params.initial_owner.Checksummed());
  req->set_disable_upgrades(params.disable_upgrades);
  req->set_allow_any_device(params.allow_any_device);
  req->set_initial_device_id(params.initial_device_id.Hex());
  req->set_initial_compose_hash(params.initial_compose_hash.Hex());
  if (params.require_tcb_up_to_date.has_value()) req->set_require_tcb_up_to_date(*params.require_tcb_up_to_date);
}

void FillAddComposeHash(const TxEnvelope& envelope, const chain::Address& app, const chain::Hash32& compose_hash,
                        sv1::SignAddComposeHashRequest* req) {
  FillEnvelope(envelope, req);
  req->set_app_contract_address(app.Checksummed());
  req->set_compose_hash(compose_hash.Hex());
}

void FillAppCall(const TxEnvelope& envelope, const chain::Address& app, const chain::AppCall& call,
                 sv1::SignAppCallRequest* req) {
  FillEnvelope(envelope, req);
  req->set_app_contract_address(app.Checksummed());
  struct Fill {
    sv1::SignAppCallRequest& r;
    void operator()(const chain::AddDevice& c) { r.set_add_device_id(c.device_id.Hex()); }
    void operator()(const chain::RemoveDevice& c) { r.set_remove_device_id(c.device_id.Hex()); }
    void operator()(const chain::SetAllowAnyDevice& c) { r.set_set_allow_any_device(c.allow_any); }
    void operator()(const chain::TransferOwnership& c) { r.set_transfer_ownership_to(c.new_owner.Checksummed()); }
    void operator()(const chain::AcceptOwnership&) { r.set_accept_ownership(true); }
    void operator()(const chain::DisableUpgrades&) { r.set_disable_upgrades(true); }
  };
  std::visit(Fill{*req}, call);
}

void FillItem(const chain::onchain::TxRequest& r, sv1::SignBatchItem* item) {
  const chain::onchain::TxIntent& i = r.intent;
  switch (i.kind) {
    case chain::onchain::TxIntent::Kind::kDeployAndRegisterApp:
      return FillDeploy(r.envelope, i.to, i.deploy, item->mutable_deploy_and_register_app());
    case chain::onchain::TxIntent::Kind::kAddComposeHash:
      return FillAddComposeHash(r.envelope, i.to, i.compose_hash, item->mutable_add_compose_hash());
    case chain::onchain::TxIntent::Kind::kAppCall:
      return FillAppCall(r.envelope, i.to, i.app_call, item->mutable_app_call());
  }
}

}  // namespace

absl::StatusOr<SignedTx> SignerClient::SignDeployAndRegisterApp(const TxEnvelope& envelope, const chain::Address& kms,
                                                                const chain::DeployAndRegisterAppParams& params) {
  sv1::SignDeployAndRegisterAppRequest req;
  FillDeploy(envelope, kms, params, &req);
  grpc::ClientContext context;
  Prepare(&context);
  sv1::SignedTransaction out;
  const grpc::Status st = stub_->SignDeployAndRegisterApp(&context, req, &out);
  if (!st.ok()) return CallError(st, "SignDeployAndRegisterApp");
  return FromProto(out);
}

absl::StatusOr<SignedTx> SignerClient::SignAddComposeHash(const TxEnvelope& envelope, const chain::Address& app,
                                                          const chain::Hash32& compose_hash) {
  sv1::SignAddComposeHashRequest req;
  FillAddComposeHash(envelope, app, compose_hash, &req);
  grpc::ClientContext context;
  Prepare(&context);
  sv1::SignedTransaction out;
  const grpc::Status st = stub_->SignAddComposeHash(&context, req, &out);
  if (!st.ok()) return CallError(st, "SignAddComposeHash");
  return FromProto(out);
}

absl::StatusOr<SignedTx> SignerClient::SignAppCall(const TxEnvelope& envelope, const chain::Address& app,
                                                   const chain::AppCall& call) {
  sv1::SignAppCallRequest req;
  FillAppCall(envelope, app, call, &req);
  grpc::ClientContext context;
  Prepare(&context);
  sv1::SignedTransaction out;
  const grpc::Status st = stub_->SignAppCall(&context, req, &out);
  if (!st.ok()) return CallError(st, "SignAppCall");
  return FromProto(out);
}

std::vector<absl::StatusOr<SignedTx>> SignerClient::SignBatch(const std::vector<chain::onchain::TxRequest>& requests) {
  sv1::SignBatchRequest req;
  req.set_stop_sender_at_refusal(true);
  for (const chain::onchain::TxRequest& r : requests) FillItem(r, req.add_items());
  grpc::ClientContext context;
  Prepare(&context);
  sv1::SignBatchResponse out;
  const grpc::Status st = stub_->SignBatch(&context, req, &out);
  if (!st.ok()) return std::vector<absl::StatusOr<SignedTx>>(requests.size(), CallError(st, "SignBatch"));
  if (out.results_size() != static_cast<int>(requests.size())) {
    return std::vector<absl::StatusOr<SignedTx>>(
        requests.size(), absl::InternalError(absl::StrCat("signer answer: ", out.results_size(), " results for ",
                                                          requests.size(), " items")));
  }
  std::vector<absl::StatusOr<SignedTx>> results;
  results.reserve(requests.size());
  bool refused = false;  // an earlier item was: an ABORTED one after it was not started
  for (const sv1::SignBatchResult& r : out.results()) {
    if (r.code() == 0) {
      results.push_back(FromProto(r.signed_transaction()));
      continue;
    }
    const grpc::Status item(static_cast<grpc::StatusCode>(r.code()), r.message());
    if (refused && r.code() == grpc::StatusCode::ABORTED) {
      // The signer's message says "not started: why"; NotStartedError says "not started" itself.
      results.push_back(chain::onchain::NotStartedError(
          absl::StrCat(absl::StripPrefix(r.message(), "not started: "), " (signer at ", options_.address, ")")));
    } else {
      results.push_back(CallError(item, "SignBatch"));
    }
    refused = true;
  }
  return results;
}

absl::StatusOr<std::vector<chain::Address>> SignerClient::ListKeys() {
  grpc::ClientContext context;
  Prepare(&context);
  sv1::ListKeysResponse out;
  const grpc::Status st = stub_->ListKeys(&context, sv1::ListKeysRequest(), &out);
  if (!st.ok()) return CallError(st, "ListKeys");
  std::vector<chain::Address> keys;
  for (const sv1::Key& k : out.keys()) {
    absl::StatusOr<chain::Address> a = chain::Address::Parse(k.address());
    if (!a.ok()) return Bad("keys.address", a.status());
    keys.push_back(*a);
  }
  return keys;
}

}  // namespace orchestrator
