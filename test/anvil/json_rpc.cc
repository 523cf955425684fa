#include "test/anvil/json_rpc.h"

#include <atomic>
#include <chrono>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"

namespace anvil {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

// Request ids only need to be unique per connection; a process-wide counter is simplest.
std::atomic<int64_t> next_id{1};

struct Exchange {
  beast::error_code ec;
  const char* stage = "connect";
  http::response<http::string_body> response;
};

}  // namespace

JsonRpcClient::JsonRpcClient(std::string host, uint16_t port, absl::Duration timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

absl::StatusOr<RpcResponse> JsonRpcClient::CallRaw(absl::string_view method, json::array params) const {
  const int64_t id = next_id++;
  json::object request{{"jsonrpc", "2.0"},
                       {"id", id},
                       {"method", json::string_view(method.data(), method.size())},
                       {"params", std::move(params)}};

  boost::system::error_code addr_ec;
  asio::ip::address address = asio::ip::make_address(host_, addr_ec);
  if (addr_ec) return absl::InvalidArgumentError(absl::StrCat("bad rpc host ", host_));

  // Async operations on a beast::tcp_stream, because only they honour a deadline (a paused
  // anvil would otherwise block a synchronous read forever). One deadline covers the exchange.
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::verb::post, "/", 11};
  req.set(http::field::host, absl::StrCat(host_, ":", port_));
  req.set(http::field::content_type, "application/json");
  req.body() = json::serialize(request);
  req.prepare_payload();
  beast::flat_buffer buffer;
  Exchange x;

  stream.expires_after(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_)));
  stream.async_connect(asio::ip::tcp::endpoint(address, port_), [&](beast::error_code ec) {
    if (ec) {
      x.ec = ec;
      return;
    }
    x.stage = "write";
    http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        x.ec = ec;
        return;
      }
      x.stage = "read";
      http::async_read(stream, buffer, x.response, [&](beast::error_code ec, std::size_t) { x.ec = ec; });
    });
  });
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);

  const std::string where = absl::StrCat(method, " to ", host_, ":", port_);
  if (x.ec == beast::error::timeout) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": no answer within ", absl::FormatDuration(timeout_), " (", x.stage, ")"));
  }
  if (x.ec) return absl::UnavailableError(absl::StrCat(where, ": ", x.stage, ": ", x.ec.message()));
  if (x.response.result() != http::status::ok) {
    return absl::UnavailableError(absl::StrCat(where, ": http ", x.response.result_int(), ": ", x.response.body()));
  }

  json::error_code parse_ec;
  json::value parsed = json::parse(x.response.body(), parse_ec);
  if (parse_ec || !parsed.is_object()) {
    return absl::InternalError(absl::StrCat(where, ": not a json object: ", x.response.body()));
  }
  json::object& obj = parsed.as_object();
  RpcResponse out;
  if (const json::value* err = obj.if_contains("error"); err != nullptr && !err->is_null()) {
    if (!err->is_object()) return absl::InternalError(absl::StrCat(where, ": malformed error member"));
    const json::object& e = err->as_object();
    RpcError error;
    if (const json::value* c = e.if_contains("code"); c != nullptr && c->is_int64()) {
      error.code = c->as_int64();
    }
    if (const json::value* m = e.if_contains("message"); m != nullptr && m->is_string()) {
      error.message = std::string(m->as_string());
    }
    if (const json::value* d = e.if_contains("data")) error.data = *d;
    out.error = std::move(error);
    return out;
  }
  json::value* result = obj.if_contains("result");
  if (result == nullptr) return absl::InternalError(absl::StrCat(where, ": neither result nor error"));
  out.result = std::move(*result);
  return out;
}

absl::StatusOr<json::value> JsonRpcClient::Call(absl::string_view method, json::array params) const {
  absl::StatusOr<RpcResponse> r = CallRaw(method, std::move(params));
  if (!r.ok()) return r.status();
  if (r->error) return absl::FailedPreconditionError(absl::StrCat(method, ": ", FormatRpcError(*r->error)));
  return std::move(r->result);
}

std::string FormatRpcError(const RpcError& error) {
  std::string s = absl::StrCat("json-rpc error ", error.code, ": ", error.message);
  if (!error.data.is_null()) absl::StrAppend(&s, " data=", json::serialize(error.data));
  return s;
}

}  // namespace anvil
