#include "platform/http/client.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <utility>

#include <boost/asio/ssl/context.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/http/connection.h"
#include "platform/http/connection_pool.h"
#include "platform/http/tls_context.h"

namespace platform::http {

struct Client::Impl {
  Impl(Url url, ClientOptions options, std::unique_ptr<boost::asio::ssl::context> tls)
      : url(std::move(url)),
        options(std::move(options)),
        tls(std::move(tls)),
        pool(this->options.max_idle_connections, this->options.idle_timeout) {}

  absl::StatusOr<Response> Send(const Request& request, absl::Time deadline, SendInfo* info);
  // A pooled connection, or a new one.
  absl::StatusOr<std::unique_ptr<Connection>> Acquire(absl::Time deadline, SendInfo* info);

  const Url url;
  const ClientOptions options;
  const std::unique_ptr<boost::asio::ssl::context> tls;  // null for http
  ConnectionPool pool;
  std::atomic<uint64_t> requests{0}, opened{0}, reused{0}, stale{0};
};

absl::StatusOr<std::unique_ptr<Connection>> Client::Impl::Acquire(absl::Time deadline, SendInfo* info) {
  uint64_t dropped = 0;
  std::unique_ptr<Connection> c = pool.Take(&dropped);
  stale += dropped;
  if (c != nullptr) {
    ++reused;
    return c;
  }
  absl::StatusOr<std::unique_ptr<Connection>> fresh =
      Connection::Open(url, tls.get(), std::min(deadline, absl::Now() + options.connect_timeout), info);
  if (fresh.ok()) ++opened;
  return fresh;
}

absl::StatusOr<Response> Client::Impl::Send(const Request& request, absl::Time deadline, SendInfo* info) {
  ++requests;
  for (int attempt = 0;; ++attempt) {
    *info = SendInfo{};
    if (absl::Now() >= deadline) {
      info->timed_out = true;
      return absl::UnavailableError(absl::StrCat(url.Origin(), ": deadline passed"));
    }
    absl::StatusOr<std::unique_ptr<Connection>> c = Acquire(deadline, info);
    if (!c.ok()) return c.status();
    const bool was_reused = (*c)->reused;
    bool stale_connection = false;
    absl::StatusOr<Response> res = (*c)->Exchange(request, std::min(deadline, absl::Now() + options.request_timeout),
                                                  options.max_response_bytes, info, &stale_connection);
    if (res.ok() && (*c)->reusable()) pool.Put(*std::move(c));
    // A dropped keep-alive connection says nothing about the server: once more on a fresh one.
    const bool again = !res.ok() && stale_connection && was_reused && request.idempotent;
    if (!again || attempt > 0) return res;
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(Url origin, ClientOptions options) {
  std::unique_ptr<boost::asio::ssl::context> tls;
  try {
    if (origin.tls) {
      absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> ctx = MakeTlsClientContext(options.extra_ca_file);
      if (!ctx.ok()) return ctx.status();
      tls = *std::move(ctx);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("tls: ", e.what()));
  }
  return std::unique_ptr<Client>(
      new Client(std::make_unique<Impl>(std::move(origin), std::move(options), std::move(tls))));
}

absl::StatusOr<Response> Client::Send(const Request& request, absl::Time deadline, SendInfo* info) {
  SendInfo ignored;
  if (info == nullptr) info = &ignored;
  // Asio throws only on allocation failure or misuse; keep that at this edge. The request may
  // have left: say so.
  try {
    return impl_->Send(request, deadline, info);
  } catch (const std::exception& e) {
    info->write_started = info->request_written = true;
    return absl::UnavailableError(absl::StrCat(impl_->url.Origin(), ": ", e.what()));
  }
}

Client::Stats Client::stats() const {
  return {impl_->requests.load(), impl_->opened.load(), impl_->reused.load(), impl_->stale.load()};
}

const Url& Client::url() const { return impl_->url; }

}  // namespace platform::http
