#include "chain/jsonrpc/client.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/jsonrpc/errors.h"
#include "chain/jsonrpc/json_codec.h"
#include "chain/keccak.h"
#include "platform/http/url.h"

namespace chain::jsonrpc {
namespace {

namespace json = boost::json;

json::string Str(const std::string& s) { return json::string(s); }

// A short, printable excerpt of a non-JSON body for error messages.
std::string Excerpt(absl::string_view body) {
  std::string out;
  for (char c : body.substr(0, 120)) out += absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '.';
  if (body.size() > 120) out += "...";
  return out;
}

// A copy of `s` with another message and the same payloads.
absl::Status WithMessage(const absl::Status& s, absl::string_view message) {
  absl::Status out(s.code(), message);
  s.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) { out.SetPayload(type_url, payload); });
  return out;
}

bool LooksLikeRpcResponse(const json::value& v) {
  if (v.is_array()) return true;
  if (!v.is_object()) return false;
  const json::object& o = v.as_object();
  return o.contains("result") || o.contains("error");
}

}  // namespace

TransportOptions::TransportOptions() {
  connect_timeout = absl::Seconds(5);
  idle_timeout = absl::Seconds(20);
  max_idle_connections = 64;  // see platform::http::ClientOptions
  max_response_bytes = size_t{32} << 20;
}

// One URL of ClientOptions::endpoints: its HTTP client and what every POST to it carries.
struct Client::Endpoint {
  std::unique_ptr<platform::http::Client> http;
  std::string target;         // path + query: providers put API keys there
  std::string authorization;  // "Basic ..." from the URL's user info, or ""
  std::string redacted_url;   // scheme://host:port, safe to log
  // Guarded by Client::mu_.
  uint64_t failures = 0;
  absl::Time cooldown_until = absl::InfinitePast();
  bool chain_verified = false;
  bool wrong_chain = false;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("client: no endpoints");
  if (options.retry.max_attempts < 1) return absl::InvalidArgumentError("client: retry.max_attempts < 1");
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  for (size_t i = 0; i < options.endpoints.size(); ++i) {
    absl::StatusOr<std::unique_ptr<Endpoint>> e = OpenEndpoint(options.endpoints[i], options.transport);
    if (!e.ok()) {
      return absl::Status(e.status().code(), absl::StrCat("endpoints[", i, "]: ", e.status().message()));
    }
    endpoints.push_back(*std::move(e));
  }
  return std::unique_ptr<Client>(new Client(std::move(options), std::move(endpoints)));
}

absl::StatusOr<std::unique_ptr<Client::Endpoint>> Client::OpenEndpoint(absl::string_view url,
                                                                       const TransportOptions& options) {
  absl::StatusOr<platform::http::Url> parsed = platform::http::ParseUrl(url);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("endpoint url: ", parsed.status().message()));
  auto e = std::make_unique<Endpoint>();
  e->target = parsed->Target();
  if (parsed->has_userinfo) e->authorization = "Basic " + absl::Base64Escape(parsed->userinfo);
  e->redacted_url = parsed->Origin();
  absl::StatusOr<std::unique_ptr<platform::http::Client>> http =
      platform::http::Client::Create(*std::move(parsed), options);
  if (!http.ok()) return http.status();
  e->http = *std::move(http);
  return e;
}

Client::Client(ClientOptions options, std::vector<std::unique_ptr<Endpoint>> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {
  rng_state_ =
      static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^ reinterpret_cast<uintptr_t>(this) ^ 0x9e3779b97f4a7c15ULL;
  if (rng_state_ == 0) rng_state_ = 1;
}

Client::~Client() = default;

std::vector<size_t> Client::Order() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  std::vector<size_t> healthy, cooling;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& e = *endpoints_[i];
    if (e.wrong_chain) continue;
    (e.cooldown_until > now ? cooling : healthy).push_back(i);
  }
  // Among cooling endpoints, the one that recovers first goes first.
  std::stable_sort(cooling.begin(), cooling.end(),
                   [&](size_t a, size_t b) { return endpoints_[a]->cooldown_until < endpoints_[b]->cooldown_until; });
  healthy.insert(healthy.end(), cooling.begin(), cooling.end());
  return healthy;
}

