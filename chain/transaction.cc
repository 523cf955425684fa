#include "chain/transaction.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "chain/keccak.h"
#include "chain/rlp.h"

namespace chain {
namespace {

constexpr uint8_t kEip1559Type = 0x02;

// r and s are integers in RLP: big-endian without leading zeros.
void AddScalar(rlp::ListBuilder& b, const std::array<uint8_t, 32>& v) {
  size_t first = 0;
  while (first < 32 && v[first] == 0) ++first;
  b.AddBytes(ByteView(v).subspan(first));
}

rlp::ListBuilder AccessListRlp(const AccessList& list) {
  rlp::ListBuilder out;
  for (const AccessListEntry& e : list) {
    rlp::ListBuilder keys;
    for (const Hash32& k : e.storage_keys) keys.AddHash(k);
    rlp::ListBuilder entry;
    entry.AddAddress(e.address).AddList(keys);
    out.AddList(entry);
  }
  return out;
}

rlp::ListBuilder Eip1559Fields(const Eip1559Transaction& tx) {
  // The fixed fields take at most 9 + 9 + 33 + 33 + 9 + 21 + 33 bytes, a signature 1 + 33 + 33,
  // the data 9 more than its length: one allocation for the signed encoding.
  rlp::ListBuilder b(256 + tx.data.size());
  b.AddUint(tx.chain_id)
      .AddUint(tx.nonce)
      .AddUint(tx.max_priority_fee_per_gas)
      .AddUint(tx.max_fee_per_gas)
      .AddUint(tx.gas_limit)
      .AddOptionalAddress(tx.to)
      .AddUint(tx.value)
      .AddBytes(tx.data)
      .AddList(AccessListRlp(tx.access_list));
  return b;
}

Bytes Typed(uint8_t type, const rlp::ListBuilder& b) {
  Bytes out;
  out.reserve(b.payload().size() + 10);
  out.push_back(type);
  rlp::AppendHeader(out, true, b.payload().size());
  out.insert(out.end(), b.payload().begin(), b.payload().end());
  return out;
}

rlp::ListBuilder LegacyFields(const LegacyTransaction& tx) {
  rlp::ListBuilder b;
  b.AddUint(tx.nonce)
      .AddUint(tx.gas_price)
      .AddUint(tx.gas_limit)
      .AddOptionalAddress(tx.to)
      .AddUint(tx.value)
      .AddBytes(tx.data);
  return b;
}

// ---- decoding helpers: each wraps errors with "<what>: <field>: " ----

class FieldReader {
 public:
  FieldReader(absl::string_view what, ByteView fields) : what_(what), in_(fields) {}

