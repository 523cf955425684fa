#include "chain/onchain/testing/anvil_env.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/onchain/receipts.h"

namespace chain::onchain::testing {

OperationOptions FastOptions() {
  OperationOptions o;
  o.wait.first_poll = absl::Milliseconds(2);
  o.wait.poll_interval = absl::Milliseconds(50);
  o.wait.timeout = absl::Seconds(30);
  o.nonces.stuck_after = absl::Seconds(1);
  o.nonces.maintain_interval = absl::Milliseconds(100);
  return o;
}

jsonrpc::ClientOptions FastClientOptions(std::vector<std::string> endpoints) {
  jsonrpc::ClientOptions c;
  c.endpoints = std::move(endpoints);
  c.transport.connect_timeout = absl::Milliseconds(500);
  c.transport.request_timeout = absl::Seconds(2);
  c.retry.max_attempts = 3;
  c.retry.initial_backoff = absl::Milliseconds(20);
  c.retry.max_backoff = absl::Milliseconds(200);
  c.endpoint_cooldown = absl::Seconds(2);
  return c;
}

absl::StatusOr<std::unique_ptr<AnvilEnv>> AnvilEnv::Start(const anvil::Options& anvil_options,
                                                          const OperationOptions& options) {
  auto env = std::make_unique<AnvilEnv>();
  absl::StatusOr<std::unique_ptr<anvil::Anvil>> a = anvil::Anvil::Start(anvil_options);
  if (!a.ok()) return a.status();
  env->anvil = *std::move(a);
  absl::StatusOr<std::unique_ptr<jsonrpc::Client>> rpc =
      jsonrpc::Client::Create(FastClientOptions({env->anvil->chain().rpc_url}));
  if (!rpc.ok()) return rpc.status();
  env->rpc = *std::move(rpc);
  absl::StatusOr<std::unique_ptr<LocalKeySigner>> signer = LocalKeySigner::FromHex(anvil::kDeployerPrivateKey);
  if (!signer.ok()) return signer.status();
  env->signer = *std::move(signer);
  env->chain_id = env->anvil->chain().chain_id;
  env->sender = env->signer->address();
  if (!env->anvil->chain().kms_address.empty()) {
    absl::StatusOr<Address> kms = Address::Parse(env->anvil->chain().kms_address);
    if (!kms.ok()) return kms.status();
    env->kms = *kms;
  }
  env->Restart(options);
  return env;
}

void AnvilEnv::Restart(const OperationOptions& options) {
  ops.reset();
  ops = std::make_unique<OnchainOperations>(*rpc, *signer, options);
}

DeployAppAuthRequest AnvilEnv::DeployRequest(const Hash32& compose_hash, const Hash32& device) const {
  DeployAppAuthRequest r;
  r.chain_id = chain_id;
  r.kms = kms;
  r.sender = sender;
  r.params.initial_compose_hash = compose_hash;
  r.params.initial_device_id = device;
  r.request_id = "test";
  return r;
}

absl::Status AnvilEnv::KmsOwnerCall(const std::string& data_hex) {
  return anvil->Transact({.to = kms.Hex(), .data = data_hex}).status();
}

absl::StatusOr<bool> AnvilEnv::CallBool(const Address& to, const Bytes& data) const {
  absl::StatusOr<Bytes> r = rpc->EthCall({.to = to, .data = data});
  if (!r.ok()) return r.status();
  return DecodeBoolWord(*r);
}

absl::StatusOr<Address> AnvilEnv::CallAddress(const Address& to, const Bytes& data) const {
  absl::StatusOr<Bytes> r = rpc->EthCall({.to = to, .data = data});
  if (!r.ok()) return r.status();
  return DecodeAddressWord(*r);
}

Hash32 TestHash(uint64_t i, uint8_t tag) {
  std::array<uint8_t, 32> b{};
  b[0] = tag;
  for (int k = 0; k < 8; ++k) b[31 - k] = static_cast<uint8_t>(i >> (8 * k));
  b[15] = 0x5a;
  return Hash32(b);
}

Miner::Miner(anvil::Anvil& a, absl::Duration interval)
    : thread_([this, &a, interval] {
        while (!stop_.load()) {
          (void)a.Mine();
          absl::SleepFor(interval);
        }
      }) {}

Miner::~Miner() {
  stop_.store(true);
  thread_.join();
}

}  // namespace chain::onchain::testing