void Client::MarkFailure(size_t index) {
  absl::MutexLock lock(&mu_);
  Endpoint& e = *endpoints_[index];
  ++e.failures;
  e.cooldown_until = absl::Now() + options_.endpoint_cooldown;
}

void Client::MarkSuccess(size_t index) {
  absl::MutexLock lock(&mu_);
  endpoints_[index]->cooldown_until = absl::InfinitePast();
}

void Client::NotifyRetry(size_t index, absl::string_view method, const absl::Status& error) const {
  if (!options_.on_retry) return;
  const std::vector<size_t> next = Order();
  options_.on_retry({.method = std::string(method), .error = error, .failover = !next.empty() && next[0] != index});
}

absl::Duration Client::Backoff(int attempt) {
  const RetryPolicy& r = options_.retry;
  double base = absl::ToDoubleSeconds(r.initial_backoff) * std::pow(r.multiplier, attempt);
  base = std::min(base, absl::ToDoubleSeconds(r.max_backoff));
  double u;
  {
    absl::MutexLock lock(&mu_);
    // xorshift64*: jitter needs spread, not cryptographic quality.
    rng_state_ ^= rng_state_ >> 12;
    rng_state_ ^= rng_state_ << 25;
    rng_state_ ^= rng_state_ >> 27;
    u = static_cast<double>((rng_state_ * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
  }
  return absl::Seconds(base * (1.0 + r.jitter * (2.0 * u - 1.0)));
}

absl::StatusOr<platform::http::Response> Client::Post(const Endpoint& e, std::string body, const CallOptions& opts,
                                                      bool idempotent) {
  platform::http::Request req{.method = "POST", .target = e.target, .body = std::move(body), .idempotent = idempotent};
  req.headers = {{"User-Agent", options_.transport.user_agent},
                 {"Content-Type", "application/json"},
                 {"Accept", "application/json"}};
  if (!e.authorization.empty()) req.headers.emplace_back("Authorization", e.authorization);
  for (const auto& h : options_.transport.headers) req.headers.push_back(h);
  platform::http::SendInfo info;
  absl::StatusOr<platform::http::Response> res = e.http->Send(req, opts.deadline, &info);
  if (res.ok()) return res;
  return TransportError(absl::StatusCode::kUnavailable, res.status().message(),
                        {.maybe_sent = info.write_started, .endpoint = e.redacted_url});
}

absl::StatusOr<json::value> Client::PostJson(size_t index, const json::value& request, absl::string_view what,
                                             const CallOptions& opts, bool idempotent) {
  const Endpoint& e = *endpoints_[index];
  absl::StatusOr<platform::http::Response> res = Post(e, json::serialize(request), opts, idempotent);
  if (!res.ok()) return res.status();
  const TransportDetail detail{.maybe_sent = true, .endpoint = e.redacted_url};
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (!ec && LooksLikeRpcResponse(v)) return v;  // JSON-RPC answers count whatever the HTTP status
  const std::string text =
      absl::StrCat(e.redacted_url, ": ", what, ": http ", res->status,
                   ec ? ", body is not JSON: " : ", not a JSON-RPC response: ", Excerpt(res->body));
  if (res->status == 429) return TransportError(absl::StatusCode::kResourceExhausted, text, detail);
  if (res->status == 401 || res->status == 403) {
    return TransportError(absl::StatusCode::kPermissionDenied, text, detail);
  }
  return TransportError(absl::StatusCode::kUnavailable, text, detail);
}

absl::StatusOr<json::value> Client::CallOn(size_t index, absl::string_view method, const json::array& params,
                                           const CallOptions& opts, bool idempotent) {
  const uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  json::object request;
  request["jsonrpc"] = "2.0";
  request["id"] = id;
  request["method"] = json::string_view(method.data(), method.size());
  request["params"] = params;
  absl::StatusOr<json::value> v = PostJson(index, request, method, opts, idempotent);
  if (!v.ok()) return v.status();
  const std::string& where = endpoints_[index]->redacted_url;
  if (!v->is_object()) {
    return TransportError(absl::StatusCode::kUnavailable,
                          absl::StrCat(where, ": ", method, ": response is not an object"),
                          {.maybe_sent = true, .endpoint = where});
  }
  const json::object& o = v->as_object();
  if (const json::value* rid = o.if_contains("id"); rid != nullptr && !rid->is_null()) {
    const bool match = (rid->is_uint64() && rid->as_uint64() == id) ||
                       (rid->is_int64() && rid->as_int64() >= 0 && static_cast<uint64_t>(rid->as_int64()) == id);
    if (!match) {
      return TransportError(absl::StatusCode::kUnavailable,
                            absl::StrCat(where, ": ", method, ": response id does not match the request"),
                            {.maybe_sent = true, .endpoint = where});
    }
  }
  return ResultOrError(o, method);
}

absl::Status Client::EnsureChain(size_t index, const CallOptions& opts) {
  if (!options_.expected_chain_id.has_value()) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    if (endpoints_[index]->chain_verified) return absl::OkStatus();
  }
  absl::StatusOr<json::value> v = CallOn(index, "eth_chainId", json::array{}, opts, true);
  if (!v.ok()) return v.status();
  absl::StatusOr<uint64_t> id = ParseUint64(*v, "eth_chainId");
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&mu_);
  if (*id != *options_.expected_chain_id) {
    endpoints_[index]->wrong_chain = true;
    return absl::FailedPreconditionError(absl::StrCat(endpoints_[index]->redacted_url, " serves chain ", *id,
                                                      ", want chain ", *options_.expected_chain_id,
                                                      "; endpoint disabled"));
  }
  endpoints_[index]->chain_verified = true;
  return absl::OkStatus();
}

