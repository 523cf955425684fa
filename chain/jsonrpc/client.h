// The production Ethereum JSON-RPC client: several endpoints per chain with failover, retries
// with exponential backoff and jitter for reads, batch requests, typed methods in chain's
// strong types. Thread-safe; share one Client per chain.
//
//   ClientOptions o;
//   o.endpoints = {"https://mainnet.base.org", "https://base.llamarpc.com"};
//   o.expected_chain_id = 8453;
//   absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(o);
//   absl::StatusOr<Wei> b = (*c)->GetBalance(addr);
//
// Errors: see errors.h for the mapping of JSON-RPC errors and transport failures to status
// codes; every such status keeps the JSON-RPC code/message (GetRpcError) or the transport
// detail (GetTransportDetail) as a payload.
//
// Retries: a read (every method except eth_sendRawTransaction) is retried on a retryable
// failure (errors.h IsRetryable) up to RetryPolicy::max_attempts, moving to the next endpoint
// each time. eth_sendRawTransaction is moved to another endpoint only when the request
// certainly never left (connect/TLS failure); once it may have reached a node, the UNAVAILABLE
// status is returned as is (TransportDetail::maybe_sent) and the caller decides, by the
// transaction hash, whether to send the same bytes again.
#ifndef ONCHAIN_KMS_CHAIN_JSONRPC_CLIENT_H_
#define ONCHAIN_KMS_CHAIN_JSONRPC_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/jsonrpc/cancel.h"
#include "chain/jsonrpc/types.h"
#include "chain/u256.h"
#include "platform/http/client.h"

namespace chain::jsonrpc {

// Each endpoint's HTTP(S) client (//platform/http) with JSON-RPC defaults, plus what this
// client adds to every request.
struct TransportOptions : platform::http::ClientOptions {
  TransportOptions();
  // Extra request headers, e.g. {"Authorization", "Bearer ..."}. Never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string user_agent = "onchain-kms-jsonrpc/1";
};

struct RetryPolicy {
  int max_attempts = 4;  // total tries of a read, across endpoints
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  double jitter = 0.25;  // each sleep is backoff * (1 ± jitter), uniformly
};

// One failed attempt of a call that is about to be tried again, for metrics. `failover`: the
// next attempt goes to another endpoint than the one that failed.
struct RetryEvent {
  std::string method;
  absl::Status error;
  bool failover = false;
};

struct ClientOptions {
  // Tried in order of preference; at least one.
  std::vector<std::string> endpoints;
  // When set, every endpoint is checked (eth_chainId) before its first use and skipped, with
  // FAILED_PRECONDITION, if it serves another chain: a failover must never cross chains.
  std::optional<uint64_t> expected_chain_id;
  TransportOptions transport;
  RetryPolicy retry;
  // After a transport failure an endpoint is tried last for this long.
  absl::Duration endpoint_cooldown = absl::Seconds(10);
  // Called on the calling thread before each retry (Call and Batch); must be thread-safe.
  std::function<void(const RetryEvent&)> on_retry;
};

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- raw ----
  // One call. `idempotent` = false for eth_sendRawTransaction-like calls (see the header).
  absl::StatusOr<boost::json::value> Call(absl::string_view method, boost::json::array params,
                                          const CallOptions& opts = {}, bool idempotent = true);

  struct BatchCall {
    std::string method;
    boost::json::array params;
  };
  // One HTTP request carrying all calls (reads only). The outer status is the transport's;
  // each inner one is that call's result or JSON-RPC error, in request order.
  absl::StatusOr<std::vector<absl::StatusOr<boost::json::value>>> Batch(const std::vector<BatchCall>& calls,
                                                                        const CallOptions& opts = {});
  // Reads sent together in one batch, each answered as Call would answer it alone: an item whose
  // answer is retryable (errors.h IsRetryable) is repeated through Call, and so is every item
  // when the node refuses the batch itself (some providers do not take batches; after the first
  // refusal the items go one by one). A batch that failed on the transport after its retries
  // gives that failure to every item, as the first single call would have.
  std::vector<absl::StatusOr<boost::json::value>> CallEach(const std::vector<BatchCall>& calls,
                                                           const CallOptions& opts = {});

