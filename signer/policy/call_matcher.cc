#include "signer/policy/call_matcher.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chain/abi.h"
#include "chain/address.h"
#include "chain/hex.h"
#include "signer/policy/policy.h"

namespace signer::policy {
namespace {

namespace v1 = onchainkms::signer::v1;

absl::Status Field(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("policy: ", field, ": ", why));
}

bool IsIdentifier(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '$'; });
}

// N of "<prefix>N" if it is a multiple of `step` in [step, max]; nullopt otherwise.
std::optional<int> SizeSuffix(absl::string_view text, absl::string_view prefix, int step, int max) {
  if (!absl::ConsumePrefix(&text, prefix) || text.empty() || text[0] == '0' ||
      !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) || text.size() > 3) {
    return std::nullopt;
  }
  int n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < step || n > max || n % step != 0) return std::nullopt;
  return n;
}

}  // namespace

absl::StatusOr<CallMatcher::Type> CallMatcher::ParseType(absl::string_view t) {
  constexpr absl::string_view kSupported = " (supported: address, bool, uint8..uint256, bytes1..bytes32)";
  if (t == "address") return Type{Type::Kind::kAddress, 20, std::string(t)};
  if (t == "bool") return Type{Type::Kind::kBool, 1, std::string(t)};
  if (std::optional<int> bits = SizeSuffix(t, "uint", 8, 256))
    return Type{Type::Kind::kUint, *bits / 8, std::string(t)};
  if (std::optional<int> n = SizeSuffix(t, "bytes", 1, 32)) return Type{Type::Kind::kFixedBytes, *n, std::string(t)};
  if (t == "uint" || t == "int") {
    return absl::InvalidArgumentError(
        absl::StrCat("write \"", t, "256\", the canonical form the selector is hashed from"));
  }
  if (t == "bytes" || t == "string" || absl::StrContains(t, "[") || absl::StartsWith(t, "(")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", t, "\" is dynamic or composite; argument matchers need static types", kSupported));
  }
  if (absl::StartsWith(t, "int")) {
    return absl::InvalidArgumentError(absl::StrCat("signed integer \"", t, "\" is not supported", kSupported));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown type \"", t, "\"", kSupported));
}

absl::StatusOr<CallMatcher::Word> CallMatcher::ParseValue(const Type& type, absl::string_view text) {
  Word w{};
  switch (type.kind) {
    case Type::Kind::kAddress: {
      absl::StatusOr<chain::Address> a = chain::Address::Parse(text);
      if (!a.ok()) return a.status();
      std::copy(a->bytes().begin(), a->bytes().end(), w.begin() + 12);
      return w;
    }
    case Type::Kind::kBool:
      if (text != "true" && text != "false") return absl::InvalidArgumentError("want true or false");
      w[31] = text == "true" ? 1 : 0;
      return w;
    case Type::Kind::kUint: {
      absl::StatusOr<chain::U256> v = ParseWei(text);
      if (!v.ok()) return v.status();
      w = v->ToBytes32();
      if (!Canonical(type, w)) return absl::InvalidArgumentError(absl::StrCat("does not fit in ", type.name));
      return w;
    }
    case Type::Kind::kFixedBytes:
      if (absl::Status s = chain::FromHexInto(text, absl::MakeSpan(w.data(), static_cast<size_t>(type.size)),
                                              chain::HexPrefix::kRequired, type.name);
          !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("want \"0x\" + ", 2 * type.size, " hex digits"));
      }
      return w;
  }
  return w;
}

bool CallMatcher::Canonical(const Type& type, const Word& w) {
  const auto zero = [](auto begin, auto end) { return std::all_of(begin, end, [](uint8_t b) { return b == 0; }); };
  switch (type.kind) {
    case Type::Kind::kBool:
      return zero(w.begin(), w.end() - 1) && w[31] <= 1;
    case Type::Kind::kFixedBytes:
      return zero(w.begin() + type.size, w.end());
    case Type::Kind::kAddress:
    case Type::Kind::kUint:
      return zero(w.begin(), w.end() - type.size);
  }
  return false;
}

std::string CallMatcher::Format(const Type& type, const Word& w) {
  if (!Canonical(type, w)) return chain::ToHex(w);
  switch (type.kind) {
    case Type::Kind::kAddress:
      return chain::Address::FromBytes(chain::ByteView(w.data() + 12, 20))->Checksummed();
    case Type::Kind::kBool:
      return w[31] == 1 ? "true" : "false";
    case Type::Kind::kUint:
      return chain::U256::FromBytes32(w).ToDecimal();
    case Type::Kind::kFixedBytes:
      return chain::ToHex(chain::ByteView(w.data(), static_cast<size_t>(type.size)));
  }
  return chain::ToHex(w);
}