absl::StatusOr<json::value> Client::Call(absl::string_view method, json::array params, const CallOptions& opts,
                                         bool idempotent) {
  absl::Status last;
  absl::Status wrong_chain;
  auto stopped = [&](const absl::Status& s) {
    if (last.ok()) return s;
    return absl::Status(s.code(), absl::StrCat(s.message(), "; last error: ", last.message()));
  };
  int attempt = 0;
  size_t writes_tried = 0;
  while (true) {
    if (absl::Status s = opts.Check(method); !s.ok()) return stopped(s);
    const std::vector<size_t> order = Order();
    if (order.empty()) {
      if (!wrong_chain.ok()) return wrong_chain;
      return last.ok() ? absl::FailedPreconditionError(absl::StrCat(method, ": no usable endpoint")) : last;
    }
    const size_t index = order[0];
    absl::StatusOr<json::value> r = [&]() -> absl::StatusOr<json::value> {
      if (absl::Status chain = EnsureChain(index, opts); !chain.ok()) return chain;
      return CallOn(index, method, params, opts, idempotent);
    }();
    if (r.ok()) {
      MarkSuccess(index);
      return r;
    }
    {
      absl::MutexLock lock(&mu_);
      if (endpoints_[index]->wrong_chain) {
        wrong_chain = r.status();
        continue;  // that endpoint is excluded from now on
      }
    }
    last = r.status();
    if (!IsRetryable(last)) return last;
    MarkFailure(index);
    if (!idempotent) {
      // A write moves on only if it certainly never reached the node.
      std::optional<TransportDetail> d = GetTransportDetail(last);
      if (!d.has_value() || d->maybe_sent || ++writes_tried >= endpoints_.size()) return last;
      NotifyRetry(index, method, last);
      continue;
    }
    if (++attempt >= options_.retry.max_attempts) {
      return WithMessage(last, absl::StrCat(last.message(), " (after ", attempt, " attempts)"));
    }
    NotifyRetry(index, method, last);
    // Fail over at once while a healthy endpoint remains; back off before trying a cooling one.
    const std::vector<size_t> next = Order();
    bool healthy_left = false;
    {
      absl::MutexLock lock(&mu_);
      healthy_left = !next.empty() && endpoints_[next[0]]->cooldown_until <= absl::Now();
    }
    if (!healthy_left && !opts.Sleep(Backoff(attempt - 1))) {
      absl::Status s = opts.Check(method);
      return stopped(s.ok() ? absl::DeadlineExceededError(absl::StrCat(method, ": deadline exceeded")) : s);
    }
  }
}

