#include "orchestrator/transport/transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chain/hex.h"
#include "crypto/sha256.h"
#include "crypto/x509_fingerprint.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_posix.h"
#include "platform/log/log.h"

namespace orchestrator::transport {
namespace {

std::string Hex(const crypto::Sha256Digest& d) { return chain::ToHex(d, false); }

bool IsLowerHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseBearerTokens(absl::string_view text) {
  std::map<std::string, std::string> out;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 2 || !IsLowerHex64(parts[1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bearer tokens file line ", n, ": want \"<name> <lowercase hex sha256 of the token>\""));
    }
    out[std::string(parts[1])] = std::string(parts[0]);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Start(const TransportOptions& options,
                                                            const std::vector<platform::ServiceBinding>& services) {
  absl::StatusOr<platform::ListenAddress> address = platform::ParseListenAddress(options.listen.address);
  if (!address.ok()) return address.status();
  if (absl::Status s = platform::ValidateListenOptions(*address, options.listen); !s.ok()) return s;
  std::unique_ptr<Transport> t(new Transport());
  t->options_ = options;
  t->unix_ = address->kind == platform::ListenAddress::Kind::kUnix;
  t->tls_ = options.listen.tls.has_value();
  for (const std::string& s : options.allowed_client_cert_sha256) t->allowed_sha256_.insert(absl::AsciiStrToLower(s));
  for (const std::string& s : options.allowed_client_names) t->allowed_names_.insert(s);
  if (!t->unix_ && t->tls_) {
    if (!options.bearer_tokens_file.empty()) {
      std::ifstream in(options.bearer_tokens_file);
      if (!in) return absl::InvalidArgumentError(absl::StrCat("bearer_tokens_file ", options.bearer_tokens_file, ": cannot read"));
      std::stringstream ss;
      ss << in.rdbuf();
      absl::StatusOr<std::map<std::string, std::string>> tokens = ParseBearerTokens(ss.str());
      if (!tokens.ok()) return tokens.status();
      t->tokens_ = *std::move(tokens);
    }
    const bool mtls = !options.listen.tls->client_ca_file.empty();
    if (mtls && t->allowed_sha256_.empty() && t->allowed_names_.empty()) {
      return absl::InvalidArgumentError(
          "listen.tcp.tls: client certificates need an allowlist (allowed_client_cert_sha256 or allowed_client_names)");
    }
    if (!mtls && t->tokens_.empty()) {
      return absl::InvalidArgumentError(
          "listen.tcp: TLS without client authentication; set tls.client_ca_file (mTLS) or bearer_tokens_file");
    }
  }

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int selected_port = 0;
  if (t->unix_) {
    t->unix_path_ = address->unix_path;
    if (absl::Status s = platform::RemoveStaleUnixSocket(t->unix_path_); !s.ok()) return s;
    t->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->listen_fd_ < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, t->unix_path_.data(), t->unix_path_.size());
    const mode_t old_umask = ::umask(0177);
    const int rc = ::bind(t->listen_fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
    const int err = errno;
    ::umask(old_umask);
    if (rc != 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", address->GrpcUri(), ": ", std::strerror(err)));
    }
    if (absl::Status s = platform::ApplyUnixSocketPermissions(t->unix_path_, options.listen.unix_mode, options.listen.unix_group);
        !s.ok()) {
      ::unlink(t->unix_path_.c_str());
      return s;
    }
    if (::listen(t->listen_fd_, 512) != 0) return absl::UnavailableError(absl::StrCat("listen: ", std::strerror(errno)));
  } else {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = platform::MakeServerCredentials(*address, options.listen);
    if (!creds.ok()) return creds.status();
    builder.AddListeningPort(address->GrpcUri(), *creds, &selected_port);
  }
  t->health_.SetServingStatus("", platform::HealthService::kNotServing);
  for (const platform::ServiceBinding& b : services) {
    builder.RegisterService(b.service);
    t->health_.SetServingStatus(b.name, platform::HealthService::kNotServing);
  }
  builder.RegisterService(&t->health_);
  builder.SetMaxReceiveMessageSize(4 << 20);  // 1 MiB of env vars + 200 KiB of compose + slack
  t->server_ = builder.BuildAndStart();
  if (t->server_ == nullptr || (!t->unix_ && selected_port == 0)) {
    if (t->unix_) ::unlink(t->unix_path_.c_str());
    return absl::UnavailableError(absl::StrCat("cannot serve on ", address->GrpcUri(), " (see the gRPC error above)"));
  }
  if (t->unix_) {
    t->address_ = address->GrpcUri();
    t->acceptor_ = std::thread([p = t.get()] { p->AcceptLoop(); });
  } else {
    platform::ListenAddress actual = *address;
    actual.port = selected_port;
    t->address_ = actual.GrpcUri();
  }
  return t;
}

Transport::~Transport() { Shutdown(absl::ZeroDuration()); }

void Transport::AcceptLoop() {
  while (!stopping_.load()) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_.load()) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        ::usleep(10000);
        continue;
      }
      platform::log::Error("unix socket accept failed", {{"error", std::strerror(errno)}});
      return;
    }
    struct ucred cred {};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(fd);
      continue;
    }
    {
      absl::MutexLock l(&peers_mu_);
      peers_[fd] = cred.uid;
    }
    if (stopping_.load()) {
      ::close(fd);
      return;
    }
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }
}

