// What the signer's tests and benchmark sign with and for: anvil's well-known test key #0 (a
// public test key, never a real one), and the addresses anvil gives the test DstackKms factory
// and the first DstackApp.
#ifndef ONCHAIN_KMS_SIGNER_TESTING_ANVIL_FIXTURES_H_
#define ONCHAIN_KMS_SIGNER_TESTING_ANVIL_FIXTURES_H_

#include <cstdint>
#include <string>

#include "onchainkms/signer/v1/signer.pb.h"

namespace signer::fixtures {

inline constexpr char kSecret[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
inline constexpr char kFrom[] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
// Anvil's test key #1 and its address: a second sender.
inline constexpr char kSecret1[] = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
inline constexpr char kFrom1[] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
inline constexpr char kFactory[] = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
inline constexpr char kApp[] = "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be";

// A call of kApp from kFrom on anvil's chain 31337 at `nonce`, at modest fees (the envelope both
// app-contract requests share).
template <typename AppRequest>
AppRequest AppEnvelope(uint64_t nonce) {
  AppRequest r;
  r.set_chain_id(31337);
  r.set_app_contract_address(kApp);
  r.set_from_address(kFrom);
  r.set_nonce(nonce);
  r.set_gas_limit(60000);
  r.set_max_fee_per_gas_wei("2000000000");
  r.set_max_priority_fee_per_gas_wei("1000000");
  return r;
}

// Allow compose hash 0xaa…aa on kApp.
inline onchainkms::signer::v1::SignAddComposeHashRequest AddComposeHashRequest(uint64_t nonce = 0) {
  auto r = AppEnvelope<onchainkms::signer::v1::SignAddComposeHashRequest>(nonce);
  r.set_compose_hash(std::string(64, 'a'));
  return r;
}

// SignAppCall with the same envelope; set one of its `call` fields.
inline onchainkms::signer::v1::SignAppCallRequest AppCallRequest(uint64_t nonce = 0) {
  return AppEnvelope<onchainkms::signer::v1::SignAppCallRequest>(nonce);
}

}  // namespace signer::fixtures

#endif  // ONCHAIN_KMS_SIGNER_TESTING_ANVIL_FIXTURES_H_
