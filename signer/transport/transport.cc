#include "signer/transport/transport.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chain/hex.h"
#include "crypto/x509_fingerprint.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_posix.h"
#include "platform/log/log.h"

namespace signer::transport {
namespace {

absl::StatusOr<gid_t> ResolveGroup(const std::string& name) {
  uint32_t numeric = 0;
  if (absl::SimpleAtoi(name, &numeric)) return static_cast<gid_t>(numeric);
  std::vector<char> buf(16384);
  struct group g;
  struct group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket group \"", name, "\" does not exist"));
  }
  return found->gr_gid;
}

bool UserInGroup(uid_t uid, gid_t gid) {
  std::vector<char> buf(16384);
  struct passwd pw;
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return false;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &n) < 0) return false;
  }
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<size_t>(i)] == gid) return true;
  }
  return false;
}

}  // namespace

std::string CallerIdentity::ToString() const {
  switch (kind) {
    case Kind::kUnixPeer:
      return absl::StrCat("unix uid=", uid, " gid=", gid, " pid=", pid);
    case Kind::kTlsClient:
      return absl::StrCat("mtls cert_sha256=", cert_sha256, " subject=\"", subject, "\"");
    case Kind::kInsecureLoopback:
      return absl::StrCat("insecure-loopback ", peer);
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Start(const TransportOptions& options,
                                                           const std::vector<platform::ServiceBinding>& services) {
  absl::StatusOr<platform::ListenAddress> address = platform::ParseListenAddress(options.listen.address);
  if (!address.ok()) return address.status();
  if (absl::Status s = platform::ValidateListenOptions(*address, options.listen); !s.ok()) return s;
  std::unique_ptr<Transport> t(new Transport());
  t->options_ = options;
  t->own_uid_ = ::geteuid();
  t->unix_ = address->kind == platform::ListenAddress::Kind::kUnix;
  for (const std::string& h : options.allowed_client_cert_sha256) {
    std::string norm = absl::AsciiStrToLower(h);
    norm.erase(std::remove(norm.begin(), norm.end(), ':'), norm.end());
    if (norm.size() != 64) return absl::InvalidArgumentError(absl::StrCat("allowed_client_cert_sha256: bad fingerprint \"", h, "\""));
    t->allowed_sha256_.insert(norm);
  }
  for (const std::string& n : options.allowed_client_names) t->allowed_names_.insert(n);
  if (!t->unix_ && options.listen.tls.has_value()) {
    if (options.listen.tls->client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "TCP with TLS needs a client CA (listen.tcp.tls.client_ca_file / --tls_client_ca_file): the signer "
          "requires client certificates");
    }
    if (t->allowed_sha256_.empty() && t->allowed_names_.empty()) {
      return absl::InvalidArgumentError(
          "TCP with mTLS needs a client allowlist (listen.tcp.tls.allowed_client_cert_sha256 or allowed_client_names)");
    }
  }

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int selected_port = 0;
  if (t->unix_) {
    if (!options.listen.unix_group.empty()) {
      absl::StatusOr<gid_t> gid = ResolveGroup(options.listen.unix_group);
      if (!gid.ok()) return gid.status();
      t->group_gid_ = *gid;
    }
    t->unix_path_ = address->unix_path;
    if (absl::Status s = platform::RemoveStaleUnixSocket(t->unix_path_); !s.ok()) return s;
    t->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->listen_fd_ < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, t->unix_path_.data(), t->unix_path_.size());
    // 0600 from the first instant; the configured (possibly wider) mode right after bind.
    const mode_t old_umask = ::umask(0177);
    const int rc = ::bind(t->listen_fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
    const int err = errno;
    ::umask(old_umask);
    if (rc != 0) return absl::UnavailableError(absl::StrCat("bind ", t->unix_path_, ": ", std::strerror(err)));
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
  builder.SetMaxReceiveMessageSize(1 << 20);
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

bool Transport::PeerAllowed(uid_t uid, gid_t gid) const {
  if (uid == own_uid_) return true;
  for (uid_t u : options_.allowed_peer_uids) {
    if (u == uid) return true;
  }
  if (group_gid_.has_value() && (gid == *group_gid_ || UserInGroup(uid, *group_gid_))) return true;
  return false;
}

void Transport::AcceptLoop() {
  while (!stopping_.load()) {
    // Non-blocking: gRPC's endpoint reads until EAGAIN.
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
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !PeerAllowed(cred.uid, cred.gid)) {
      refused_.fetch_add(1);
      platform::log::Warn("refused a unix socket connection from a uid that is not allowed",
                          {{"peer_uid", static_cast<int64_t>(cred.uid)}, {"peer_gid", static_cast<int64_t>(cred.gid)},
                          {"peer_pid", static_cast<int64_t>(cred.pid)}});
      ::close(fd);
      continue;
    }
    CallerIdentity id;
    id.kind = CallerIdentity::Kind::kUnixPeer;
    id.uid = cred.uid;
    id.gid = cred.gid;
    id.pid = cred.pid;
    {
      absl::MutexLock lock(&peers_mu_);
      peers_[fd] = id;  // replaces whatever a closed connection with this fd number left
    }
    if (stopping_.load()) {
      ::close(fd);
      return;
    }
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }
}

absl::StatusOr<CallerIdentity> Transport::Authorize(const grpc::CallbackServerContext& context) const {
  const std::string peer = context.peer();
  if (unix_) {
    int fd = -1;
    if (absl::StartsWith(peer, "fd:") && absl::SimpleAtoi(absl::string_view(peer).substr(3), &fd)) {
      absl::MutexLock lock(&peers_mu_);
      auto it = peers_.find(fd);
      if (it != peers_.end()) return it->second;
    }
    return absl::PermissionDeniedError("caller identity unknown");
  }
  if (!options_.listen.tls.has_value()) {
    CallerIdentity id;
    id.kind = CallerIdentity::Kind::kInsecureLoopback;
    id.peer = peer;
    return id;
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::PermissionDeniedError("no verified client certificate");
  }
  CallerIdentity id;
  id.kind = CallerIdentity::Kind::kTlsClient;
  id.peer = peer;
  for (const grpc::string_ref& v : auth->FindPropertyValues("x509_pem_cert")) {
    absl::StatusOr<crypto::CertificateIdentity> cert = crypto::IdentifyPemCertificate(absl::string_view(v.data(), v.size()));
    if (cert.ok()) {
      id.cert_sha256 = chain::ToHex(cert->sha256, false);
      id.subject = cert->subject;
    }
    break;
  }
  for (const char* prop : {"x509_common_name", "x509_subject_alternative_name"}) {
    for (const grpc::string_ref& v : auth->FindPropertyValues(prop)) id.names.emplace_back(v.data(), v.size());
  }
  bool allowed = !id.cert_sha256.empty() && allowed_sha256_.contains(id.cert_sha256);
  for (const std::string& n : id.names) allowed = allowed || allowed_names_.contains(n);
  if (!allowed) {
    return absl::PermissionDeniedError(absl::StrCat("client certificate ", id.cert_sha256.empty() ? "(unreadable)" : id.cert_sha256,
                                                    " (", id.subject, ") is not on the signer's client allowlist"));
  }
  return id;
}

void Transport::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  health_.Shutdown();
  stopping_.store(true);
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
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

Transport::~Transport() { Shutdown(absl::ZeroDuration()); }

}  // namespace signer::transport
