// EIP-191 version 0x45 ("personal_sign") message hashing, signing and recovery.
#ifndef ONCHAIN_KMS_CHAIN_EIP191_H_
#define ONCHAIN_KMS_CHAIN_EIP191_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"

namespace chain {

// keccak256("\x19Ethereum Signed Message:\n" + decimal(len(message)) + message).
Hash32 PersonalMessageHash(ByteView message);

// 65 bytes r || s || v with v = 27 or 28, as personal_sign returns.
absl::StatusOr<std::array<uint8_t, 65>> SignPersonalMessage(ByteView secret, ByteView message);

// Signer of `message`; `signature` is r || s || v with v in {27, 28} (or {0, 1}).
absl::StatusOr<Address> RecoverPersonalMessage(ByteView message, ByteView signature);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_EIP191_H_