absl::StatusOr<std::vector<absl::StatusOr<json::value>>> Client::Batch(const std::vector<BatchCall>& calls,
                                                                       const CallOptions& opts) {
  std::vector<absl::StatusOr<json::value>> out;
  if (calls.empty()) return out;
  absl::Status last = absl::UnavailableError("batch: no endpoint tried");
  for (int attempt = 0; attempt < options_.retry.max_attempts; ++attempt) {
    if (absl::Status s = opts.Check("batch"); !s.ok()) return s;
    const std::vector<size_t> order = Order();
    if (order.empty()) return last;
    const size_t index = order[0];
    if (absl::Status chain = EnsureChain(index, opts); !chain.ok()) {
      last = chain;
      bool wrong = false;
      {
        absl::MutexLock lock(&mu_);
        wrong = endpoints_[index]->wrong_chain;
      }
      if (wrong) {
        --attempt;  // excluded from now on; does not count as a try
        continue;
      }
      if (!IsRetryable(chain)) return chain;
      MarkFailure(index);
      if (attempt + 1 < options_.retry.max_attempts) NotifyRetry(index, "batch", chain);
      continue;
    }
    const uint64_t first_id = next_id_.fetch_add(calls.size(), std::memory_order_relaxed);
    json::array request;
    for (size_t i = 0; i < calls.size(); ++i) {
      json::object o;
      o["jsonrpc"] = "2.0";
      o["id"] = first_id + i;
      o["method"] = calls[i].method;
      o["params"] = calls[i].params;
      request.push_back(std::move(o));
    }
    absl::StatusOr<json::value> v = PostJson(index, request, "batch", opts, true);
    if (v.ok() && v->is_object()) {
      // Some servers answer a whole batch with one error object (e.g. batches not supported).
      absl::StatusOr<json::value> r = ResultOrError(v->as_object(), "batch");
      v = r.ok() ? absl::InternalError("batch: single result for a batch request") : r.status();
    }
    if (!v.ok()) {
      last = v.status();
      if (!IsRetryable(last)) return last;
      MarkFailure(index);
      if (attempt + 1 < options_.retry.max_attempts) NotifyRetry(index, "batch", last);
      if (attempt + 1 < options_.retry.max_attempts && !opts.Sleep(Backoff(attempt))) return last;
      continue;
    }
    MarkSuccess(index);
    absl::flat_hash_map<uint64_t, const json::object*> by_id;
    for (const json::value& item : v->as_array()) {
      if (!item.is_object()) continue;
      const json::value* id = item.as_object().if_contains("id");
      if (id != nullptr && id->is_uint64()) by_id[id->as_uint64()] = &item.as_object();
      if (id != nullptr && id->is_int64() && id->as_int64() >= 0) {
        by_id[static_cast<uint64_t>(id->as_int64())] = &item.as_object();
      }
    }
    for (size_t i = 0; i < calls.size(); ++i) {
      auto it = by_id.find(first_id + i);
      if (it == by_id.end()) {
        out.push_back(absl::InternalError(absl::StrCat(calls[i].method, ": missing from the batch response")));
      } else {
        out.push_back(ResultOrError(*it->second, calls[i].method));
      }
    }
    return out;
  }
  return WithMessage(last, absl::StrCat(last.message(), " (after ", options_.retry.max_attempts, " attempts)"));
}

std::vector<absl::StatusOr<json::value>> Client::CallEach(const std::vector<BatchCall>& calls,
                                                          const CallOptions& opts) {
  std::vector<absl::StatusOr<json::value>> out;
  bool refused = false;  // the node answered the batch with an error of its own
  if (!batches_refused_.load(std::memory_order_relaxed)) {
    absl::StatusOr<std::vector<absl::StatusOr<json::value>>> batch = Batch(calls, opts);
    refused = !batch.ok() && !IsRetryable(batch.status()) && opts.Check("batch").ok();
    if (batch.ok()) {
      for (size_t i = 0; i < calls.size(); ++i) {
        absl::StatusOr<json::value>& r = (*batch)[i];
        out.push_back(IsRetryable(r.status()) ? Call(calls[i].method, calls[i].params, opts) : std::move(r));
      }
      return out;
    }
    // The transport failed after its retries: every item gets that answer, as the header says;
    // asking again one by one would spend a second retry budget on the same outage.
    if (IsRetryable(batch.status())) return std::vector<absl::StatusOr<json::value>>(calls.size(), batch.status());
  }
  // One by one, as a caller checking them in order would: after a retryable failure (the node
  // is unreachable) the rest get the same answer without asking again.
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i > 0 && !out.back().ok() && IsRetryable(out.back().status())) {
      out.push_back(out.back().status());
      continue;
    }
    out.push_back(Call(calls[i].method, calls[i].params, opts));
    // The node answers single calls but not the batch: do not offer it batches again.
    if (i == 0 && refused && out[0].ok()) batches_refused_.store(true, std::memory_order_relaxed);
  }
  return out;
}

