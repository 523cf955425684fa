// Value types of the Ethereum JSON-RPC methods the service uses, in chain's strong types.
// JSON conversion lives in json_codec.h.
#ifndef ONCHAIN_KMS_CHAIN_JSONRPC_TYPES_H_
#define ONCHAIN_KMS_CHAIN_JSONRPC_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/u256.h"

namespace chain::jsonrpc {

// A block parameter: a tag or a number.
class BlockId {
 public:
  static BlockId Latest() { return BlockId("latest"); }
  static BlockId Pending() { return BlockId("pending"); }
  static BlockId Earliest() { return BlockId("earliest"); }
  static BlockId Safe() { return BlockId("safe"); }
  static BlockId Finalized() { return BlockId("finalized"); }
  static BlockId Number(uint64_t n);

  // "latest" or "0x1a".
  const std::string& ToParam() const { return text_; }
  friend bool operator==(const BlockId&, const BlockId&) = default;

 private:
  explicit BlockId(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// eth_call / eth_estimateGas argument. Unset fields are omitted from the request.
struct CallRequest {
  std::optional<Address> from;
  std::optional<Address> to;  // unset: contract creation (estimate only)
  Bytes data;
  std::optional<Wei> value;
  std::optional<uint64_t> gas;
  std::optional<U256> max_fee_per_gas;
  std::optional<U256> max_priority_fee_per_gas;
};

struct Log {
  Address address;
  std::vector<Hash32> topics;
  Bytes data;
  uint64_t block_number = 0;
  Hash32 block_hash;
  Hash32 transaction_hash;
  uint64_t transaction_index = 0;
  uint64_t log_index = 0;
  bool removed = false;  // true in a reorg notification
};

// eth_getTransactionReceipt.
struct Receipt {
  Hash32 transaction_hash;
  uint64_t transaction_index = 0;
  Hash32 block_hash;
  uint64_t block_number = 0;
  Address from;
  std::optional<Address> to;
  std::optional<Address> contract_address;
  uint64_t gas_used = 0;
  uint64_t cumulative_gas_used = 0;
  std::optional<U256> effective_gas_price;
  bool success = false;  // status == 0x1
  uint8_t type = 0;
  std::vector<Log> logs;
};

// eth_getTransactionByHash. Block fields are unset while the transaction is pending.
struct TransactionInfo {
  Hash32 hash;
  Address from;
  std::optional<Address> to;
  uint64_t nonce = 0;
  uint64_t gas = 0;
  Wei value;
  Bytes input;
  uint8_t type = 0;
  std::optional<uint64_t> chain_id;
  std::optional<U256> gas_price;
  std::optional<U256> max_fee_per_gas;
  std::optional<U256> max_priority_fee_per_gas;
  std::optional<uint64_t> block_number;
  std::optional<Hash32> block_hash;

  bool pending() const { return !block_number.has_value(); }
};

// eth_feeHistory. base_fee_per_gas has block_count + 1 entries: the last one is the base fee of
// the next block.
struct FeeHistory {
  uint64_t oldest_block = 0;
  std::vector<U256> base_fee_per_gas;
  std::vector<double> gas_used_ratio;
  std::vector<std::vector<U256>> reward;  // per block, one entry per requested percentile
};

// The parts of eth_getBlockByNumber(…, false) the service reads.
struct BlockHeader {
  uint64_t number = 0;
  Hash32 hash;
  Hash32 parent_hash;
  uint64_t timestamp = 0;
  uint64_t gas_limit = 0;
  uint64_t gas_used = 0;
  std::optional<U256> base_fee_per_gas;  // unset before London
};

// eth_getLogs filter. topics[i] unset matches anything at position i; a vector is an OR.
struct LogFilter {
  std::optional<BlockId> from_block;
  std::optional<BlockId> to_block;
  std::optional<Hash32> block_hash;  // exclusive with from/to
  std::vector<Address> addresses;
  std::vector<std::optional<std::vector<Hash32>>> topics;
};

}  // namespace chain::jsonrpc

#endif  // ONCHAIN_KMS_CHAIN_JSONRPC_TYPES_H_
