#include "chain/rlp.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chain::rlp {
namespace {

// Big-endian bytes of v without leading zeros (0 -> 0 bytes).
int MinimalLength(uint64_t v) { return v == 0 ? 0 : 8 - __builtin_clzll(v) / 8; }

void AppendBigEndian(Bytes& out, uint64_t v, int len) {
  for (int i = len - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

absl::Status Invalid(absl::string_view msg) { return absl::InvalidArgumentError(absl::StrCat("rlp: ", msg)); }

absl::StatusOr<ByteView> DecodeString(ByteView& from) {
  absl::StatusOr<Header> h = DecodeHeader(from);
  if (!h.ok()) return h.status();
  if (h->list) return Invalid("unexpected list, want string");
  ByteView out = from.subspan(0, h->payload_length);
  from.remove_prefix(h->payload_length);
  return out;
}

// Canonical integer payload: no leading zero byte.
absl::StatusOr<ByteView> DecodeIntegerBytes(ByteView& from, size_t max_bytes, absl::string_view type) {
  absl::StatusOr<ByteView> s = DecodeString(from);
  if (!s.ok()) return s.status();
  if (!s->empty() && (*s)[0] == 0) {
    return Invalid(s->size() == 1 ? "integer zero must be encoded as 0x80" : "integer has a leading zero byte");
  }
  if (s->size() > max_bytes) {
    return Invalid(absl::StrCat("integer of ", s->size(), " bytes overflows ", type));
  }
  return s;
}

absl::StatusOr<Item> DecodeItemAt(ByteView& from, int depth) {
  if (depth > kMaxDepth) return Invalid(absl::StrCat("nesting deeper than ", kMaxDepth));
  absl::StatusOr<Header> h = DecodeHeader(from);
  if (!h.ok()) return h.status();
  Item item;
  item.list = h->list;
  ByteView payload = from.subspan(0, h->payload_length);
  from.remove_prefix(h->payload_length);
  if (!h->list) {
    item.bytes.assign(payload.begin(), payload.end());
    return item;
  }
  while (!payload.empty()) {
    absl::StatusOr<Item> child = DecodeItemAt(payload, depth + 1);
    if (!child.ok()) return child.status();
    item.items.push_back(*std::move(child));
  }
  return item;
}

}  // namespace

// ---- Encoding ----

void AppendHeader(Bytes& out, bool list, size_t payload_length) {
  const uint8_t base = list ? 0xc0 : 0x80;
  if (payload_length < 56) {
    out.push_back(static_cast<uint8_t>(base + payload_length));
  } else {
    const int len_len = MinimalLength(payload_length);
    out.push_back(static_cast<uint8_t>(base + 55 + len_len));
    AppendBigEndian(out, payload_length, len_len);
  }
}

void AppendBytes(Bytes& out, ByteView bytes) {
  if (bytes.size() == 1 && bytes[0] < 0x80) {
    out.push_back(bytes[0]);
    return;
  }
  AppendHeader(out, false, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void AppendUint(Bytes& out, uint64_t value) {
  if (value != 0 && value < 0x80) {
    out.push_back(static_cast<uint8_t>(value));
    return;
  }
  const int len = MinimalLength(value);
  out.push_back(static_cast<uint8_t>(0x80 + len));
  AppendBigEndian(out, value, len);
}

void AppendUint(Bytes& out, const U256& value) {
  if (value.FitsUint64()) {
    AppendUint(out, value.Low64());
    return;
  }
  AppendBytes(out, value.ToMinimalBytes());
}

Bytes EncodeBytes(ByteView bytes) {
  Bytes out;
  AppendBytes(out, bytes);
  return out;
}

Bytes EncodeUint(uint64_t value) {
  Bytes out;
  AppendUint(out, value);
  return out;
}

Bytes EncodeUint(const U256& value) {
  Bytes out;
  AppendUint(out, value);
  return out;
}

Bytes EncodeList(absl::Span<const Bytes> encoded_items) {
  size_t total = 0;
  for (const Bytes& b : encoded_items) total += b.size();
  Bytes out;
  out.reserve(total + 9);
  AppendHeader(out, true, total);
  for (const Bytes& b : encoded_items) out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes WrapList(ByteView payload) {
  Bytes out;
  out.reserve(payload.size() + 9);
  AppendHeader(out, true, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

ListBuilder& ListBuilder::AddBytes(ByteView bytes) {
  AppendBytes(payload_, bytes);
  return *this;
}
ListBuilder& ListBuilder::AddUint(uint64_t value) {
  AppendUint(payload_, value);
  return *this;
}
ListBuilder& ListBuilder::AddUint(const U256& value) {
  AppendUint(payload_, value);
  return *this;
}
ListBuilder& ListBuilder::AddAddress(const Address& address) {
  AppendBytes(payload_, address.bytes());
  return *this;
}
ListBuilder& ListBuilder::AddOptionalAddress(const std::optional<Address>& address) {
  if (address.has_value()) {
    AppendBytes(payload_, address->bytes());
  } else {
    payload_.push_back(0x80);
  }
  return *this;
}
ListBuilder& ListBuilder::AddHash(const Hash32& hash) {
  AppendBytes(payload_, hash.bytes());
  return *this;
}
ListBuilder& ListBuilder::AddEncoded(ByteView encoded_item) {
  payload_.insert(payload_.end(), encoded_item.begin(), encoded_item.end());
  return *this;
}
ListBuilder& ListBuilder::AddList(const ListBuilder& list) {
  AppendHeader(payload_, true, list.payload_.size());
  payload_.insert(payload_.end(), list.payload_.begin(), list.payload_.end());
  return *this;
}
Bytes ListBuilder::Finish() const { return WrapList(payload_); }

// ---- Decoding ----

absl::StatusOr<Header> DecodeHeader(ByteView& from) {
  if (from.empty()) return Invalid("input too short: want an item, got 0 bytes");
  const uint8_t b = from[0];
  Header h;
  if (b < 0x80) {
    h.payload_length = 1;  // the byte is its own payload
    return h;
  }
  h.list = b >= 0xc0;
  const uint8_t short_base = h.list ? 0xc0 : 0x80;
  const uint8_t long_base = h.list ? 0xf7 : 0xb7;
  if (b <= long_base) {
    h.payload_length = b - short_base;
    from.remove_prefix(1);
    if (!h.list && h.payload_length == 1) {
      if (from.empty()) return Invalid("input too short: string of 1 byte, 0 bytes left");
      if (from[0] < 0x80) {
        return Invalid(
            absl::StrFormat("non-canonical size: single byte 0x%02x below 0x80 must be its own encoding", from[0]));
      }
    }
  } else {
    const size_t len_len = b - long_base;  // 1..8
    if (from.size() - 1 < len_len) {
      return Invalid(
          absl::StrCat("input too short: header needs ", len_len, " length bytes, ", from.size() - 1, " left"));
    }
    if (from[1] == 0) return Invalid("non-canonical size: leading zero byte in length");
    uint64_t len = 0;
    for (size_t i = 0; i < len_len; ++i) len = (len << 8) | from[1 + i];
    if (len < 56) {
      return Invalid(absl::StrCat("non-canonical size: long form for length ", len, " < 56"));
    }
    h.payload_length = len;
    from.remove_prefix(1 + len_len);
  }
  if (h.payload_length > from.size()) {
    return Invalid(absl::StrCat("input too short: ", h.list ? "list" : "string", " of ", h.payload_length, " bytes, ",
                                from.size(), " left"));
  }
  return h;
}

absl::StatusOr<ByteView> DecodeBytesView(ByteView& from) { return DecodeString(from); }

absl::StatusOr<Bytes> DecodeBytes(ByteView& from) {
  absl::StatusOr<ByteView> s = DecodeString(from);
  if (!s.ok()) return s.status();
  return Bytes(s->begin(), s->end());
}

absl::StatusOr<uint64_t> DecodeUint64(ByteView& from) {
  absl::StatusOr<ByteView> s = DecodeIntegerBytes(from, 8, "uint64");
  if (!s.ok()) return s.status();
  uint64_t v = 0;
  for (uint8_t b : *s) v = (v << 8) | b;
  return v;
}

absl::StatusOr<U256> DecodeU256(ByteView& from) {
  absl::StatusOr<ByteView> s = DecodeIntegerBytes(from, 32, "256 bits");
  if (!s.ok()) return s.status();
  return U256::FromBigEndian(*s);
}

absl::StatusOr<Address> DecodeAddress(ByteView& from) {
  absl::StatusOr<ByteView> s = DecodeString(from);
  if (!s.ok()) return s.status();
  if (s->size() != Address::kSize) {
    return Invalid(absl::StrCat("want a 20-byte address, got ", s->size(), " bytes"));
  }
  return *Address::FromBytes(*s);
}

absl::StatusOr<std::optional<Address>> DecodeOptionalAddress(ByteView& from) {
  absl::StatusOr<ByteView> s = DecodeString(from);
  if (!s.ok()) return s.status();
  if (s->empty()) return std::optional<Address>();
  if (s->size() != Address::kSize) {
    return Invalid(absl::StrCat("want an empty string or a 20-byte address, got ", s->size(), " bytes"));
  }
  return std::optional<Address>(*Address::FromBytes(*s));
}

absl::StatusOr<Hash32> DecodeHash32(ByteView& from) {
  absl::StatusOr<ByteView> s = DecodeString(from);
  if (!s.ok()) return s.status();
  if (s->size() != Hash32::kSize) {
    return Invalid(absl::StrCat("want 32 bytes, got ", s->size()));
  }
  return *Hash32::FromBytes(*s);
}

absl::StatusOr<ByteView> DecodeList(ByteView& from) {
  absl::StatusOr<Header> h = DecodeHeader(from);
  if (!h.ok()) return h.status();
  if (!h->list) return Invalid("unexpected string, want list");
  ByteView payload = from.subspan(0, h->payload_length);
  from.remove_prefix(h->payload_length);
  return payload;
}

absl::Status ExpectEnd(ByteView rest, absl::string_view what) {
  if (rest.empty()) return absl::OkStatus();
  return Invalid(absl::StrCat(rest.size(), " trailing bytes after ", what));
}

absl::Status InField(absl::string_view field, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

absl::StatusOr<Item> DecodeItem(ByteView& from) { return DecodeItemAt(from, 0); }

absl::StatusOr<Item> DecodeWhole(ByteView encoded) {
  absl::StatusOr<Item> item = DecodeItem(encoded);
  if (!item.ok()) return item.status();
  absl::Status end = ExpectEnd(encoded, "the item");
  if (!end.ok()) return end;
  return item;
}

Bytes Encode(const Item& item) {
  if (!item.list) return EncodeBytes(item.bytes);
  Bytes payload;
  for (const Item& child : item.items) {
    Bytes c = Encode(child);
    payload.insert(payload.end(), c.begin(), c.end());
  }
  return WrapList(payload);
}

}  // namespace chain::rlp
