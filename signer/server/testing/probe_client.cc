// Test helper: calls Signer.ListKeys once on a unix socket and prints the gRPC status code name.
// Run as another uid (setpriv) to prove the signer refuses callers it does not know.
//   probe_client unix:/path/to.sock
#include <cstdio>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto stub = onchainkms::signer::v1::Signer::NewStub(grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  onchainkms::signer::v1::ListKeysResponse response;
  const grpc::Status status = stub->ListKeys(&context, onchainkms::signer::v1::ListKeysRequest(), &response);
  std::printf("%d %s\n", static_cast<int>(status.error_code()), status.error_message().c_str());
  return status.ok() ? 0 : 1;
}
