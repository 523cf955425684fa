// ABI-typed checks of a generic transaction's calldata: a rule's `function_signature` and
// `arguments` (policy.proto's GenericTransactionRule and ArgumentMatcher), compiled once.
//
// Only static argument types (address, bool, uintN, bytesN): with them the calldata has exactly
// one 32-byte word per argument, so its length is fixed and a word is its argument.
#ifndef ONCHAIN_KMS_SIGNER_POLICY_CALL_MATCHER_H_
#define ONCHAIN_KMS_SIGNER_POLICY_CALL_MATCHER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "chain/bytes.h"
#include "chain/u256.h"
#include "onchainkms/signer/v1/policy.pb.h"

namespace signer::policy {

class CallMatcher {
 public:
  using Selector = std::array<uint8_t, 4>;
  // Why a call does not match: the field under the rule ("function_signature",
  // "arguments[index=0]") and the reason.
  struct Mismatch {
    std::string field;
    std::string why;
  };

  // Compiles `rule.function_signature` and `rule.arguments` (nullopt when the rule has no
  // signature). InvalidArgument "policy: <field>[.sub]: why", `field` being the rule's path
  // ("generic_transaction_rules[2]").
  static absl::StatusOr<std::optional<CallMatcher>> Compile(const onchainkms::signer::v1::GenericTransactionRule& rule,
                                                            const std::string& field);

  const Selector& selector() const { return selector_; }
  const std::string& signature() const { return signature_; }
  // Every argument is pinned to listed values (an equals_any matcher): the rule names exactly
  // what it allows, e.g. the new owner of transferOwnership. True for a function without arguments.
  bool PinsEveryArgument() const;
  // Checks `data` (selector included, already known to match): exact length, canonical words,
  // the argument matchers.
  std::optional<Mismatch> Check(chain::ByteView data) const;

 private:
  struct Type {
    enum class Kind { kAddress, kBool, kUint, kFixedBytes };
    Kind kind = Kind::kUint;
    int size = 32;  // bytes used by the value: uintN -> N / 8, bytesN -> N, address 20, bool 1
    std::string name;
  };
  using Word = std::array<uint8_t, 32>;
  struct Argument {
    uint32_t index = 0;
    absl::flat_hash_set<std::string> equals_any;  // canonical words, as strings of 32 bytes
    std::optional<chain::U256> min, max;
  };

  static absl::StatusOr<Type> ParseType(absl::string_view text);
  static absl::StatusOr<Word> ParseValue(const Type& type, absl::string_view text);
  static bool Canonical(const Type& type, const Word& word);
  static std::string Format(const Type& type, const Word& word);
  absl::Status CompileArguments(const onchainkms::signer::v1::GenericTransactionRule& rule, const std::string& field);

  std::string signature_;
  Selector selector_{};
  std::vector<Type> types_;
  std::vector<Argument> arguments_;
};

}  // namespace signer::policy

#endif  // ONCHAIN_KMS_SIGNER_POLICY_CALL_MATCHER_H_
