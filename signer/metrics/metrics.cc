#include "signer/metrics/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace signer::metrics {
namespace {

std::string Escape(absl::string_view v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

}  // namespace

void Metrics::ObserveRequest(absl::string_view method, absl::string_view outcome, absl::Duration latency) {
  const double s = absl::ToDoubleSeconds(latency);
  absl::MutexLock lock(&mu_);
  ++requests_[{std::string(method), std::string(outcome)}];
  Histogram& h = latency_[std::string(method)];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (s <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += s;
}

void Metrics::PolicyDenial(absl::string_view rule) {
  absl::MutexLock lock(&mu_);
  ++denials_[std::string(rule)];
}

void Metrics::PolicyReload(bool ok) {
  absl::MutexLock lock(&mu_);
  ++(ok ? reloads_ok_ : reloads_rejected_);
}

void Metrics::SetRefusedConnectionsFn(std::function<uint64_t()> fn) {
  absl::MutexLock lock(&mu_);
  refused_fn_ = std::move(fn);
}

void Metrics::SetGroupCommitFns(std::function<uint64_t()> commits, std::function<uint64_t()> records) {
  absl::MutexLock lock(&mu_);
  commits_fn_ = std::move(commits);
  records_fn_ = std::move(records);
}

std::string Metrics::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  absl::StrAppend(&out, "# HELP signer_requests_total Signer RPCs by method and outcome (gRPC status).\n",
                  "# TYPE signer_requests_total counter\n");
  for (const auto& [k, v] : requests_) {
    absl::StrAppend(&out, "signer_requests_total{method=\"", Escape(k.first), "\",outcome=\"", Escape(k.second), "\"} ",
                    v, "\n");
  }
  absl::StrAppend(&out, "# HELP signer_request_duration_seconds Signer RPC latency, from arrival to reply.\n",
                  "# TYPE signer_request_duration_seconds histogram\n");
  for (const auto& [method, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      absl::StrAppend(&out, "signer_request_duration_seconds_bucket{method=\"", Escape(method), "\",le=\"", kBuckets[i],
                      "\"} ", h.counts[i], "\n");
    }
    absl::StrAppend(&out, "signer_request_duration_seconds_bucket{method=\"", Escape(method), "\",le=\"+Inf\"} ",
                    h.count, "\n");
    absl::StrAppend(&out, "signer_request_duration_seconds_sum{method=\"", Escape(method), "\"} ", h.sum, "\n");
    absl::StrAppend(&out, "signer_request_duration_seconds_count{method=\"", Escape(method), "\"} ", h.count, "\n");
  }
  absl::StrAppend(&out, "# HELP signer_policy_denials_total Requests refused by the policy or its limits, by rule.\n",
                  "# TYPE signer_policy_denials_total counter\n");
  for (const auto& [rule, v] : denials_) {
    absl::StrAppend(&out, "signer_policy_denials_total{rule=\"", Escape(rule), "\"} ", v, "\n");
  }
  absl::StrAppend(&out, "# HELP signer_policy_reloads_total Policy reloads (SIGHUP) by result.\n",
                  "# TYPE signer_policy_reloads_total counter\n", "signer_policy_reloads_total{result=\"ok\"} ",
                  reloads_ok_, "\n", "signer_policy_reloads_total{result=\"rejected\"} ", reloads_rejected_, "\n");
  absl::StrAppend(&out, "# HELP signer_keys_loaded Keys held by the signer.\n# TYPE signer_keys_loaded gauge\n",
                  "signer_keys_loaded ", keys_loaded_.load(), "\n");
  if (refused_fn_) {
    absl::StrAppend(
        &out, "# HELP signer_refused_connections_total Unix socket connections refused (peer uid not allowed).\n",
        "# TYPE signer_refused_connections_total counter\n", "signer_refused_connections_total ", refused_fn_(), "\n");
  }
  if (commits_fn_ && records_fn_) {
    absl::StrAppend(&out,
                    "# HELP signer_equivocation_commits_total Group commits (fsyncs) of the anti-equivocation db.\n",
                    "# TYPE signer_equivocation_commits_total counter\n", "signer_equivocation_commits_total ",
                    commits_fn_(), "\n", "# HELP signer_equivocation_records_total Signatures recorded durably.\n",
                    "# TYPE signer_equivocation_records_total counter\n", "signer_equivocation_records_total ",
                    records_fn_(), "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& bind_address, int port,
                                                                            const Metrics* metrics) {
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer());
  s->metrics_ = metrics;
  sockaddr_storage ss{};
  socklen_t len = 0;
  const std::string host = bind_address.empty() ? "127.0.0.1" : bind_address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("metrics_bind_address: not an IP address: \"", host, "\""));
  }
  s->fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->fd_ < 0) return absl::UnavailableError(absl::StrCat("metrics socket: ", std::strerror(errno)));
  const int one = 1;
  ::setsockopt(s->fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(s->fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(s->fd_, 16) != 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", host, ":", port, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(s->fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  s->port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

void MetricsHttpServer::Loop() {
  while (!stopping_.load()) {
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (stopping_.load()) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      ::usleep(10000);
      continue;
    }
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::string req;
    char buf[1024];
    while (req.size() < 8192 && req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    std::string body, status = "404 Not Found", type = "text/plain";
    if (req.rfind("GET /metrics ", 0) == 0 || req.rfind("GET /metrics?", 0) == 0) {
      status = "200 OK";
      type = "text/plain; version=0.0.4; charset=utf-8";
      body = metrics_->Render();
    } else {
      body = "not found: try GET /metrics\n";
    }
    const std::string resp = absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                                          "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
    size_t off = 0;
    while (off < resp.size()) {
      const ssize_t n = ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(c);
  }
}

void MetricsHttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

}  // namespace signer::metrics