  absl::Status Error(absl::string_view field, const absl::Status& st) const {
    return absl::Status(st.code(), absl::StrCat(what_, ": ", field, ": ", st.message()));
  }
  template <typename T>
  absl::Status Read(absl::string_view field, absl::StatusOr<T> (*decode)(ByteView&), T& out) {
    absl::StatusOr<T> v = decode(in_);
    if (!v.ok()) return Error(field, v.status());
    out = *std::move(v);
    return absl::OkStatus();
  }
  // An integer scalar of at most 32 bytes into a left-padded array (r, s).
  absl::Status ReadScalar(absl::string_view field, std::array<uint8_t, 32>& out) {
    U256 v;
    absl::Status st = Read(field, &rlp::DecodeU256, v);
    if (!st.ok()) return st;
    out = v.ToBytes32();
    return absl::OkStatus();
  }
  absl::Status ReadAccessList(AccessList& out) {
    absl::StatusOr<ByteView> list = rlp::DecodeList(in_);
    if (!list.ok()) return Error("access_list", list.status());
    ByteView entries = *list;
    while (!entries.empty()) {
      absl::StatusOr<ByteView> entry = rlp::DecodeList(entries);
      if (!entry.ok()) return Error("access_list entry", entry.status());
      AccessListEntry e;
      absl::StatusOr<Address> addr = rlp::DecodeAddress(*entry);
      if (!addr.ok()) return Error("access_list address", addr.status());
      e.address = *addr;
      absl::StatusOr<ByteView> keys = rlp::DecodeList(*entry);
      if (!keys.ok()) return Error("access_list storage_keys", keys.status());
      while (!keys->empty()) {
        absl::StatusOr<Hash32> k = rlp::DecodeHash32(*keys);
        if (!k.ok()) return Error("access_list storage key", k.status());
        e.storage_keys.push_back(*k);
      }
      absl::Status end = rlp::ExpectEnd(*entry, "address and storage keys");
      if (!end.ok()) return Error("access_list entry", end);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }
  absl::Status End() const {
    absl::Status st = rlp::ExpectEnd(in_, "the last field");
    if (!st.ok()) return Error("fields", st);
    return absl::OkStatus();
  }

 private:
  absl::string_view what_;
  ByteView in_;
};

// Unwraps the outer list; it must be all of `raw`.
absl::StatusOr<ByteView> OuterList(absl::string_view what, ByteView raw) {
  absl::StatusOr<ByteView> fields = rlp::DecodeList(raw);
  absl::Status st = fields.ok() ? rlp::ExpectEnd(raw, "the transaction") : fields.status();
  if (!st.ok()) return absl::Status(st.code(), absl::StrCat(what, ": ", st.message()));
  return fields;
}

}  // namespace

Bytes Eip1559Transaction::SigningPayload() const { return Typed(kEip1559Type, Eip1559Fields(*this)); }

Hash32 Eip1559Transaction::SigningHash() const {
  // keccak256(type || rlp(fields)) without assembling that payload in memory once more.
  const rlp::ListBuilder fields = Eip1559Fields(*this);
  Bytes prefix{kEip1559Type};
  rlp::AppendHeader(prefix, true, fields.payload().size());
  Keccak256Hasher h;
  h.Update(prefix);
  h.Update(fields.payload());
  return h.Final();
}

Bytes Eip1559Transaction::EncodeSigned(const RecoverableSignature& sig) const {
  rlp::ListBuilder b = Eip1559Fields(*this);
  b.AddUint(uint64_t{sig.recovery_id});
  AddScalar(b, sig.r);
  AddScalar(b, sig.s);
  return Typed(kEip1559Type, b);
}

absl::StatusOr<Address> SignedEip1559Transaction::Sender() const { return Recover(tx.SigningHash(), signature); }

absl::StatusOr<SignedEip1559Transaction> DecodeSignedEip1559(ByteView raw) {
  constexpr absl::string_view kWhat = "eip1559 transaction";
  if (raw.empty()) return absl::InvalidArgumentError("eip1559 transaction: empty input");
  if (raw[0] != kEip1559Type) {
    return absl::InvalidArgumentError(
        absl::StrCat("eip1559 transaction: want type byte 0x02, got 0x", absl::Hex(raw[0], absl::kZeroPad2)));
  }
  absl::StatusOr<ByteView> fields = OuterList(kWhat, raw.subspan(1));
  if (!fields.ok()) return fields.status();
  FieldReader r(kWhat, *fields);
  SignedEip1559Transaction out;
  Eip1559Transaction& tx = out.tx;
  uint64_t y_parity = 0;
  absl::Status st;
  if (!(st = r.Read("chain_id", &rlp::DecodeUint64, tx.chain_id)).ok()) return st;
  if (!(st = r.Read("nonce", &rlp::DecodeUint64, tx.nonce)).ok()) return st;
  if (!(st = r.Read("max_priority_fee_per_gas", &rlp::DecodeU256, tx.max_priority_fee_per_gas)).ok()) return st;
  if (!(st = r.Read("max_fee_per_gas", &rlp::DecodeU256, tx.max_fee_per_gas)).ok()) return st;
  if (!(st = r.Read("gas_limit", &rlp::DecodeUint64, tx.gas_limit)).ok()) return st;
  if (!(st = r.Read("to", &rlp::DecodeOptionalAddress, tx.to)).ok()) return st;
  if (!(st = r.Read("value", &rlp::DecodeU256, tx.value)).ok()) return st;
  if (!(st = r.Read("data", &rlp::DecodeBytes, tx.data)).ok()) return st;
  if (!(st = r.ReadAccessList(tx.access_list)).ok()) return st;
  if (!(st = r.Read("y_parity", &rlp::DecodeUint64, y_parity)).ok()) return st;
  if (y_parity > 1) {
    return absl::InvalidArgumentError(absl::StrCat("eip1559 transaction: y_parity: must be 0 or 1, got ", y_parity));
  }
  out.signature.recovery_id = static_cast<uint8_t>(y_parity);
  if (!(st = r.ReadScalar("r", out.signature.r)).ok()) return st;
  if (!(st = r.ReadScalar("s", out.signature.s)).ok()) return st;
  if (!(st = r.End()).ok()) return st;
  return out;
}

Bytes LegacyTransaction::SigningPayload() const {
  rlp::ListBuilder b = LegacyFields(*this);
  if (chain_id.has_value()) b.AddUint(*chain_id).AddUint(uint64_t{0}).AddUint(uint64_t{0});
  return b.Finish();
}

Hash32 LegacyTransaction::SigningHash() const { return Keccak256(SigningPayload()); }

Bytes LegacyTransaction::EncodeSigned(const RecoverableSignature& sig) const {
  rlp::ListBuilder b = LegacyFields(*this);
  if (chain_id.has_value()) {
    // chain_id * 2 + 35 + id can exceed 64 bits for huge chain ids: compute in 256 bits.
    const U256 v = *U256::CheckedAdd(*U256::CheckedMul(U256(*chain_id), U256(2)), U256(35 + uint64_t{sig.recovery_id}));
    b.AddUint(v);
  } else {
    b.AddUint(27 + uint64_t{sig.recovery_id});
  }
  AddScalar(b, sig.r);
  AddScalar(b, sig.s);
  return b.Finish();
}

absl::StatusOr<Address> SignedLegacyTransaction::Sender() const { return Recover(tx.SigningHash(), signature); }

absl::StatusOr<SignedLegacyTransaction> DecodeSignedLegacy(ByteView raw) {
  constexpr absl::string_view kWhat = "legacy transaction";
  absl::StatusOr<ByteView> fields = OuterList(kWhat, raw);
  if (!fields.ok()) return fields.status();
  FieldReader r(kWhat, *fields);
  SignedLegacyTransaction out;
  LegacyTransaction& tx = out.tx;
  U256 v;
  absl::Status st;
  if (!(st = r.Read("nonce", &rlp::DecodeUint64, tx.nonce)).ok()) return st;
  if (!(st = r.Read("gas_price", &rlp::DecodeU256, tx.gas_price)).ok()) return st;
  if (!(st = r.Read("gas_limit", &rlp::DecodeUint64, tx.gas_limit)).ok()) return st;
  if (!(st = r.Read("to", &rlp::DecodeOptionalAddress, tx.to)).ok()) return st;
  if (!(st = r.Read("value", &rlp::DecodeU256, tx.value)).ok()) return st;
  if (!(st = r.Read("data", &rlp::DecodeBytes, tx.data)).ok()) return st;
  if (!(st = r.Read("v", &rlp::DecodeU256, v)).ok()) return st;
  if (v == U256(27) || v == U256(28)) {
    out.signature.recovery_id = static_cast<uint8_t>(v.Low64() - 27);
  } else if (v >= U256(35)) {
    const U256 rest = *U256::CheckedSub(v, U256(35));
    const std::array<uint64_t, 4>& l = rest.limbs();
    // chain_id = rest / 2 must fit 64 bits: rest < 2^65.
    if ((l[1] >> 1) != 0 || l[2] != 0 || l[3] != 0) {
      return absl::InvalidArgumentError("legacy transaction: v: chain id does not fit 64 bits");
    }
    tx.chain_id = (l[0] >> 1) | (l[1] << 63);
    out.signature.recovery_id = static_cast<uint8_t>(l[0] & 1);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("legacy transaction: v: must be 27, 28 or >= 35, got ", v.ToDecimal()));
  }
  if (!(st = r.ReadScalar("r", out.signature.r)).ok()) return st;
  if (!(st = r.ReadScalar("s", out.signature.s)).ok()) return st;
  if (!(st = r.End()).ok()) return st;
  return out;
}

Hash32 TxHash(ByteView raw) { return Keccak256(raw); }

namespace {

// Both transaction types sign the same way: the key signs SigningHash(), the raw bytes embed it.
template <typename Tx>
absl::StatusOr<SignedTransaction> Sign(ByteView secret, const Tx& tx) {
  absl::StatusOr<RecoverableSignature> sig = SignHash(secret, tx.SigningHash());
  if (!sig.ok()) return sig.status();
  absl::StatusOr<Address> from = AddressFromSecret(secret);
  if (!from.ok()) return from.status();
  SignedTransaction out;
  out.raw = tx.EncodeSigned(*sig);
  out.hash = TxHash(out.raw);
  out.from = *from;
  return out;
}

}  // namespace

absl::StatusOr<SignedTransaction> SignEip1559(ByteView secret, const Eip1559Transaction& tx) {
  return Sign(secret, tx);
}

absl::StatusOr<SignedTransaction> SignLegacy(ByteView secret, const LegacyTransaction& tx) { return Sign(secret, tx); }

}  // namespace chain
