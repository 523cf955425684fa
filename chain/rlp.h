// Recursive Length Prefix: encoding and strict decoding.
//
// Decoders consume a `ByteView&` (advance it past what they read; after an error its position
// is unspecified), check every length against what is left before reading, and reject every
// non-canonical form with InvalidArgument: single bytes < 0x80 wrapped in a string header, long
// form for payloads < 56 bytes, leading zeros in long-form lengths and in integers, truncated
// input, list/string mismatch.
#ifndef ONCHAIN_KMS_CHAIN_RLP_H_
#define ONCHAIN_KMS_CHAIN_RLP_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/u256.h"

namespace chain::rlp {

// ---- Encoding (append to `out`) ----

void AppendHeader(Bytes& out, bool list, size_t payload_length);
void AppendBytes(Bytes& out, ByteView bytes);  // an RLP "string"
void AppendUint(Bytes& out, uint64_t value);   // minimal big-endian, 0 -> 0x80
void AppendUint(Bytes& out, const U256& value);

Bytes EncodeBytes(ByteView bytes);
Bytes EncodeUint(uint64_t value);
Bytes EncodeUint(const U256& value);
// A list of already-encoded items.
Bytes EncodeList(absl::Span<const Bytes> encoded_items);
// Prefixes a list header to a concatenation of encoded items.
Bytes WrapList(ByteView payload);

// Builds one list: fields are added in order, Finish() prepends the header.
//   Bytes rlp = ListBuilder().AddUint(nonce).AddAddress(to).AddBytes(data).Finish();
class ListBuilder {
 public:
  ListBuilder() = default;
  // Room for `payload_bytes` of items without reallocating (a hint; more still fits).
  explicit ListBuilder(size_t payload_bytes) { payload_.reserve(payload_bytes); }

  ListBuilder& AddBytes(ByteView bytes);
  ListBuilder& AddUint(uint64_t value);
  ListBuilder& AddUint(const U256& value);
  ListBuilder& AddAddress(const Address& address);
  // Empty string for nullopt (contract creation in a transaction's `to`).
  ListBuilder& AddOptionalAddress(const std::optional<Address>& address);
  ListBuilder& AddHash(const Hash32& hash);
  // An item that is already RLP (e.g. a nested list from another builder's Finish()).
  ListBuilder& AddEncoded(ByteView encoded_item);
  ListBuilder& AddList(const ListBuilder& list);

  Bytes Finish() const;
  const Bytes& payload() const { return payload_; }

 private:
  Bytes payload_;
};

// ---- Strict decoding ----

struct Header {
  bool list = false;
  uint64_t payload_length = 0;
};

// Reads one header and advances past it (not past the payload). Guarantees
// payload_length <= from.size() afterwards. For a single byte < 0x80 (its own encoding) returns
// {list=false, payload_length=1} and does not advance.
absl::StatusOr<Header> DecodeHeader(ByteView& from);

// A string item; the view points into the input.
absl::StatusOr<ByteView> DecodeBytesView(ByteView& from);
absl::StatusOr<Bytes> DecodeBytes(ByteView& from);
// Canonical integers: no leading zero bytes, zero is the empty string (0x80).
absl::StatusOr<uint64_t> DecodeUint64(ByteView& from);
absl::StatusOr<U256> DecodeU256(ByteView& from);
// Exactly 20 bytes.
absl::StatusOr<Address> DecodeAddress(ByteView& from);
// Empty string -> nullopt, else exactly 20 bytes.
absl::StatusOr<std::optional<Address>> DecodeOptionalAddress(ByteView& from);
// Exactly 32 bytes.
absl::StatusOr<Hash32> DecodeHash32(ByteView& from);
// A list item; returns its payload (the encoded items) and advances `from` past the list.
absl::StatusOr<ByteView> DecodeList(ByteView& from);

// Error unless `rest` is empty: "rlp: N trailing bytes after <what>".
absl::Status ExpectEnd(ByteView rest, absl::string_view what);

// Prefixes a decoding error with the field it came from: "max_fee_per_gas: rlp: ...".
absl::Status InField(absl::string_view field, const absl::Status& status);

// Generic tree, for tests, tools and validating arbitrary input.
struct Item {
  bool list = false;
  Bytes bytes;              // when !list
  std::vector<Item> items;  // when list
  friend bool operator==(const Item& a, const Item& b) {
    return a.list == b.list && a.bytes == b.bytes && a.items == b.items;
  }
};
inline constexpr int kMaxDepth = 1024;
// Decodes exactly one item (recursively, nesting at most kMaxDepth) and advances past it.
absl::StatusOr<Item> DecodeItem(ByteView& from);
// Decodes `encoded` as exactly one item with nothing after it.
absl::StatusOr<Item> DecodeWhole(ByteView encoded);
Bytes Encode(const Item& item);

}  // namespace chain::rlp

#endif  // ONCHAIN_KMS_CHAIN_RLP_H_
