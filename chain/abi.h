// Solidity ABI: the types the dstack contracts use (address, bool, bytes32, uint256, bytes,
// string, tuples and dynamic arrays), function selectors, and revert-data decoding.
//
// Decoding is bounds-checked: every offset and length is compared with the data before it is
// followed, and the total decoded size may not exceed the input (so overlapping offsets cannot
// amplify a small input into a huge allocation).
#ifndef ONCHAIN_KMS_CHAIN_ABI_H_
#define ONCHAIN_KMS_CHAIN_ABI_H_

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/u256.h"

namespace chain::abi {

// First 4 bytes of keccak256 of a canonical signature.
using Selector = std::array<uint8_t, 4>;
Selector FunctionSelector(absl::string_view canonical_signature);
// topic0 of an event: keccak256 of its canonical signature.
Hash32 EventTopic(absl::string_view canonical_signature);
// "0x118cdaa7".
std::string SelectorHex(const Selector& selector);

// ---- Types ----

struct Type {
  enum class Kind { kAddress, kBool, kBytes32, kUint256, kBytes, kString, kTuple, kArray };
  Kind kind = Kind::kUint256;
  std::vector<Type> components;  // tuple members, or the single element type of an array

  static Type Address() { return {Kind::kAddress, {}}; }
  static Type Bool() { return {Kind::kBool, {}}; }
  static Type Bytes32() { return {Kind::kBytes32, {}}; }
  static Type Uint256() { return {Kind::kUint256, {}}; }
  static Type DynamicBytes() { return {Kind::kBytes, {}}; }
  static Type String() { return {Kind::kString, {}}; }
  static Type Tuple(std::vector<Type> members) { return {Kind::kTuple, std::move(members)}; }
  static Type Array(Type element) { return {Kind::kArray, {std::move(element)}}; }

  // Canonical type string: "address", "(address,bool)", "string[]".
  static absl::StatusOr<Type> Parse(absl::string_view text);
  std::string Canonical() const;
  bool IsDynamic() const;
  // Bytes this type occupies in the head of an enclosing tuple.
  size_t HeadSize() const;
};

// A parsed "name(type,...)" signature.
struct Signature {
  std::string name;
  std::vector<Type> inputs;
  std::string Canonical() const;  // name + "(" + types + ")"
};
absl::StatusOr<Signature> ParseSignature(absl::string_view text);

// ---- Values ----

struct Value;
struct TupleValue {
  std::vector<Value> items;
};
struct ArrayValue {
  std::vector<Value> items;
};

// One ABI value. Built with the named factories (no implicit conversions, so a string literal
// can never silently become a bool).
struct Value {
  std::variant<chain::Address, bool, Hash32, U256, Bytes, std::string, TupleValue, ArrayValue> v;

  static Value FromAddress(const chain::Address& a) { return Value{a}; }
  static Value FromBool(bool b) { return Value{b}; }
  static Value FromBytes32(const Hash32& h) { return Value{h}; }
  static Value FromUint(const U256& u) { return Value{u}; }
  static Value FromUint(uint64_t u) { return Value{U256(u)}; }
  static Value FromBytes(Bytes b) { return Value{std::move(b)}; }
  static Value FromString(std::string s) { return Value{std::move(s)}; }
  static Value FromTuple(std::vector<Value> items) { return Value{TupleValue{std::move(items)}}; }
  static Value FromArray(std::vector<Value> items) { return Value{ArrayValue{std::move(items)}}; }

  bool IsDynamic() const;
  // nullptr when the value holds another type.
  const chain::Address* AsAddress() const { return std::get_if<chain::Address>(&v); }
  const bool* AsBool() const { return std::get_if<bool>(&v); }
  const Hash32* AsBytes32() const { return std::get_if<Hash32>(&v); }
  const U256* AsUint() const { return std::get_if<U256>(&v); }
  const Bytes* AsBytes() const { return std::get_if<Bytes>(&v); }
  const std::string* AsString() const { return std::get_if<std::string>(&v); }
  const TupleValue* AsTuple() const { return std::get_if<TupleValue>(&v); }
  const ArrayValue* AsArray() const { return std::get_if<ArrayValue>(&v); }
};

// Human-readable: checksummed addresses, decimal integers, 0x-hex bytes, quoted and escaped
// strings (control and non-ASCII bytes as \xNN), "(a,b)" tuples, "[a,b]" arrays.
std::string FormatValue(const Value& value);

// ---- Encoding and decoding ----

// Encodes `args` as one tuple (what follows the selector in calldata).
Bytes EncodeArgs(absl::Span<const Value> args);
// selector || EncodeArgs(args).
Bytes EncodeCall(const Selector& selector, absl::Span<const Value> args);
// Computes the selector from the signature and checks args against its types.
absl::StatusOr<Bytes> EncodeCall(absl::string_view canonical_signature, absl::Span<const Value> args);
// OK if `value` fits `type`.
absl::Status CheckType(const Type& type, const Value& value);

// Decodes a tuple of `types` from `data` (calldata after the selector, return data, or revert
// arguments). Bytes after the encoded tuple are ignored, as Solidity does. Strict on values:
// an address word must have 12 zero bytes, a bool must be 0 or 1.
absl::StatusOr<std::vector<Value>> DecodeArgs(absl::Span<const Type> types, ByteView data);

// ---- Revert data ----

struct Revert {
  enum class Kind {
    kEmpty,        // no data: require() without message, or out of gas
    kErrorString,  // Error(string) 0x08c379a0
    kPanic,        // Panic(uint256) 0x4e487b71
    kCustom,       // a custom error found in the registry
    kUnknown,      // a selector that is not in the registry
    kMalformed,    // 1-3 bytes, or a known selector whose arguments do not decode
  };
  Kind kind = Kind::kEmpty;
  Selector selector{};      // valid when data has at least 4 bytes
  std::string reason;       // Error(string): the string; Panic: the code's meaning
  std::vector<Value> args;  // decoded arguments (kErrorString, kPanic, kCustom)
  std::string text;         // one human-readable line, e.g.
                            //   Error("Invalid owner address")
                            //   Panic(0x11: arithmetic underflow or overflow)
                            //   OwnableUnauthorizedAccount(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266)
                            //   custom error 0x12345678 (32 bytes)   <- N = bytes after the selector
                            //   empty revert data
};

// Custom errors known by signature.
class ErrorRegistry {
 public:
  struct Entry {
    Signature signature;
    Selector selector;
  };
  // Adds "Name(type,...)". Fails on a malformed signature or a selector clash.
  absl::Status Add(absl::string_view signature);
  const Entry* Find(const Selector& selector) const;
  size_t size() const { return entries_.size(); }

  // OpenZeppelin v5 and dstack errors the KMS and app contracts can revert with (see
  // ../shared/facts/dstack-contracts.md §3.3).
  static const ErrorRegistry& Known();

 private:
  absl::flat_hash_map<uint32_t, Entry> entries_;
};

Revert DecodeRevert(ByteView data, const ErrorRegistry& registry = ErrorRegistry::Known());
// Meaning of a Solidity panic code, e.g. 0x11 -> "arithmetic underflow or overflow".
std::string PanicMeaning(const U256& code);

}  // namespace chain::abi

#endif  // ONCHAIN_KMS_CHAIN_ABI_H_
