// The Signer gRPC service (onchainkms.signer.v1.Signer). For now a skeleton: every RPC answers
// UNIMPLEMENTED naming the issue that implements it (#4: key store, policy, anti-equivocation,
// audit log, signing). Dependencies (key store, policy, ...) will be handed to the constructor.
#ifndef ONCHAIN_KMS_SIGNER_SIGNER_SERVICE_H_
#define ONCHAIN_KMS_SIGNER_SIGNER_SERVICE_H_

#include "onchainkms/signer/v1/signer.grpc.pb.h"

namespace signer {

class SignerService final : public onchainkms::signer::v1::Signer::CallbackService {
 public:
  SignerService() = default;

  grpc::ServerUnaryReactor* ListKeys(grpc::CallbackServerContext* context,
                                     const onchainkms::signer::v1::ListKeysRequest* request,
                                     onchainkms::signer::v1::ListKeysResponse* response) override;
  grpc::ServerUnaryReactor* GetKey(grpc::CallbackServerContext* context,
                                   const onchainkms::signer::v1::GetKeyRequest* request,
                                   onchainkms::signer::v1::Key* response) override;
  grpc::ServerUnaryReactor* SignDeployAndRegisterApp(
      grpc::CallbackServerContext* context,
      const onchainkms::signer::v1::SignDeployAndRegisterAppRequest* request,
      onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignAddComposeHash(
      grpc::CallbackServerContext* context, const onchainkms::signer::v1::SignAddComposeHashRequest* request,
      onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignTransaction(grpc::CallbackServerContext* context,
                                            const onchainkms::signer::v1::SignTransactionRequest* request,
                                            onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignMessage(grpc::CallbackServerContext* context,
                                        const onchainkms::signer::v1::SignMessageRequest* request,
                                        onchainkms::signer::v1::SignMessageResponse* response) override;
};

}  // namespace signer

#endif  // ONCHAIN_KMS_SIGNER_SIGNER_SERVICE_H_