  // The requests of the typed reads below, for Batch and CallEach.
  static BatchCall ChainIdCall();
  static BatchCall GetCodeCall(const Address& account, const BlockId& block = BlockId::Latest());
  static BatchCall GetBalanceCall(const Address& account, const BlockId& block = BlockId::Latest());
  static BatchCall EstimateGasCall(const CallRequest& request);
  static BatchCall FeeHistoryCall(uint64_t block_count, const BlockId& newest,
                                  const std::vector<double>& reward_percentiles);
  static BatchCall MaxPriorityFeePerGasCall();

  // ---- typed ----
  absl::StatusOr<uint64_t> ChainId(const CallOptions& opts = {});
  absl::StatusOr<uint64_t> BlockNumber(const CallOptions& opts = {});
  absl::StatusOr<uint64_t> GetTransactionCount(const Address& account, const BlockId& block = BlockId::Latest(),
                                               const CallOptions& opts = {});
  absl::StatusOr<Wei> GetBalance(const Address& account, const BlockId& block = BlockId::Latest(),
                                 const CallOptions& opts = {});
  absl::StatusOr<Bytes> GetCode(const Address& account, const BlockId& block = BlockId::Latest(),
                                const CallOptions& opts = {});
  absl::StatusOr<uint64_t> EstimateGas(const CallRequest& request, const CallOptions& opts = {});
  absl::StatusOr<FeeHistory> GetFeeHistory(uint64_t block_count, const BlockId& newest,
                                           const std::vector<double>& reward_percentiles, const CallOptions& opts = {});
  absl::StatusOr<U256> MaxPriorityFeePerGas(const CallOptions& opts = {});
  absl::StatusOr<Bytes> EthCall(const CallRequest& request, const BlockId& block = BlockId::Latest(),
                                const CallOptions& opts = {});
  // Returns the transaction hash. "already known" / "transaction already imported" for these
  // very bytes is success (the node holds them). Other errors per errors.h.
  absl::StatusOr<Hash32> SendRawTransaction(ByteView raw, const CallOptions& opts = {});
  // nullopt: no receipt (pending, unknown, or removed by a reorg).
  absl::StatusOr<std::optional<Receipt>> GetTransactionReceipt(const Hash32& hash, const CallOptions& opts = {});
  // nullopt: the node does not know the transaction.
  absl::StatusOr<std::optional<TransactionInfo>> GetTransactionByHash(const Hash32& hash, const CallOptions& opts = {});
  absl::StatusOr<std::optional<BlockHeader>> GetBlockHeader(const BlockId& block, const CallOptions& opts = {});
  absl::StatusOr<std::vector<Log>> GetLogs(const LogFilter& filter, const CallOptions& opts = {});

  // Endpoint health, for logs and tests.
  struct EndpointState {
    std::string redacted_url;
    uint64_t failures = 0;  // transport failures so far
    bool cooling_down = false;
    bool wrong_chain = false;
    platform::http::Client::Stats transport;
  };
  std::vector<EndpointState> endpoint_states() const;

 private:
  struct Endpoint;
  explicit Client(ClientOptions options, std::vector<std::unique_ptr<Endpoint>> endpoints);

  // Endpoint indices in the order to try now (healthy first, preference order).
  std::vector<size_t> Order() const;
  void MarkFailure(size_t index);
  void MarkSuccess(size_t index);
  // options_.on_retry for a failed attempt on endpoint `index` (after MarkFailure).
  void NotifyRetry(size_t index, absl::string_view method, const absl::Status& error) const;
  // Verifies the endpoint's chain id once (when expected_chain_id is set).
  absl::Status EnsureChain(size_t index, const CallOptions& opts);
  static absl::StatusOr<std::unique_ptr<Endpoint>> OpenEndpoint(absl::string_view url, const TransportOptions& options);
  // One HTTP POST to one endpoint; transport failures carry a TransportDetail.
  absl::StatusOr<platform::http::Response> Post(const Endpoint& e, std::string body, const CallOptions& opts,
                                                bool idempotent);
  // One HTTP exchange with one endpoint; parses the JSON body.
  absl::StatusOr<boost::json::value> PostJson(size_t index, const boost::json::value& request, absl::string_view what,
                                              const CallOptions& opts, bool idempotent);
  absl::StatusOr<boost::json::value> CallOn(size_t index, absl::string_view method, const boost::json::array& params,
                                            const CallOptions& opts, bool idempotent);
  absl::Duration Backoff(int attempt);

  const ClientOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> batches_refused_{false};  // CallEach goes one by one
  mutable absl::Mutex mu_;
  uint64_t rng_state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chain::jsonrpc

#endif  // ONCHAIN_KMS_CHAIN_JSONRPC_CLIENT_H_
