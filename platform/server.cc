#include "platform/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/server_builder.h"

namespace platform {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ListenOptions& listen,
                                                      const std::vector<ServiceBinding>& services) {
  absl::StatusOr<ListenAddress> address = ParseListenAddress(listen.address);
  if (!address.ok()) return address.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(*address, listen);
  if (!credentials.ok()) return credentials.status();
  const bool unix_socket = address->kind == ListenAddress::Kind::kUnix;
  if (unix_socket) {
    const std::filesystem::path dir = std::filesystem::path(address->unix_path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      return absl::FailedPreconditionError(absl::StrCat("cannot listen on ", address->GrpcUri(),
                                                        ": directory ", dir.string(), " does not exist"));
    }
    if (absl::Status s = RemoveStaleUnixSocket(address->unix_path); !s.ok()) return s;
  }

  // Registers grpc.reflection.v1alpha.ServerReflection with every builder created from now on;
  // calling it also makes the linker keep libgrpc++_reflection.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<Server> server(new Server());
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(address->GrpcUri(), *credentials, unix_socket ? nullptr : &selected_port);
  server->health_.SetServingStatus("", HealthService::kNotServing);
  for (const ServiceBinding& binding : services) {
    builder.RegisterService(binding.service);
    server->health_.SetServingStatus(binding.name, HealthService::kNotServing);
  }
  builder.RegisterService(&server->health_);

  // The socket is created by bind() inside BuildAndStart. A umask of 0177 makes it 0600 from the
  // first instant; the configured mode (possibly wider, e.g. 0660) is applied right after. umask
  // is process-wide, so this belongs to start-up, before other threads create files.
  const mode_t old_umask = unix_socket ? ::umask(0177) : 0;
  server->server_ = builder.BuildAndStart();
  if (unix_socket) ::umask(old_umask);
  if (server->server_ == nullptr || (!unix_socket && selected_port == 0)) {
    server->server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address->GrpcUri(), " (see the gRPC error above)"));
  }
  if (unix_socket) {
    server->unix_path_ = address->unix_path;
    server->address_ = address->GrpcUri();
    if (absl::Status s = ApplyUnixSocketPermissions(address->unix_path, listen.unix_mode, listen.unix_group);
        !s.ok()) {
      server->Shutdown(absl::ZeroDuration());
      return s;
    }
  } else {
    ListenAddress actual = *address;
    actual.port = selected_port;
    server->address_ = actual.GrpcUri();
  }
  return server;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  health_.Shutdown();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace platform
