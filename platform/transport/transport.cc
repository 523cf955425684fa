#include "platform/transport/transport.h"

#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crypto/x509_fingerprint.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/server_posix.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace platform {
namespace {

absl::StatusOr<PeerAllowlist> MakePeerAllowlist(const TransportOptions& options) {
  if (!options.restrict_unix_peers) return PeerAllowlist::Anyone();
  std::vector<gid_t> gids = options.allowed_peer_gids;
  if (!options.listen.unix_group.empty()) {
    ASSIGN_OR_RETURN(gid_t group, ResolveGroup(options.listen.unix_group));
    gids.push_back(group);
  }
  return PeerAllowlist::Only(::geteuid(), options.allowed_peer_uids, std::move(gids));
}

// A TLS listener must authenticate its clients: verified certificates on an allowlist, bearer
// tokens, or both.
absl::StatusOr<BearerTokens> LoadClientAuthentication(const TransportOptions& options, const ClientAllowlist& clients) {
  const bool mtls = !options.listen.tls->client_ca_file.empty();
  if (options.require_client_certificate && !mtls) {
    return absl::InvalidArgumentError(
        "TCP with TLS needs a client CA (listen.tcp.tls.client_ca_file / --tls_client_ca_file): client "
        "certificates are required");
  }
  if (mtls && clients.empty()) {
    return absl::InvalidArgumentError(
        "listen.tcp.tls: client certificates need an allowlist (allowed_client_cert_sha256 or allowed_client_names)");
  }
  BearerTokens tokens;
  if (!options.bearer_tokens_file.empty()) {
    ASSIGN_OR_RETURN(tokens, BearerTokens::Load(options.bearer_tokens_file));
  }
  if (!mtls && tokens.empty()) {
    return absl::InvalidArgumentError(
        "listen.tcp: TLS without client authentication; set tls.client_ca_file (mTLS) or bearer_tokens_file");
  }
  return tokens;
}

// Bearer tokens are only checked on a TLS listener (over plaintext they would travel in clear): a
// tokens file on any other listener would be ignored and every caller admitted without one.
absl::Status RefuseBearerTokensWithoutTls(const ListenAddress& address, const TransportOptions& options) {
  if (options.bearer_tokens_file.empty() || options.listen.tls.has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "listen.tcp.bearer_tokens_file (or --bearer_tokens_file) is set but the listener ", options.listen.address,
      address.kind == ListenAddress::Kind::kUnix ? " is a unix socket" : " is plaintext",
      ": bearer tokens are only checked over TLS, so the file would be ignored and every caller admitted ",
      address.kind == ListenAddress::Kind::kUnix ? "by uid" : "as \"insecure\"",
      "; configure listen.tcp.tls or remove bearer_tokens_file"));
}

std::string HexOf(const crypto::Sha256Digest& digest) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> Transport::Create(TransportOptions options) {
  ASSIGN_OR_RETURN(ListenAddress address, ParseListenAddress(options.listen.address));
  RETURN_IF_ERROR(ValidateListenOptions(address, options.listen));
  RETURN_IF_ERROR(RefuseBearerTokensWithoutTls(address, options));
  std::unique_ptr<Transport> t(new Transport());
  ASSIGN_OR_RETURN(t->clients_,
                   ClientAllowlist::Create(options.allowed_client_cert_sha256, options.allowed_client_names));
  if (address.kind == ListenAddress::Kind::kUnix) {
    ASSIGN_OR_RETURN(t->peers_, MakePeerAllowlist(options));
  } else if (options.listen.tls.has_value()) {
    ASSIGN_OR_RETURN(t->tokens_, LoadClientAuthentication(options, t->clients_));
  }
  t->address_parsed_ = std::move(address);
  t->options_ = std::move(options);
  return t;
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Start(TransportOptions options,
                                                            const std::vector<ServiceBinding>& services) {
  ASSIGN_OR_RETURN(std::unique_ptr<Transport> t, Create(std::move(options)));
  RETURN_IF_ERROR(t->Serve(services));
  return t;
}

Transport::~Transport() { Shutdown(absl::ZeroDuration()); }

absl::Status Transport::OpenListener(grpc::ServerBuilder& builder, int* selected_port) {
  if (address_parsed_.kind == ListenAddress::Kind::kUnix) {
    ASSIGN_OR_RETURN(acceptor_, UnixAcceptor::Listen(address_parsed_.unix_path, options_.listen.unix_mode,
                                                     options_.listen.unix_group));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeServerCredentials(address_parsed_, options_.listen));
  builder.AddListeningPort(address_parsed_.GrpcUri(), credentials, selected_port);
  return absl::OkStatus();
}

absl::Status Transport::Serve(const std::vector<ServiceBinding>& services) {
  if (server_ != nullptr || shut_down_) return absl::FailedPreconditionError("the transport serves once");
  // Registers grpc.reflection.v1alpha.ServerReflection with every builder created from now on;
  // calling it also makes the linker keep libgrpc++_reflection.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int selected_port = 0;
  RETURN_IF_ERROR(OpenListener(builder, &selected_port));
  health_.SetServingStatus("", HealthService::kNotServing);
  for (const ServiceBinding& binding : services) {
    builder.RegisterService(binding.service);
    health_.SetServingStatus(binding.name, HealthService::kNotServing);
  }
  builder.RegisterService(&health_);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || (acceptor_ == nullptr && selected_port == 0)) {
    server_.reset();
    acceptor_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address_parsed_.GrpcUri(), " (see the gRPC error above)"));
  }
  ListenAddress actual = address_parsed_;
  if (acceptor_ != nullptr) {
    acceptor_->Start(
        peers_, [server = server_.get()](int fd) { grpc::AddInsecureChannelFromFd(server, fd); },
        [extra = options_.on_refused_connection](const Caller::UnixPeer& peer) {
          log::Warn("refused a unix socket connection from a peer that is not allowed",
                    {{"peer_uid", static_cast<int64_t>(peer.uid)},
                     {"peer_gid", static_cast<int64_t>(peer.gid)},
                     {"peer_pid", static_cast<int64_t>(peer.pid)}});
          if (extra) extra(peer);
        },
        [extra = options_.on_accept_failure](const absl::Status& s) {
          log::Error("unix socket accept failed", {{"error", std::string(s.message())}});
          if (extra) extra(s);
        });
  } else {
    actual.port = selected_port;
  }
  address_ = actual.GrpcUri();
  return absl::OkStatus();
}

