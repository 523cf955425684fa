#include "chain/eip191.h"

#include <string>

#include "chain/keccak.h"
#include "chain/secp256k1.h"

namespace chain {

Hash32 PersonalMessageHash(ByteView message) {
  Keccak256Hasher h;
  h.Update(
      absl::string_view("\x19"
                        "Ethereum Signed Message:\n"));
  h.Update(absl::string_view(std::to_string(message.size())));
  h.Update(message);
  return h.Final();
}

absl::StatusOr<std::array<uint8_t, 65>> SignPersonalMessage(ByteView secret, ByteView message) {
  absl::StatusOr<RecoverableSignature> sig = SignHash(secret, PersonalMessageHash(message));
  if (!sig.ok()) return sig.status();
  std::array<uint8_t, 65> out = sig->ToBytes();
  out[64] = static_cast<uint8_t>(27 + sig->recovery_id);
  return out;
}

absl::StatusOr<Address> RecoverPersonalMessage(ByteView message, ByteView signature) {
  absl::StatusOr<RecoverableSignature> sig = RecoverableSignature::FromBytes(signature);
  if (!sig.ok()) return sig.status();
  return Recover(PersonalMessageHash(message), *sig);
}

}  // namespace chain