absl::StatusOr<std::string> Transport::Authenticate(grpc::CallbackServerContext* context) {
  const std::string peer = context->peer();
  if (unix_) {
    int fd = -1;
    if (absl::StartsWith(peer, "fd:") && absl::SimpleAtoi(absl::string_view(peer).substr(3), &fd)) {
      absl::MutexLock l(&peers_mu_);
      auto it = peers_.find(fd);
      if (it != peers_.end()) return absl::StrCat("uid:", it->second);
    }
    return absl::UnauthenticatedError("caller identity unknown");
  }
  if (!tls_) return std::string("insecure");  // loopback with insecure_loopback (checked at start)
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    std::string sha;
    for (const grpc::string_ref& v : auth->FindPropertyValues("x509_pem_cert")) {
      absl::StatusOr<crypto::CertificateIdentity> cert =
          crypto::IdentifyPemCertificate(absl::string_view(v.data(), v.size()));
      if (cert.ok()) sha = Hex(cert->sha256);
      break;
    }
    std::vector<std::string> names;
    for (const char* prop : {"x509_common_name", "x509_subject_alternative_name"}) {
      for (const grpc::string_ref& v : auth->FindPropertyValues(prop)) names.emplace_back(v.data(), v.size());
    }
    for (const std::string& n : names) {
      if (allowed_names_.count(n) > 0) return absl::StrCat("cert:", n);
    }
    if (!sha.empty() && allowed_sha256_.count(sha) > 0) return absl::StrCat("cert:", sha.substr(0, 16));
    return absl::PermissionDeniedError(absl::StrCat("client certificate ", sha.empty() ? "(unreadable)" : sha,
                                                    " is not on the orchestrator's client allowlist"));
  }
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) {
    absl::string_view v(it->second.data(), it->second.size());
    if (absl::ConsumePrefix(&v, "Bearer ") || absl::ConsumePrefix(&v, "bearer ")) {
      const std::string sha = Hex(crypto::Sha256(absl::StripAsciiWhitespace(v)));
      auto t = tokens_.find(sha);
      if (t != tokens_.end()) return absl::StrCat("token:", t->second);
    }
    return absl::UnauthenticatedError("bearer token not accepted");
  }
  return absl::UnauthenticatedError("no client certificate or bearer token");
}

void Transport::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  health_.Shutdown();
  stopping_.store(true);
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace orchestrator::transport
