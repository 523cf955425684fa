#include "chain/transaction.h"

#include <gtest/gtest.h>

#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/rlp.h"

namespace chain {
namespace {

Bytes H(absl::string_view hex) { return *FromHex(hex); }
Address A(absl::string_view s) { return *Address::Parse(s); }
std::array<uint8_t, 32> B32(absl::string_view hex) { return Hash32::FromHex(hex)->array(); }

const Bytes kAnvilKey = H("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

// The example in EIP-155 itself.
LegacyTransaction Eip155Example() {
  LegacyTransaction tx;
  tx.nonce = 9;
  tx.gas_price = U256(20000000000);
  tx.gas_limit = 21000;
  tx.to = A("0x3535353535353535353535353535353535353535");
  tx.value = U256(1000000000000000000);
  tx.chain_id = 1;
  return tx;
}

TEST(LegacyTransaction, Eip155Example) {
  const LegacyTransaction tx = Eip155Example();
  EXPECT_EQ(ToHex(tx.SigningPayload()),
            "0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
            "80018080");
  EXPECT_EQ(tx.SigningHash().Hex(), "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  const Bytes secret(32, 0x46);  // the EIP's key 0x4646...46
  auto signed_tx = SignLegacy(secret, tx);
  ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
  const std::string want_raw =
      "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000802"
      "5a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb7"
      "03304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
  EXPECT_EQ(ToHex(signed_tx->raw), want_raw);
  EXPECT_EQ(signed_tx->from.Checksummed(), "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
  EXPECT_EQ(signed_tx->hash, TxHash(signed_tx->raw));

  auto decoded = DecodeSignedLegacy(H(want_raw));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->tx, tx);
  EXPECT_EQ(decoded->signature.recovery_id, 0);  // v = 37 = 0 + 1*2 + 35
  EXPECT_EQ(ToHex(decoded->signature.r), "0x28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276");
  EXPECT_EQ(decoded->Sender()->Checksummed(), "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
  EXPECT_EQ(ToHex(decoded->Encode()), want_raw);
}

TEST(LegacyTransaction, MatchesCastLegacy) {
  // `cast mktx --legacy --private-key <anvil #0> --chain 1 --nonce 9 --gas-limit 21000
  //   --gas-price 20000000000 --value 1000000000000000000 0x3535...35`
  auto signed_tx = SignLegacy(kAnvilKey, Eip155Example());
  ASSERT_TRUE(signed_tx.ok());
  EXPECT_EQ(ToHex(signed_tx->raw),
            "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000"
            "08025a03016c5b00acdf2ab6417652b9af1b5458ae73a8f2ddbc2ce03ccddde54184f71a0160362f6bf9e0"
            "af5a6f543153b85cfce8bce64cf08607f2cfd486fecb81eba1d");
}

TEST(LegacyTransaction, PreEip155AndHugeChainId) {
  LegacyTransaction tx = Eip155Example();
  tx.chain_id.reset();
  auto s = SignLegacy(kAnvilKey, tx);
  ASSERT_TRUE(s.ok());
  auto d = DecodeSignedLegacy(s->raw);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->tx.chain_id.has_value());
  EXPECT_EQ(d->Sender()->Checksummed(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  // chain id 2^64-1: v = 2^65 + 33 + id does not fit 64 bits and must still round-trip.
  tx.chain_id = ~0ULL;
  s = SignLegacy(kAnvilKey, tx);
  ASSERT_TRUE(s.ok());
  d = DecodeSignedLegacy(s->raw);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->tx.chain_id, ~0ULL);
  EXPECT_EQ(d->Sender()->Checksummed(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
}

TEST(LegacyTransaction, DecodeErrors) {
  const Bytes good = SignLegacy(kAnvilKey, Eip155Example())->raw;
  auto with_v = [&](const U256& v) {
    rlp::ListBuilder b;
    b.AddUint(9).AddUint(1).AddUint(21000).AddOptionalAddress(std::nullopt).AddUint(0).AddBytes({});
    b.AddUint(v).AddUint(1).AddUint(1);
    return b.Finish();
  };
  EXPECT_EQ(DecodeSignedLegacy(with_v(U256(0))).status().message(),
            "legacy transaction: v: must be 27, 28 or >= 35, got 0");
  EXPECT_EQ(DecodeSignedLegacy(with_v(U256(29))).status().message(),
            "legacy transaction: v: must be 27, 28 or >= 35, got 29");
  EXPECT_EQ(DecodeSignedLegacy(with_v(U256::FromLimbs(35, 2, 0, 0))).status().message(),
            "legacy transaction: v: chain id does not fit 64 bits");
  EXPECT_TRUE(DecodeSignedLegacy(with_v(U256(36))).ok());
  Bytes trailing = good;
  trailing.push_back(0x80);
  EXPECT_EQ(DecodeSignedLegacy(trailing).status().message(),
            "legacy transaction: rlp: 1 trailing bytes after the transaction");
  EXPECT_EQ(DecodeSignedLegacy(H("c0")).status().message(),
            "legacy transaction: nonce: rlp: input too short: want an item, got 0 bytes");
}

// Mainnet transaction 0x0ec0b6a2…2ee0, as used in reth's `recover_signer_eip1559` test
// (paradigmxyz/reth crates/primitives/src/transaction/eip1559.rs) and alloy's
// examples/transactions encode_decode_eip1559 example: fields, signature, hash and signer.
TEST(Eip1559Transaction, MainnetVectorFromReth) {
  Eip1559Transaction tx;
  tx.chain_id = 1;
  tx.nonce = 0x42;
  tx.gas_limit = 44386;
  tx.to = A("0x6069a6c32cf691f5982febae4faf8a6f3ab2f0f6");
  tx.data =
      H("a22cb4650000000000000000000000005eee75727d804a2b13038928d36f8b188945a57a0000000000000"
        "000000000000000000000000000000000000000000000000000");
  tx.max_fee_per_gas = U256(0x4a817c800);
  tx.max_priority_fee_per_gas = U256(0x3b9aca00);
  RecoverableSignature sig;
  sig.r = B32("0x840cfc572845f5786e702984c2a582528cad4b49b2a10b9db1be7fca90058565");
  sig.s = B32("0x25e7109ceb98168d95b09b18bbf6b685130e0562f233877d492b94eee0c5b6d1");
  sig.recovery_id = 0;
  const Bytes raw = tx.EncodeSigned(sig);
  EXPECT_EQ(TxHash(raw).Hex(), "0x0ec0b6a2df4d87424e5f6ad2a654e27aaeb7dac20ae9e8385cc09087ad532ee0");
  auto decoded = DecodeSignedEip1559(raw);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->tx, tx);
  EXPECT_EQ(decoded->signature, sig);
  auto sender = decoded->Sender();
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(sender->Hex(), "0xdd6b8b3dc6b7ad97db52f08a275ff4483e024cea");
}

// `cast mktx --private-key <anvil #0> --chain 8453 --nonce 5 --gas-limit 60000
//   --gas-price 2000000000 --priority-gas-price 1000000 --value 0 0x2f83…Ba9C 0xdfc77223<11…11>`
TEST(Eip1559Transaction, AddComposeHashOnBaseMatchesCast) {
  Eip1559Transaction tx;
  tx.chain_id = 8453;
  tx.nonce = 5;
  tx.gas_limit = 60000;
  tx.max_fee_per_gas = U256(2000000000);
  tx.max_priority_fee_per_gas = U256(1000000);
  tx.to = A("0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C");
  tx.data = EncodeAddComposeHash(*Hash32::FromHex(std::string(64, '1')));
  auto s = SignEip1559(kAnvilKey, tx);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(ToHex(s->raw),
            "0x02f88f82210505830f4240847735940082ea60942f83172a49584c017f2b256f0fb2dca14126ba9c80"
            "a4dfc772231111111111111111111111111111111111111111111111111111111111111111c080a0a48f23"
            "de587937f4859ba70c41dee570229488a91e6d714fdd0322af80f586b8a02b6f7cb0e8c545263a620d77ba"
            "4fbb2e04a0edd1404e7e5e17c41bb39ec86851");
  EXPECT_EQ(s->from.Checksummed(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_EQ(s->hash, TxHash(s->raw));
  auto d = DecodeSignedEip1559(s->raw);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tx, tx);
  EXPECT_EQ(*d->Sender(), s->from);
}

// Extremes (cast accepts them too): every integer at its maximum, contract creation, and a
// non-empty access list (`cast mktx --access-list '[{"address":"0x…01","storageKeys":["0x…02"]}]'`).
TEST(Eip1559Transaction, ExtremesAndAccessListMatchCast) {
  Eip1559Transaction tx;
  tx.chain_id = ~0ULL;
  tx.nonce = ~0ULL;
  tx.gas_limit = ~0ULL;
  tx.max_fee_per_gas = U256::FromLimbs(~0ULL, ~0ULL, 0, 0);
  tx.max_priority_fee_per_gas = U256::FromLimbs(~0ULL, ~0ULL, 0, 0);
  tx.value = U256::Max();
  tx.to = A("0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C");
  EXPECT_EQ(ToHex(SignEip1559(kAnvilKey, tx)->raw),
            "0x02f8b888ffffffffffffffff88ffffffffffffffff90ffffffffffffffffffffffffffffffff90ffffff"
            "ffffffffffffffffffffffffff88ffffffffffffffff942f83172a49584c017f2b256f0fb2dca14126ba9c"
            "a0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80c080a04a9d5ef468b1"
            "1fb6e82664360a2961fecfa01164ea3f81a5645f570be1a17f3aa039f2c9570cdc17a02773a5e206c14d55"
            "a69f20ea0a4b75941eb28c9575d1b90a");

  Eip1559Transaction create;
  create.chain_id = 1;
  create.nonce = 5;
  create.gas_limit = 60000;
  create.max_fee_per_gas = U256(2000000000);
  create.max_priority_fee_per_gas = U256(1000000);
  EXPECT_EQ(ToHex(SignEip1559(kAnvilKey, create)->raw),
            "0x02f8550105830f4240847735940082ea60808080c080a079b59bf6d2d54b76a543a4f7d8c6eaa9062da"
            "d40c4c30ef76796dea53b8659f6a03661d8e7ec83611f4668c3b1e8d3e057c3fbc9d73dfaab5abac532214"
            "78ad195");

  Eip1559Transaction al;
  al.chain_id = 1;
  al.nonce = 1;
  al.gas_limit = 50000;
  al.max_fee_per_gas = U256(100);
  al.max_priority_fee_per_gas = U256(1);
  al.to = A("0x0000000000000000000000000000000000000003");
  al.access_list = {{A("0x0000000000000000000000000000000000000001"), {*Hash32::FromHex(std::string(63, '0') + "2")}}};
  auto s = SignEip1559(kAnvilKey, al);
  EXPECT_EQ(ToHex(s->raw),
            "0x02f89b0101016482c3509400000000000000000000000000000000000000038080f838f79400000000"
            "00000000000000000000000000000001e1a0000000000000000000000000000000000000000000000000"
            "000000000000000280a062acbc3048ba884bca5c8cb6b3f9737713ffe05a6d29ecbb2df4080377443a7da"
            "0750775df5aeeb23e8cbe477ce9cfd96108f64b33ad024bb2802a562fb2a76047");
  auto d = DecodeSignedEip1559(s->raw);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->tx, al);
}

// Builds a type-2 transaction from arbitrary encoded fields.
Bytes Type2(const std::vector<Bytes>& fields) {
  Bytes out = {0x02};
  Bytes list = rlp::EncodeList(fields);
  out.insert(out.end(), list.begin(), list.end());
  return out;
}

std::vector<Bytes> GoodFields() {
  return {rlp::EncodeUint(1), rlp::EncodeUint(0),     rlp::EncodeUint(1),
          rlp::EncodeUint(2), rlp::EncodeUint(21000), rlp::EncodeBytes(Bytes(20, 0x11)),
          rlp::EncodeUint(0), rlp::EncodeBytes({}),   rlp::EncodeList({}),
          rlp::EncodeUint(1), rlp::EncodeUint(12345), rlp::EncodeUint(6789)};
}

TEST(Eip1559Transaction, DecodeErrorsNameTheField) {
  ASSERT_TRUE(DecodeSignedEip1559(Type2(GoodFields())).ok());
  EXPECT_EQ(DecodeSignedEip1559({}).status().message(), "eip1559 transaction: empty input");
  EXPECT_EQ(DecodeSignedEip1559(H("01c0")).status().message(), "eip1559 transaction: want type byte 0x02, got 0x01");
  EXPECT_EQ(DecodeSignedEip1559(H("0280")).status().message(),
            "eip1559 transaction: rlp: unexpected string, want list");
  Bytes trailing = Type2(GoodFields());
  trailing.push_back(0);
  EXPECT_EQ(DecodeSignedEip1559(trailing).status().message(),
            "eip1559 transaction: rlp: 1 trailing bytes after the transaction");

  struct Case {
    size_t field;
    Bytes replacement;
    const char* error;
  } cases[] = {
      {0, H("820001"), "eip1559 transaction: chain_id: rlp: integer has a leading zero byte"},
      {1, H("00"), "eip1559 transaction: nonce: rlp: integer zero must be encoded as 0x80"},
      {1, H("89010000000000000000"), "eip1559 transaction: nonce: rlp: integer of 9 bytes overflows uint64"},
      {2, H("c0"), "eip1559 transaction: max_priority_fee_per_gas: rlp: unexpected list, want string"},
      {3, rlp::EncodeBytes(Bytes(33, 1)),
       "eip1559 transaction: max_fee_per_gas: rlp: integer of 33 bytes overflows 256 bits"},
      {4, H("8100"),
       "eip1559 transaction: gas_limit: rlp: non-canonical size: single byte 0x00 "
       "below 0x80 must be its own encoding"},
      {5, rlp::EncodeBytes(Bytes(19, 1)),
       "eip1559 transaction: to: rlp: want an empty string or a 20-byte address, got 19 bytes"},
      {6, H("8200"), "eip1559 transaction: value: rlp: integer has a leading zero byte"},
      {7, H("c0"), "eip1559 transaction: data: rlp: unexpected list, want string"},
      {8, H("80"), "eip1559 transaction: access_list: rlp: unexpected string, want list"},
      {8, rlp::EncodeList({rlp::EncodeList({rlp::EncodeBytes(Bytes(20, 1))})}),
       "eip1559 transaction: access_list storage_keys: rlp: input too short: want an item, got 0 "
       "bytes"},
      {8,
       rlp::EncodeList(
           {rlp::EncodeList({rlp::EncodeBytes(Bytes(20, 1)), rlp::EncodeList({rlp::EncodeBytes(Bytes(31, 1))})})}),
       "eip1559 transaction: access_list storage key: rlp: want 32 bytes, got 31"},
      {8, rlp::EncodeList({rlp::EncodeList({rlp::EncodeBytes(Bytes(20, 1)), rlp::EncodeList({}), rlp::EncodeUint(1)})}),
       "eip1559 transaction: access_list entry: rlp: 1 trailing bytes after address and storage "
       "keys"},
      {8, rlp::EncodeList({rlp::EncodeBytes(Bytes(20, 1))}),
       "eip1559 transaction: access_list entry: rlp: unexpected string, want list"},
      {9, rlp::EncodeUint(2), "eip1559 transaction: y_parity: must be 0 or 1, got 2"},
      {9, rlp::EncodeUint(27), "eip1559 transaction: y_parity: must be 0 or 1, got 27"},
      {10, H("a100" + std::string(64, '1')), "eip1559 transaction: r: rlp: integer has a leading zero byte"},
      {11, rlp::EncodeBytes(Bytes(33, 1)), "eip1559 transaction: s: rlp: integer of 33 bytes overflows 256 bits"},
  };
  for (const Case& c : cases) {
    std::vector<Bytes> f = GoodFields();
    f[c.field] = c.replacement;
    EXPECT_EQ(DecodeSignedEip1559(Type2(f)).status().message(), c.error) << "field " << c.field;
  }
  std::vector<Bytes> extra = GoodFields();
  extra.push_back(rlp::EncodeUint(0));
  EXPECT_EQ(DecodeSignedEip1559(Type2(extra)).status().message(),
            "eip1559 transaction: fields: rlp: 1 trailing bytes after the last field");
  std::vector<Bytes> missing = GoodFields();
  missing.pop_back();
  EXPECT_EQ(DecodeSignedEip1559(Type2(missing)).status().message(),
            "eip1559 transaction: s: rlp: input too short: want an item, got 0 bytes");
}

TEST(Eip1559Transaction, EveryTruncationFailsCleanly) {
  Eip1559Transaction tx;
  tx.chain_id = 1;
  tx.to = A("0x0000000000000000000000000000000000000003");
  tx.data = Bytes(100, 0xab);
  tx.access_list = {{A("0x0000000000000000000000000000000000000001"), {Hash32(), Hash32()}}};
  const Bytes raw = SignEip1559(kAnvilKey, tx)->raw;
  for (size_t n = 0; n < raw.size(); ++n) {
    Bytes cut(raw.begin(), raw.begin() + n);
    EXPECT_FALSE(DecodeSignedEip1559(cut).ok()) << n;
  }
}

TEST(Eip1559Transaction, HighSSignatureDecodesButHasNoSender) {
  Eip1559Transaction tx;
  tx.chain_id = 1;
  auto signed_tx = DecodeSignedEip1559(SignEip1559(kAnvilKey, tx)->raw);
  ASSERT_TRUE(signed_tx.ok());
  const U256 n = *U256::FromHex("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  signed_tx->signature.s = U256::CheckedSub(n, U256::FromBytes32(signed_tx->signature.s))->ToBytes32();
  signed_tx->signature.recovery_id ^= 1;
  auto redecoded = DecodeSignedEip1559(signed_tx->Encode());
  ASSERT_TRUE(redecoded.ok());
  EXPECT_EQ(redecoded->Sender().status().message(), "signature: s is in the upper half of the order (EIP-2)");
}

TEST(Eip1559Transaction, InvalidSecret) {
  EXPECT_EQ(SignEip1559(Bytes(32, 0), Eip1559Transaction()).status().message(),
            "secret key: not in [1, n-1] of secp256k1");
}

}  // namespace
}  // namespace chain