absl::StatusOr<std::optional<CallMatcher>> CallMatcher::Compile(const v1::GenericTransactionRule& rule,
                                                                const std::string& field) {
  const std::string f = absl::StrCat(field, ".function_signature");
  if (rule.function_signature().empty()) {
    if (rule.arguments_size() > 0) return Field(absl::StrCat(field, ".arguments"), "needs function_signature");
    return std::nullopt;
  }
  const absl::string_view sig = rule.function_signature();
  const size_t open = sig.find('(');
  if (open == absl::string_view::npos || sig.back() != ')' || !IsIdentifier(sig.substr(0, open))) {
    return Field(f, "want \"name(type,...)\", e.g. \"transferOwnership(address)\" (no spaces or parameter names)");
  }
  CallMatcher m;
  const absl::string_view list = sig.substr(open + 1, sig.size() - open - 2);
  if (!list.empty()) {
    for (absl::string_view t : absl::StrSplit(list, ',')) {
      absl::StatusOr<Type> type = ParseType(t);
      if (!type.ok()) return Field(f, absl::StrCat("argument ", m.types_.size(), ": ", type.status().message()));
      m.types_.push_back(*std::move(type));
    }
  }
  m.signature_ = std::string(sig);
  m.selector_ = chain::abi::FunctionSelector(sig);
  if (!rule.selector().empty()) {
    CallMatcher::Selector given{};
    if (!chain::FromHexInto(rule.selector(), absl::MakeSpan(given), chain::HexPrefix::kRequired, "selector").ok() ||
        given != m.selector_) {
      return Field(absl::StrCat(field, ".selector"),
                   absl::StrCat("\"", rule.selector(), "\" is not the selector of ", sig, " (",
                                chain::abi::SelectorHex(m.selector_), "); set one of the two"));
    }
  }
  if (absl::Status s = m.CompileArguments(rule, field); !s.ok()) return s;
  return std::optional<CallMatcher>(std::move(m));
}

absl::Status CallMatcher::CompileArguments(const v1::GenericTransactionRule& rule, const std::string& field) {
  for (int i = 0; i < rule.arguments_size(); ++i) {
    const v1::ArgumentMatcher& a = rule.arguments(i);
    const std::string f = absl::StrCat(field, ".arguments[", i, "]");
    if (a.index() >= types_.size()) {
      return Field(absl::StrCat(f, ".index"), absl::StrCat(a.index(), " is past the last argument of ", signature_));
    }
    if (std::any_of(arguments_.begin(), arguments_.end(), [&](const Argument& b) { return b.index == a.index(); })) {
      return Field(absl::StrCat(f, ".index"), absl::StrCat("argument ", a.index(), " already has a matcher"));
    }
    const Type& type = types_[a.index()];
    Argument arg;
    arg.index = a.index();
    for (int j = 0; j < a.equals_any_size(); ++j) {
      absl::StatusOr<Word> w = ParseValue(type, a.equals_any(j));
      if (!w.ok())
        return Field(absl::StrCat(f, ".equals_any[", j, "]"), absl::StrCat(type.name, ": ", w.status().message()));
      arg.equals_any.insert(std::string(w->begin(), w->end()));
    }
    for (auto [text, name, out] :
         {std::make_tuple(&a.min(), "min", &arg.min), std::make_tuple(&a.max(), "max", &arg.max)}) {
      if (text->empty()) continue;
      if (type.kind != Type::Kind::kUint)
        return Field(absl::StrCat(f, ".", name), absl::StrCat("only for uintN, not ", type.name));
      absl::StatusOr<Word> w = ParseValue(type, *text);
      if (!w.ok()) return Field(absl::StrCat(f, ".", name), absl::StrCat(type.name, ": ", w.status().message()));
      *out = chain::U256::FromBytes32(*w);
    }
    if (arg.equals_any.empty() && !arg.min && !arg.max) return Field(f, "needs equals_any, min or max");
    if (arg.min && arg.max && *arg.min > *arg.max) return Field(absl::StrCat(f, ".min"), "greater than max");
    arguments_.push_back(std::move(arg));
  }
  return absl::OkStatus();
}

bool CallMatcher::PinsEveryArgument() const {
  for (uint32_t i = 0; i < types_.size(); ++i) {
    if (std::none_of(arguments_.begin(), arguments_.end(),
                     [&](const Argument& a) { return a.index == i && !a.equals_any.empty(); })) {
      return false;
    }
  }
  return true;
}

std::optional<CallMatcher::Mismatch> CallMatcher::Check(chain::ByteView data) const {
  const size_t want = 4 + 32 * types_.size();
  if (data.size() != want) {
    return Mismatch{"function_signature", absl::StrCat("calldata is ", data.size(), " bytes; ", signature_,
                                                       " takes exactly ", want, " (no trailing or missing bytes)")};
  }
  const auto word = [&](size_t i) {
    Word w;
    std::copy_n(data.begin() + 4 + 32 * i, 32, w.begin());
    return w;
  };
  for (size_t i = 0; i < types_.size(); ++i) {
    if (!Canonical(types_[i], word(i))) {
      return Mismatch{"function_signature", absl::StrCat("argument ", i, " word ", chain::ToHex(word(i)),
                                                         " is not a canonical ", types_[i].name)};
    }
  }
  for (const Argument& a : arguments_) {
    const Word w = word(a.index);
    const Type& type = types_[a.index];
    const std::string f = absl::StrCat("arguments[index=", a.index, "]");
    if (!a.equals_any.empty() && !a.equals_any.contains(std::string(w.begin(), w.end()))) {
      return Mismatch{f, absl::StrCat(Format(type, w), " is not an allowed value")};
    }
    const chain::U256 v = chain::U256::FromBytes32(w);
    if (a.min && v < *a.min)
      return Mismatch{f, absl::StrCat(v.ToDecimal(), " is below the minimum ", a.min->ToDecimal())};
    if (a.max && v > *a.max)
      return Mismatch{f, absl::StrCat(v.ToDecimal(), " is above the maximum ", a.max->ToDecimal())};
  }
  return std::nullopt;
}

}  // namespace signer::policy