// ---- typed ----

namespace {
template <typename T, typename F>
absl::StatusOr<T> Map(absl::StatusOr<json::value> v, F parse) {
  if (!v.ok()) return v.status();
  return parse(*v);
}
}  // namespace

Client::BatchCall Client::ChainIdCall() { return {"eth_chainId", {}}; }

Client::BatchCall Client::GetCodeCall(const Address& account, const BlockId& block) {
  return {"eth_getCode", {Str(account.Hex()), Str(block.ToParam())}};
}

Client::BatchCall Client::GetBalanceCall(const Address& account, const BlockId& block) {
  return {"eth_getBalance", {Str(account.Hex()), Str(block.ToParam())}};
}

Client::BatchCall Client::EstimateGasCall(const CallRequest& request) {
  return {"eth_estimateGas", {CallRequestToJson(request)}};
}

Client::BatchCall Client::FeeHistoryCall(uint64_t block_count, const BlockId& newest,
                                         const std::vector<double>& reward_percentiles) {
  json::array percentiles;
  for (double p : reward_percentiles) percentiles.push_back(p);
  return {"eth_feeHistory", {Str(U256(block_count).ToQuantityHex()), Str(newest.ToParam()), std::move(percentiles)}};
}

Client::BatchCall Client::MaxPriorityFeePerGasCall() { return {"eth_maxPriorityFeePerGas", {}}; }

absl::StatusOr<uint64_t> Client::ChainId(const CallOptions& opts) {
  BatchCall c = ChainIdCall();
  return Map<uint64_t>(Call(c.method, std::move(c.params), opts),
                       [](const json::value& v) { return ParseUint64(v, "eth_chainId"); });
}

absl::StatusOr<uint64_t> Client::BlockNumber(const CallOptions& opts) {
  return Map<uint64_t>(Call("eth_blockNumber", {}, opts),
                       [](const json::value& v) { return ParseUint64(v, "eth_blockNumber"); });
}

absl::StatusOr<uint64_t> Client::GetTransactionCount(const Address& account, const BlockId& block,
                                                     const CallOptions& opts) {
  return Map<uint64_t>(Call("eth_getTransactionCount", {Str(account.Hex()), Str(block.ToParam())}, opts),
                       [](const json::value& v) { return ParseUint64(v, "eth_getTransactionCount"); });
}

absl::StatusOr<Wei> Client::GetBalance(const Address& account, const BlockId& block, const CallOptions& opts) {
  BatchCall c = GetBalanceCall(account, block);
  return Map<Wei>(Call(c.method, std::move(c.params), opts),
                  [](const json::value& v) { return ParseU256(v, "eth_getBalance"); });
}

absl::StatusOr<Bytes> Client::GetCode(const Address& account, const BlockId& block, const CallOptions& opts) {
  BatchCall c = GetCodeCall(account, block);
  return Map<Bytes>(Call(c.method, std::move(c.params), opts),
                    [](const json::value& v) { return ParseBytes(v, "eth_getCode"); });
}

absl::StatusOr<uint64_t> Client::EstimateGas(const CallRequest& request, const CallOptions& opts) {
  BatchCall c = EstimateGasCall(request);
  return Map<uint64_t>(Call(c.method, std::move(c.params), opts),
                       [](const json::value& v) { return ParseUint64(v, "eth_estimateGas"); });
}

absl::StatusOr<FeeHistory> Client::GetFeeHistory(uint64_t block_count, const BlockId& newest,
                                                 const std::vector<double>& reward_percentiles,
                                                 const CallOptions& opts) {
  BatchCall c = FeeHistoryCall(block_count, newest, reward_percentiles);
  return Map<FeeHistory>(Call(c.method, std::move(c.params), opts),
                         [](const json::value& v) { return ParseFeeHistory(v); });
}

