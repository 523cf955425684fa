// Ethereum transactions: EIP-1559 (type 2) and legacy with EIP-155 replay protection.
// Payloads, signing hashes, signed raw bytes, transaction hashes, strict decoding.
#ifndef ONCHAIN_KMS_CHAIN_TRANSACTION_H_
#define ONCHAIN_KMS_CHAIN_TRANSACTION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/secp256k1.h"
#include "chain/u256.h"

namespace chain {

struct AccessListEntry {
  Address address;
  std::vector<Hash32> storage_keys;
  friend bool operator==(const AccessListEntry&, const AccessListEntry&) = default;
};
using AccessList = std::vector<AccessListEntry>;

// EIP-1559: 0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit,
//                        to, value, data, access_list, y_parity, r, s]).
struct Eip1559Transaction {
  uint64_t chain_id = 0;
  uint64_t nonce = 0;
  U256 max_priority_fee_per_gas;
  U256 max_fee_per_gas;
  uint64_t gas_limit = 0;
  std::optional<Address> to;  // nullopt: contract creation
  Wei value;
  Bytes data;
  AccessList access_list;  // usually empty; encoded as the empty list 0xc0

  // 0x02 || rlp([the nine unsigned fields]).
  Bytes SigningPayload() const;
  // keccak256(SigningPayload()): what the key signs.
  Hash32 SigningHash() const;
  // The raw transaction for eth_sendRawTransaction.
  Bytes EncodeSigned(const RecoverableSignature& sig) const;

  friend bool operator==(const Eip1559Transaction&, const Eip1559Transaction&) = default;
};

struct SignedEip1559Transaction {
  Eip1559Transaction tx;
  RecoverableSignature signature;

  Bytes Encode() const { return tx.EncodeSigned(signature); }
  // Recovers the sender; fails on a high-s or otherwise invalid signature.
  absl::StatusOr<Address> Sender() const;
};

// Strict: type byte 0x02, one canonical RLP list of exactly 12 fields, nothing after it,
// y_parity 0 or 1, r and s at most 32 bytes. Errors name the field:
// "eip1559 transaction: max_fee_per_gas: rlp: integer has a leading zero byte".
absl::StatusOr<SignedEip1559Transaction> DecodeSignedEip1559(ByteView raw);

// Legacy: rlp([nonce, gas_price, gas_limit, to, value, data, v, r, s]).
struct LegacyTransaction {
  uint64_t nonce = 0;
  U256 gas_price;
  uint64_t gas_limit = 0;
  std::optional<Address> to;
  Wei value;
  Bytes data;
  // Set: EIP-155 (signs [..., chain_id, 0, 0]; v = recovery_id + chain_id * 2 + 35).
  // Unset: pre-EIP-155 (signs the six fields; v = 27 + recovery_id).
  std::optional<uint64_t> chain_id;

  Bytes SigningPayload() const;
  Hash32 SigningHash() const;
  Bytes EncodeSigned(const RecoverableSignature& sig) const;

  friend bool operator==(const LegacyTransaction&, const LegacyTransaction&) = default;
};

struct SignedLegacyTransaction {
  LegacyTransaction tx;  // chain_id derived from v
  RecoverableSignature signature;

  Bytes Encode() const { return tx.EncodeSigned(signature); }
  absl::StatusOr<Address> Sender() const;
};

absl::StatusOr<SignedLegacyTransaction> DecodeSignedLegacy(ByteView raw);

// keccak256 of the raw signed bytes (typed or legacy): the hash nodes report.
Hash32 TxHash(ByteView raw);

struct SignedTransaction {
  Bytes raw;     // for eth_sendRawTransaction
  Hash32 hash;   // TxHash(raw)
  Address from;  // the signer's address
};

// Signs and encodes; fails only on an invalid secret.
absl::StatusOr<SignedTransaction> SignEip1559(ByteView secret, const Eip1559Transaction& tx);
absl::StatusOr<SignedTransaction> SignLegacy(ByteView secret, const LegacyTransaction& tx);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_TRANSACTION_H_
