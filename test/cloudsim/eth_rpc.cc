#include "test/cloudsim/eth_rpc.h"

#include <atomic>
#include <chrono>
#include <exception>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "test/cloudsim/eth_forms.h"

namespace cloudsim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

std::atomic<uint64_t> g_next_id{1};

std::string Word(absl::string_view hex) {
  std::string w(64 - std::min<size_t>(64, hex.size()), '0');
  w.append(hex.data(), std::min<size_t>(64, hex.size()));
  return w;
}

absl::string_view Strip0x(absl::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  return s;
}

}  // namespace

absl::StatusOr<EthRpc> EthRpc::Create(absl::string_view url, absl::Duration timeout) {
  boost::system::result<boost::urls::url_view> u =
      boost::urls::parse_absolute_uri(std::string_view(url.data(), url.size()));
  if (!u) return absl::InvalidArgumentError(absl::StrCat("rpc url is not an absolute URI: ", url));
  if (u->scheme() != "http") {
    return absl::InvalidArgumentError(absl::StrCat("rpc url must be http:// (got ", std::string(u->scheme()), ")"));
  }
  std::string host = u->host();
  if (host.empty()) return absl::InvalidArgumentError("rpc url has no host");
  std::string port = u->has_port() ? std::string(u->port()) : "80";
  std::string target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) target += "?" + std::string(u->encoded_query());
  return EthRpc(std::string(url), host, port, target, timeout);
}

absl::StatusOr<json::value> EthRpc::Call(absl::string_view method, json::array params) const {
  json::object req;
  req["jsonrpc"] = "2.0";
  req["id"] = g_next_id.fetch_add(1);
  req["method"] = std::string(method);
  req["params"] = std::move(params);
  std::string body = json::serialize(req);

  http::response<http::string_body> res;
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::error_code failure;
    auto deadline = std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_));
    http::request<http::string_body> hreq{http::verb::post, target_, 11};
    hreq.set(http::field::host, host_ + ":" + port_);
    hreq.set(http::field::content_type, "application/json");
    hreq.body() = body;
    hreq.prepare_payload();
    beast::flat_buffer buffer;

    resolver.async_resolve(host_, port_, [&](beast::error_code ec, tcp::resolver::results_type r) {
      if (ec) {
        failure = ec;
        return;
      }
      stream.expires_after(deadline);
      stream.async_connect(r, [&](beast::error_code ec2, const tcp::endpoint&) {
        if (ec2) {
          failure = ec2;
          return;
        }
        http::async_write(stream, hreq, [&](beast::error_code ec3, size_t) {
          if (ec3) {
            failure = ec3;
            return;
          }
          http::async_read(stream, buffer, res, [&](beast::error_code ec4, size_t) {
            if (ec4) failure = ec4;
            beast::error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
      });
    });
    ioc.run_for(deadline + std::chrono::seconds(1));
    if (!ioc.stopped()) return absl::DeadlineExceededError(absl::StrCat("rpc ", method, " timed out"));
    if (failure) {
      return absl::UnavailableError(absl::StrCat("rpc ", method, " to ", url_, ": ", failure.message()));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rpc ", method, ": ", e.what()));
  }
  if (res.result_int() != 200) {
    return absl::UnavailableError(absl::StrCat("rpc ", method, ": http status ", res.result_int()));
  }
  boost::system::error_code ec;
  json::value v = json::parse(res.body(), ec);
  if (ec || !v.is_object()) {
    return absl::UnavailableError(absl::StrCat("rpc ", method, ": response is not a JSON object"));
  }
  const json::object& o = v.get_object();
  if (const json::value* err = o.if_contains("error"); err != nullptr && !err->is_null()) {
    std::string msg = "unknown error";
    if (err->is_object()) {
      if (const json::value* m = err->get_object().if_contains("message"); m && m->is_string()) {
        msg = std::string(m->get_string());
      }
    }
    return absl::AbortedError(absl::StrCat("rpc ", method, ": ", msg));
  }
  const json::value* result = o.if_contains("result");
  if (result == nullptr) return absl::UnavailableError(absl::StrCat("rpc ", method, ": no result"));
  return *result;
}

absl::StatusOr<uint64_t> EthRpc::ChainId() const {
  absl::StatusOr<json::value> r = Call("eth_chainId", {});
  if (!r.ok()) return r.status();
  if (!r->is_string()) return absl::UnavailableError("eth_chainId: not a string");
  std::string hex(r->get_string());
  return std::stoull(std::string(Strip0x(hex)), nullptr, 16);
}

absl::StatusOr<std::string> EthRpc::EthCall(absl::string_view to, absl::string_view data_hex) const {
  json::object call;
  call["to"] = absl::StrCat("0x", Strip0x(to));
  call["data"] = absl::StrCat("0x", Strip0x(data_hex));
  absl::StatusOr<json::value> r = Call("eth_call", {call, "latest"});
  if (!r.ok()) return r.status();
  if (!r->is_string()) return absl::UnavailableError("eth_call: result is not a string");
  std::string hex(r->get_string());
  return absl::AsciiStrToLower(Strip0x(hex));
}

absl::StatusOr<bool> EthRpc::CallBool(absl::string_view to, absl::string_view selector, absl::string_view arg) const {
  absl::StatusOr<std::string> out = EthCall(to, absl::StrCat(selector, Word(Strip0x(arg))));
  if (!out.ok()) return out.status();
  if (out->size() != 64) {
    return absl::FailedPreconditionError(absl::StrCat("eth_call 0x", selector, " on 0x", Strip0x(to), " returned ",
                                                      out->size() / 2,
                                                      " bytes, expected a bool word (no contract there?)"));
  }
  return (*out)[63] == '1' && out->find_first_not_of('0') == 63;
}

absl::StatusOr<std::string> EthRpc::CallOwner(absl::string_view to) const {
  absl::StatusOr<std::string> out = EthCall(to, kSelOwner);
  if (!out.ok()) return out.status();
  if (out->size() != 64) {
    return absl::FailedPreconditionError(
        absl::StrCat("owner() on 0x", Strip0x(to), " returned no address (no contract there?)"));
  }
  return out->substr(24);
}

absl::StatusOr<std::optional<json::object>> EthRpc::GetReceipt(absl::string_view tx_hash) const {
  absl::StatusOr<json::value> r = Call("eth_getTransactionReceipt", {absl::StrCat("0x", Strip0x(tx_hash))});
  if (!r.ok()) return r.status();
  if (r->is_null()) return std::optional<json::object>();
  if (!r->is_object()) return absl::UnavailableError("eth_getTransactionReceipt: not an object");
  return std::optional<json::object>(r->get_object());
}

absl::StatusOr<json::array> EthRpc::GetLogs(json::object filter) const {
  absl::StatusOr<json::value> r = Call("eth_getLogs", {filter});
  if (!r.ok()) return r.status();
  if (!r->is_array()) return absl::UnavailableError("eth_getLogs: not an array");
  return r->get_array();
}

}  // namespace cloudsim
