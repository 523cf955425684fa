#include "chain/abi.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chain/hex.h"
#include "chain/keccak.h"

namespace chain::abi {
namespace {

constexpr size_t kWord = 32;
constexpr Selector kErrorSelector = {0x08, 0xc3, 0x79, 0xa0};
constexpr Selector kPanicSelector = {0x4e, 0x48, 0x7b, 0x71};

absl::Status Invalid(absl::string_view msg) { return absl::InvalidArgumentError(absl::StrCat("abi: ", msg)); }

uint32_t SelectorKey(const Selector& s) {
  return (uint32_t{s[0]} << 24) | (uint32_t{s[1]} << 16) | (uint32_t{s[2]} << 8) | s[3];
}

void AppendWord(Bytes& out, const uint8_t* data, size_t n, bool left_pad) {
  // n <= 32; left_pad for numbers and addresses, right pad for bytes32 / byte strings.
  const size_t pad = kWord - n;
  if (left_pad) out.insert(out.end(), pad, 0);
  out.insert(out.end(), data, data + n);
  if (!left_pad) out.insert(out.end(), pad, 0);
}

void AppendUintWord(Bytes& out, uint64_t v) {
  const auto w = U256(v).ToBytes32();
  out.insert(out.end(), w.begin(), w.end());
}

void AppendPadded(Bytes& out, const uint8_t* data, size_t n) {
  out.insert(out.end(), data, data + n);
  out.insert(out.end(), (kWord - n % kWord) % kWord, 0);
}

void EncodeTupleInto(Bytes& out, absl::Span<const Value> items);

// Appends the tail encoding of a dynamic value, or the in-place encoding of a static one.
void EncodeValueInto(Bytes& out, const Value& value) {
  struct Visitor {
    Bytes& out;
    void operator()(const chain::Address& a) { AppendWord(out, a.data(), Address::kSize, true); }
    void operator()(bool b) {
      const uint8_t one = b ? 1 : 0;
      AppendWord(out, &one, 1, true);
    }
    void operator()(const Hash32& h) { AppendWord(out, h.data(), kWord, false); }
    void operator()(const U256& u) {
      const auto w = u.ToBytes32();
      out.insert(out.end(), w.begin(), w.end());
    }
    void operator()(const Bytes& b) {
      AppendUintWord(out, b.size());
      AppendPadded(out, b.data(), b.size());
    }
    void operator()(const std::string& s) {
      AppendUintWord(out, s.size());
      AppendPadded(out, reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
    void operator()(const TupleValue& t) { EncodeTupleInto(out, t.items); }
    void operator()(const ArrayValue& a) {
      AppendUintWord(out, a.items.size());
      EncodeTupleInto(out, a.items);
    }
  };
  std::visit(Visitor{out}, value.v);
}

size_t ValueHeadSize(const Value& v) {
  if (v.IsDynamic()) return kWord;
  if (const TupleValue* t = v.AsTuple()) {
    size_t n = 0;
    for (const Value& item : t->items) n += ValueHeadSize(item);
    return n;
  }
  return kWord;
}

// Head/tail encoding: static items in place, dynamic items as an offset (from the start of
// this tuple) to their tail.
void EncodeTupleInto(Bytes& out, absl::Span<const Value> items) {
  const size_t start = out.size();
  size_t head_size = 0;
  for (const Value& item : items) head_size += ValueHeadSize(item);
  out.reserve(start + head_size);
  Bytes tail;
  for (const Value& item : items) {
    if (item.IsDynamic()) {
      AppendUintWord(out, head_size + tail.size());
      EncodeValueInto(tail, item);
    } else {
      EncodeValueInto(out, item);
    }
  }
  out.insert(out.end(), tail.begin(), tail.end());
}

// ---- decoding ----

class Decoder {
 public:
  explicit Decoder(size_t input_size) : budget_(input_size) {}

  // Decodes a tuple whose head starts at region[0]; offsets are relative to region.
  absl::Status Tuple(absl::Span<const Type> types, ByteView region, std::vector<Value>& out) {
    size_t head = 0;
    out.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      const Type& t = types[i];
      absl::StatusOr<Value> v;
      if (t.IsDynamic()) {
        absl::StatusOr<uint64_t> offset = SmallWord(region, head, "offset");
        if (!offset.ok()) return offset.status();
        if (*offset > region.size()) {
          return Invalid(absl::StrCat("offset ", *offset, " of item ", i, " points past the ", region.size(),
                                      " bytes of its tuple"));
        }
        v = Dynamic(t, region.subspan(*offset));
      } else {
        v = Static(t, region, head);
      }
      if (!v.ok()) return v.status();
      out.push_back(*std::move(v));
      head += t.HeadSize();
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Spend(size_t n) {
    if (n > budget_) {
      return Invalid("decoded data larger than the input (overlapping offsets)");
    }
    budget_ -= n;
    return absl::OkStatus();
  }

  static absl::StatusOr<ByteView> WordAt(ByteView region, size_t pos) {
    if (pos > region.size() || region.size() - pos < kWord) {
      return Invalid(absl::StrCat("data too short: need a word at byte ", pos, ", have ", region.size(), " bytes"));
    }
    return region.subspan(pos, kWord);
  }

  // A word that must fit in 64 bits (offsets, lengths, counts).
  static absl::StatusOr<uint64_t> SmallWord(ByteView region, size_t pos, absl::string_view what) {
    absl::StatusOr<ByteView> w = WordAt(region, pos);
    if (!w.ok()) return w.status();
    for (size_t i = 0; i < 24; ++i) {
      if ((*w)[i] != 0) return Invalid(absl::StrCat(what, " at byte ", pos, " is too large"));
    }
    uint64_t v = 0;
    for (size_t i = 24; i < kWord; ++i) v = (v << 8) | (*w)[i];
    return v;
  }

  absl::StatusOr<Value> Static(const Type& t, ByteView region, size_t pos) {
    if (t.kind == Type::Kind::kTuple) {
      std::vector<Value> items;
      // A static tuple sits in place; its members follow one another from `pos`.
      if (pos > region.size()) return Invalid("data too short for a static tuple");
      absl::Status st = Tuple(t.components, region.subspan(pos), items);
      if (!st.ok()) return st;
      return Value::FromTuple(std::move(items));
    }
    absl::StatusOr<ByteView> w = WordAt(region, pos);
    if (!w.ok()) return w.status();
    switch (t.kind) {
      case Type::Kind::kAddress:
        for (size_t i = 0; i < 12; ++i) {
          if ((*w)[i] != 0) {
            return Invalid(absl::StrCat("address at byte ", pos, " has non-zero upper bytes"));
          }
        }
        return Value::FromAddress(*chain::Address::FromBytes(w->subspan(12)));
      case Type::Kind::kBool: {
        for (size_t i = 0; i < 31; ++i) {
          if ((*w)[i] != 0) return Invalid(absl::StrCat("bool at byte ", pos, " is not 0 or 1"));
        }
        if ((*w)[31] > 1) return Invalid(absl::StrCat("bool at byte ", pos, " is not 0 or 1"));
        return Value::FromBool((*w)[31] == 1);
      }
      case Type::Kind::kBytes32:
        return Value::FromBytes32(*Hash32::FromBytes(*w));
      case Type::Kind::kUint256:
        return Value::FromUint(*U256::FromBigEndian(*w));
      default:
        return Invalid("internal: dynamic type decoded as static");
    }
  }

  // `at` starts at the value's tail.
  absl::StatusOr<Value> Dynamic(const Type& t, ByteView at) {
    switch (t.kind) {
      case Type::Kind::kBytes:
      case Type::Kind::kString: {
        absl::StatusOr<uint64_t> len = SmallWord(at, 0, "length");
        if (!len.ok()) return len.status();
        if (*len > at.size() - kWord) {
          return Invalid(absl::StrCat("length ", *len, " exceeds the ", at.size() - kWord, " bytes that follow it"));
        }
        absl::Status st = Spend(*len);
        if (!st.ok()) return st;
        ByteView payload = at.subspan(kWord, *len);
        if (t.kind == Type::Kind::kBytes) return Value::FromBytes(Bytes(payload.begin(), payload.end()));
        return Value::FromString(std::string(payload.begin(), payload.end()));
      }
      case Type::Kind::kArray: {
        absl::StatusOr<uint64_t> count = SmallWord(at, 0, "array length");
        if (!count.ok()) return count.status();
        const Type& element = t.components[0];
        // Check the heads fit before allocating anything for them. An element with no head
        // (an empty tuple) still counts as one word, so the count stays bounded by the input.
        const size_t elem_head = std::max(element.HeadSize(), kWord);
        if (*count > (at.size() - kWord) / elem_head) {
          return Invalid(
              absl::StrCat("array length ", *count, " exceeds the ", at.size() - kWord, " bytes that follow it"));
        }
        absl::Status st = Spend(*count * kWord);
        if (!st.ok()) return st;
        std::vector<Type> types(*count, element);
        std::vector<Value> items;
        st = Tuple(types, at.subspan(kWord), items);
        if (!st.ok()) return st;
        return Value::FromArray(std::move(items));
      }
      case Type::Kind::kTuple: {
        std::vector<Value> items;
        absl::Status st = Tuple(t.components, at, items);
        if (!st.ok()) return st;
        return Value::FromTuple(std::move(items));
      }
      default:
        return Invalid("internal: static type decoded as dynamic");
    }
  }

  size_t budget_;
};

// ---- type parsing ----

absl::StatusOr<Type> ParseTypeAt(absl::string_view text, size_t& pos, int depth) {
  if (depth > 32) return Invalid("type nesting deeper than 32");
  Type t;
  if (pos < text.size() && text[pos] == '(') {
    ++pos;
    t.kind = Type::Kind::kTuple;
    if (pos < text.size() && text[pos] == ')') {
      ++pos;
    } else {
      while (true) {
        absl::StatusOr<Type> member = ParseTypeAt(text, pos, depth + 1);
        if (!member.ok()) return member.status();
        t.components.push_back(*std::move(member));
        if (pos < text.size() && text[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < text.size() && text[pos] == ')') {
          ++pos;
          break;
        }
        return Invalid(absl::StrCat("expected ',' or ')' at position ", pos, " of '", text, "'"));
      }
    }
  } else {
    size_t end = pos;
    while (end < text.size() && text[end] != ',' && text[end] != ')' && text[end] != '[') ++end;
    const absl::string_view name = text.substr(pos, end - pos);
    if (name == "address") {
      t.kind = Type::Kind::kAddress;
    } else if (name == "bool") {
      t.kind = Type::Kind::kBool;
    } else if (name == "bytes32") {
      t.kind = Type::Kind::kBytes32;
    } else if (name == "uint256") {
      t.kind = Type::Kind::kUint256;
    } else if (name == "bytes") {
      t.kind = Type::Kind::kBytes;
    } else if (name == "string") {
      t.kind = Type::Kind::kString;
    } else if (name.empty()) {
      return Invalid(absl::StrCat("missing type at position ", pos, " of '", text, "'"));
    } else {
      return Invalid(absl::StrCat("unsupported type '", name, "'"));
    }
    pos = end;
  }
  while (pos + 1 < text.size() && text[pos] == '[' && text[pos + 1] == ']') {
    t = Type::Array(std::move(t));
    pos += 2;
  }
  if (pos < text.size() && text[pos] == '[') {
    return Invalid(absl::StrCat("only dynamic arrays T[] are supported, at position ", pos, " of '", text, "'"));
  }
  return t;
}

std::string EscapeString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

Selector FunctionSelector(absl::string_view canonical_signature) {
  const Hash32 h = Keccak256(canonical_signature);
  return {h.data()[0], h.data()[1], h.data()[2], h.data()[3]};
}

Hash32 EventTopic(absl::string_view canonical_signature) { return Keccak256(canonical_signature); }

std::string SelectorHex(const Selector& selector) { return ToHex(selector); }

absl::StatusOr<Type> Type::Parse(absl::string_view text) {
  size_t pos = 0;
  absl::StatusOr<Type> t = ParseTypeAt(text, pos, 0);
  if (!t.ok()) return t.status();
  if (pos != text.size()) {
    return Invalid(absl::StrCat("unexpected '", text.substr(pos), "' after type in '", text, "'"));
  }
  return t;
}

std::string Type::Canonical() const {
  switch (kind) {
    case Kind::kAddress:
      return "address";
    case Kind::kBool:
      return "bool";
    case Kind::kBytes32:
      return "bytes32";
    case Kind::kUint256:
      return "uint256";
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kTuple:
      return absl::StrCat(
          "(", absl::StrJoin(components, ",", [](std::string* out, const Type& t) { out->append(t.Canonical()); }),
          ")");
    case Kind::kArray:
      return absl::StrCat(components[0].Canonical(), "[]");
  }
  return "?";
}

bool Type::IsDynamic() const {
  switch (kind) {
    case Kind::kBytes:
    case Kind::kString:
    case Kind::kArray:
      return true;
    case Kind::kTuple:
      for (const Type& c : components) {
        if (c.IsDynamic()) return true;
      }
      return false;
    default:
      return false;
  }
}

size_t Type::HeadSize() const {
  if (kind == Kind::kTuple && !IsDynamic()) {
    size_t n = 0;
    for (const Type& c : components) n += c.HeadSize();
    return n;
  }
  return kWord;
}

std::string Signature::Canonical() const { return absl::StrCat(name, Type::Tuple(inputs).Canonical()); }

absl::StatusOr<Signature> ParseSignature(absl::string_view text) {
  const size_t open = text.find('(');
  if (open == absl::string_view::npos || open == 0) {
    return Invalid(absl::StrCat("signature '", text, "' must look like name(type,...)"));
  }
  Signature sig;
  sig.name = std::string(text.substr(0, open));
  for (char c : sig.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
    if (!ok) return Invalid(absl::StrCat("bad character in name of signature '", text, "'"));
  }
  absl::StatusOr<Type> args = Type::Parse(text.substr(open));
  if (!args.ok()) return args.status();
  if (args->kind != Type::Kind::kTuple) {
    return Invalid(absl::StrCat("signature '", text, "' must end with its argument list"));
  }
  sig.inputs = std::move(args->components);
  return sig;
}

bool Value::IsDynamic() const {
  if (std::holds_alternative<Bytes>(v) || std::holds_alternative<std::string>(v) ||
      std::holds_alternative<ArrayValue>(v)) {
    return true;
  }
  if (const TupleValue* t = AsTuple()) {
    for (const Value& item : t->items) {
      if (item.IsDynamic()) return true;
    }
  }
  return false;
}

std::string FormatValue(const Value& value) {
  struct Visitor {
    std::string operator()(const chain::Address& a) { return a.Checksummed(); }
    std::string operator()(bool b) { return b ? "true" : "false"; }
    std::string operator()(const Hash32& h) { return h.Hex(); }
    std::string operator()(const U256& u) { return u.ToDecimal(); }
    std::string operator()(const Bytes& b) { return ToHex(b); }
    std::string operator()(const std::string& s) { return EscapeString(s); }
    std::string operator()(const TupleValue& t) { return absl::StrCat("(", absl::StrJoin(t.items, ",", Fmt), ")"); }
    std::string operator()(const ArrayValue& a) { return absl::StrCat("[", absl::StrJoin(a.items, ",", Fmt), "]"); }
    static void Fmt(std::string* out, const Value& v) { out->append(FormatValue(v)); }
  };
  return std::visit(Visitor{}, value.v);
}

Bytes EncodeArgs(absl::Span<const Value> args) {
  Bytes out;
  EncodeTupleInto(out, args);
  return out;
}

Bytes EncodeCall(const Selector& selector, absl::Span<const Value> args) {
  Bytes out(selector.begin(), selector.end());
  EncodeTupleInto(out, args);
  return out;
}

absl::Status CheckType(const Type& type, const Value& value) {
  auto mismatch = [&] { return Invalid(absl::StrCat("value ", FormatValue(value), " is not a ", type.Canonical())); };
  switch (type.kind) {
    case Type::Kind::kAddress:
      return value.AsAddress() ? absl::OkStatus() : mismatch();
    case Type::Kind::kBool:
      return value.AsBool() ? absl::OkStatus() : mismatch();
    case Type::Kind::kBytes32:
      return value.AsBytes32() ? absl::OkStatus() : mismatch();
    case Type::Kind::kUint256:
      return value.AsUint() ? absl::OkStatus() : mismatch();
    case Type::Kind::kBytes:
      return value.AsBytes() ? absl::OkStatus() : mismatch();
    case Type::Kind::kString:
      return value.AsString() ? absl::OkStatus() : mismatch();
    case Type::Kind::kTuple: {
      const TupleValue* t = value.AsTuple();
      if (t == nullptr || t->items.size() != type.components.size()) return mismatch();
      for (size_t i = 0; i < t->items.size(); ++i) {
        absl::Status st = CheckType(type.components[i], t->items[i]);
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    }
    case Type::Kind::kArray: {
      const ArrayValue* a = value.AsArray();
      if (a == nullptr) return mismatch();
      for (const Value& item : a->items) {
        absl::Status st = CheckType(type.components[0], item);
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    }
  }
  return mismatch();
}

absl::StatusOr<Bytes> EncodeCall(absl::string_view canonical_signature, absl::Span<const Value> args) {
  absl::StatusOr<Signature> sig = ParseSignature(canonical_signature);
  if (!sig.ok()) return sig.status();
  if (sig->inputs.size() != args.size()) {
    return Invalid(absl::StrCat(sig->Canonical(), " takes ", sig->inputs.size(), " arguments, got ", args.size()));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    absl::Status st = CheckType(sig->inputs[i], args[i]);
    if (!st.ok()) return absl::Status(st.code(), absl::StrCat("argument ", i, ": ", st.message()));
  }
  return EncodeCall(FunctionSelector(sig->Canonical()), args);
}

absl::StatusOr<std::vector<Value>> DecodeArgs(absl::Span<const Type> types, ByteView data) {
  Decoder d(data.size());
  std::vector<Value> out;
  absl::Status st = d.Tuple(types, data, out);
  if (!st.ok()) return st;
  return out;
}

// ---- revert data ----

std::string PanicMeaning(const U256& code) {
  if (!code.FitsUint64()) return "unknown panic code";
  switch (code.Low64()) {
    case 0x00:
      return "generic compiler panic";
    case 0x01:
      return "assertion failed";
    case 0x11:
      return "arithmetic underflow or overflow";
    case 0x12:
      return "division or modulo by zero";
    case 0x21:
      return "conversion to an invalid enum value";
    case 0x22:
      return "incorrectly encoded storage byte array";
    case 0x31:
      return "pop() on an empty array";
    case 0x32:
      return "array index out of bounds";
    case 0x41:
      return "out of memory (too much memory allocated)";
    case 0x51:
      return "call to a zero-initialized internal function";
    default:
      return "unknown panic code";
  }
}

absl::Status ErrorRegistry::Add(absl::string_view signature) {
  absl::StatusOr<Signature> sig = ParseSignature(signature);
  if (!sig.ok()) return sig.status();
  const Selector sel = FunctionSelector(sig->Canonical());
  auto [it, inserted] = entries_.try_emplace(SelectorKey(sel), Entry{*sig, sel});
  if (!inserted && it->second.signature.Canonical() != sig->Canonical()) {
    return absl::AlreadyExistsError(absl::StrCat("abi: selector ", SelectorHex(sel), " of ", sig->Canonical(),
                                                 " clashes with ", it->second.signature.Canonical()));
  }
  return absl::OkStatus();
}

const ErrorRegistry::Entry* ErrorRegistry::Find(const Selector& selector) const {
  auto it = entries_.find(SelectorKey(selector));
  return it == entries_.end() ? nullptr : &it->second;
}

const ErrorRegistry& ErrorRegistry::Known() {
  static const ErrorRegistry* const registry = [] {
    auto* r = new ErrorRegistry();
    for (const char* sig : {
             // OpenZeppelin v5 (Ownable, Initializable, UUPS, ERC1967, Address).
             "OwnableUnauthorizedAccount(address)",
             "OwnableInvalidOwner(address)",
             "InvalidInitialization()",
             "NotInitializing()",
             "UUPSUnauthorizedCallContext()",
             "UUPSUnsupportedProxiableUUID(bytes32)",
             "ERC1967InvalidImplementation(address)",
             "ERC1967InvalidAdmin(address)",
             "ERC1967NonPayable()",
             "FailedCall()",
             "AddressEmptyCode(address)",
             "InsufficientBalance(uint256,uint256)",
             "ReentrancyGuardReentrantCall()",
         }) {
      // The list is fixed and tested; a failure here is a programming error caught by tests.
      (void)r->Add(sig);
    }
    return r;
  }();
  return *registry;
}

Revert DecodeRevert(ByteView data, const ErrorRegistry& registry) {
  Revert r;
  if (data.empty()) {
    r.kind = Revert::Kind::kEmpty;
    r.text = "empty revert data";
    return r;
  }
  if (data.size() < 4) {
    r.kind = Revert::Kind::kMalformed;
    r.text = absl::StrCat("malformed revert data ", ToHex(data), " (", data.size(), " bytes)");
    return r;
  }
  std::memcpy(r.selector.data(), data.data(), 4);
  const ByteView args = data.subspan(4);
  auto malformed = [&](absl::string_view what, const absl::Status& st) {
    r.kind = Revert::Kind::kMalformed;
    r.args.clear();
    r.text = absl::StrCat(what, " with malformed arguments (", args.size(), " bytes): ", st.message());
    return r;
  };
  if (r.selector == kErrorSelector) {
    absl::StatusOr<std::vector<Value>> v = DecodeArgs({Type::String()}, args);
    if (!v.ok()) return malformed("Error(string)", v.status());
    r.kind = Revert::Kind::kErrorString;
    r.reason = *(*v)[0].AsString();
    r.args = *std::move(v);
    r.text = absl::StrCat("Error(", EscapeString(r.reason), ")");
    return r;
  }
  if (r.selector == kPanicSelector) {
    absl::StatusOr<std::vector<Value>> v = DecodeArgs({Type::Uint256()}, args);
    if (!v.ok()) return malformed("Panic(uint256)", v.status());
    const U256 code = *(*v)[0].AsUint();
    r.kind = Revert::Kind::kPanic;
    r.reason = PanicMeaning(code);
    r.args = *std::move(v);
    r.text = absl::StrCat("Panic(", code.ToQuantityHex(), ": ", r.reason, ")");
    return r;
  }
  if (const ErrorRegistry::Entry* e = registry.Find(r.selector)) {
    absl::StatusOr<std::vector<Value>> v = DecodeArgs(e->signature.inputs, args);
    if (!v.ok()) return malformed(e->signature.Canonical(), v.status());
    r.kind = Revert::Kind::kCustom;
    r.args = *std::move(v);
    r.reason = e->signature.Canonical();
    r.text = absl::StrCat(e->signature.name, "(",
                          absl::StrJoin(r.args, ",", [](std::string* o, const Value& x) { o->append(FormatValue(x)); }),
                          ")");
    return r;
  }
  r.kind = Revert::Kind::kUnknown;
  r.text = absl::StrCat("custom error ", SelectorHex(r.selector), " (", args.size(), " bytes)");
  return r;
}

}  // namespace chain::abi