absl::StatusOr<Caller> Transport::Authenticate(const grpc::CallbackServerContext& context) const {
  std::string peer = context.peer();
  if (address_parsed_.kind == ListenAddress::Kind::kUnix) {
    int fd = -1;
    if (acceptor_ != nullptr && absl::StartsWith(peer, "fd:") &&
        absl::SimpleAtoi(absl::string_view(peer).substr(3), &fd)) {
      if (std::optional<Caller::UnixPeer> credentials = acceptor_->PeerOf(fd)) return Caller(*credentials);
    }
    return absl::UnauthenticatedError("caller identity unknown");
  }
  if (!options_.listen.tls.has_value()) return Caller(Caller::InsecureLoopback{std::move(peer)});
  return AuthenticateTls(context);
}

absl::StatusOr<Caller> Transport::AuthenticateTls(const grpc::CallbackServerContext& context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) return CertificateCaller(*auth, context.peer());
  return BearerTokenCaller(context, context.peer());
}

absl::StatusOr<Caller> Transport::CertificateCaller(const grpc::AuthContext& auth, std::string peer) const {
  Caller::TlsClient client;
  client.peer = std::move(peer);
  for (const grpc::string_ref& pem : auth.FindPropertyValues("x509_pem_cert")) {
    absl::StatusOr<crypto::CertificateIdentity> cert =
        crypto::IdentifyPemCertificate(absl::string_view(pem.data(), pem.size()));
    if (cert.ok()) {
      client.cert_sha256 = HexOf(cert->sha256);
      client.subject = cert->subject;
    }
    break;
  }
  for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
    for (const grpc::string_ref& v : auth.FindPropertyValues(property)) client.names.emplace_back(v.data(), v.size());
  }
  if (std::optional<std::string> name = clients_.AllowedName(client.names)) {
    client.allowed_name = *std::move(name);
  } else if (!clients_.AllowsFingerprint(client.cert_sha256)) {
    return absl::PermissionDeniedError(absl::StrCat("client certificate ",
                                                    client.cert_sha256.empty() ? "(unreadable)" : client.cert_sha256,
                                                    " (", client.subject, ") is not on the client allowlist"));
  }
  return Caller(std::move(client));
}

absl::StatusOr<Caller> Transport::BearerTokenCaller(const grpc::CallbackServerContext& context,
                                                    std::string peer) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return absl::UnauthenticatedError("no client certificate or bearer token");
  if (std::optional<absl::string_view> token =
          BearerTokens::FromAuthorizationHeader(absl::string_view(it->second.data(), it->second.size()))) {
    if (std::optional<std::string> name = tokens_.NameOf(*token)) {
      return Caller(Caller::BearerToken{*std::move(name), std::move(peer)});
    }
  }
  return absl::UnauthenticatedError("bearer token not accepted");
}

void Transport::EndUnixConnections() {
  if (acceptor_ == nullptr) return;
  acceptor_->Stop();
  acceptor_->EndConnections();
}

void Transport::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  health_.Shutdown();
  if (acceptor_ != nullptr) acceptor_->Stop();  // no new connections; the socket file goes
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
}

}  // namespace platform