absl::StatusOr<U256> Client::MaxPriorityFeePerGas(const CallOptions& opts) {
  BatchCall c = MaxPriorityFeePerGasCall();
  return Map<U256>(Call(c.method, std::move(c.params), opts),
                   [](const json::value& v) { return ParseU256(v, "eth_maxPriorityFeePerGas"); });
}

absl::StatusOr<Bytes> Client::EthCall(const CallRequest& request, const BlockId& block, const CallOptions& opts) {
  return Map<Bytes>(Call("eth_call", {CallRequestToJson(request), Str(block.ToParam())}, opts),
                    [](const json::value& v) { return ParseBytes(v, "eth_call"); });
}

absl::StatusOr<Hash32> Client::SendRawTransaction(ByteView raw, const CallOptions& opts) {
  const Hash32 expected = Keccak256(raw);
  absl::StatusOr<json::value> v = Call("eth_sendRawTransaction", {Str(ToHex(raw))}, opts, /*idempotent=*/false);
  if (!v.ok()) {
    if (GetRpcErrorKind(v.status()) == RpcErrorKind::kAlreadyKnown) return expected;
    return v.status();
  }
  absl::StatusOr<Hash32> h = ParseHash(*v, "eth_sendRawTransaction");
  if (!h.ok()) return h.status();
  if (*h != expected) {
    return absl::InternalError(
        absl::StrCat("eth_sendRawTransaction: node reported hash ", h->Hex(), ", the bytes hash to ", expected.Hex()));
  }
  return h;
}

absl::StatusOr<std::optional<Receipt>> Client::GetTransactionReceipt(const Hash32& hash, const CallOptions& opts) {
  absl::StatusOr<json::value> v = Call("eth_getTransactionReceipt", {Str(hash.Hex())}, opts);
  if (!v.ok()) return v.status();
  if (v->is_null()) return std::optional<Receipt>();
  absl::StatusOr<Receipt> r = ParseReceipt(*v);
  if (!r.ok()) return r.status();
  if (r->transaction_hash != hash)
    return absl::InternalError("eth_getTransactionReceipt: receipt of another transaction");
  return std::optional<Receipt>(*std::move(r));
}

absl::StatusOr<std::optional<TransactionInfo>> Client::GetTransactionByHash(const Hash32& hash,
                                                                            const CallOptions& opts) {
  absl::StatusOr<json::value> v = Call("eth_getTransactionByHash", {Str(hash.Hex())}, opts);
  if (!v.ok()) return v.status();
  if (v->is_null()) return std::optional<TransactionInfo>();
  absl::StatusOr<TransactionInfo> t = ParseTransaction(*v);
  if (!t.ok()) return t.status();
  return std::optional<TransactionInfo>(*std::move(t));
}

absl::StatusOr<std::optional<BlockHeader>> Client::GetBlockHeader(const BlockId& block, const CallOptions& opts) {
  absl::StatusOr<json::value> v = Call("eth_getBlockByNumber", {Str(block.ToParam()), false}, opts);
  if (!v.ok()) return v.status();
  if (v->is_null()) return std::optional<BlockHeader>();
  absl::StatusOr<BlockHeader> b = ParseBlockHeader(*v);
  if (!b.ok()) return b.status();
  return std::optional<BlockHeader>(*std::move(b));
}

absl::StatusOr<std::vector<Log>> Client::GetLogs(const LogFilter& filter, const CallOptions& opts) {
  absl::StatusOr<json::value> v = Call("eth_getLogs", {LogFilterToJson(filter)}, opts);
  if (!v.ok()) return v.status();
  if (!v->is_array()) return absl::InternalError("eth_getLogs: want an array");
  std::vector<Log> logs;
  for (const json::value& item : v->as_array()) {
    absl::StatusOr<Log> l = ParseLog(item);
    if (!l.ok()) return l.status();
    logs.push_back(*std::move(l));
  }
  return logs;
}

std::vector<Client::EndpointState> Client::endpoint_states() const {
  absl::MutexLock lock(&mu_);
  std::vector<EndpointState> out;
  const absl::Time now = absl::Now();
  for (const auto& e : endpoints_) {
    out.push_back({e->redacted_url, e->failures, e->cooldown_until > now, e->wrong_chain, e->http->stats()});
  }
  return out;
}

}  // namespace chain::jsonrpc
