// chain::onchain::TxSigner over the signer's gRPC API (onchainkms.signer.v1.Signer): the only
// way the orchestrator gets a signature. The signer builds the calldata from the intent itself;
// SignIntent (chain/onchain/tx_signer.h) then verifies the answer against the request.
//
// Transport: "unix:/path" (a sidecar; the signer identifies us by our uid) or "host:port" with
// mTLS (CA, client certificate and key required; plaintext TCP is refused). Every call has a
// deadline (`timeout`) and fails fast when the signer is down (no wait-for-ready):
// UNAVAILABLE / DEADLINE_EXCEEDED "signer at <address>: ..." so the operation can wait and retry.
// The signer's own refusals keep their codes (PERMISSION_DENIED policy, FAILED_PRECONDITION
// anti-equivocation, RESOURCE_EXHAUSTED budget, NOT_FOUND unknown key).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SIGNER_CLIENT_SIGNER_CLIENT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SIGNER_CLIENT_SIGNER_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/onchain/tx_signer.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"

namespace orchestrator {

struct SignerClientOptions {
  std::string address;  // "unix:/path" or "host:port"
  struct Tls {
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    std::string server_name;  // empty: the host of `address`
  };
  std::optional<Tls> tls;  // required for TCP
  absl::Duration timeout = absl::Seconds(10);
};

class SignerClient final : public chain::onchain::TxSigner {
 public:
  // INVALID_ARGUMENT for a bad address, plaintext TCP, or unreadable TLS files. Does not connect.
  static absl::StatusOr<std::unique_ptr<SignerClient>> Create(const SignerClientOptions& options);

  absl::StatusOr<chain::onchain::SignedTx> SignDeployAndRegisterApp(
      const chain::onchain::TxEnvelope& envelope, const chain::Address& kms,
      const chain::DeployAndRegisterAppParams& params) override;
  absl::StatusOr<chain::onchain::SignedTx> SignAddComposeHash(const chain::onchain::TxEnvelope& envelope,
                                                              const chain::Address& app,
                                                              const chain::Hash32& compose_hash) override;
  absl::StatusOr<chain::onchain::SignedTx> SignAppCall(const chain::onchain::TxEnvelope& envelope,
                                                       const chain::Address& app, const chain::AppCall& call) override;

  // One SignBatch call with stop_sender_at_refusal (the items are one sender's). An ABORTED item
  // after a refused one comes back as not started (chain::onchain::IsNotStarted). A whole-call
  // error is every item's.
  std::vector<absl::StatusOr<chain::onchain::SignedTx>> SignBatch(
      const std::vector<chain::onchain::TxRequest>& requests) override;

  // The keys the signer holds (ListKeys). Doubles as the reachability probe for health.
  absl::StatusOr<std::vector<chain::Address>> ListKeys();

  const std::string& address() const { return options_.address; }

 private:
  SignerClient(SignerClientOptions options, std::unique_ptr<onchainkms::signer::v1::Signer::Stub> stub);
  void Prepare(grpc::ClientContext* context) const;
  absl::Status CallError(const grpc::Status& status, absl::string_view method) const;

  const SignerClientOptions options_;
  std::unique_ptr<onchainkms::signer::v1::Signer::Stub> stub_;
};

// True for a status a call to the signer returned (its refusal, or UNAVAILABLE / DEADLINE_EXCEEDED
// when it could not be reached), also after the chain layer wrapped it.
bool FromSigner(const absl::Status& status);

// Converts the signer's answer into chain's type (parsing every field); INTERNAL when malformed.
absl::StatusOr<chain::onchain::SignedTx> FromProto(const onchainkms::signer::v1::SignedTransaction& tx);

}  // namespace orchestrator

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SIGNER_CLIENT_SIGNER_CLIENT_H_
