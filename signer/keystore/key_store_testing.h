// For tests only: what a memory fault would do to a loaded key.
#ifndef ONCHAIN_KMS_SIGNER_KEYSTORE_KEY_STORE_TESTING_H_
#define ONCHAIN_KMS_SIGNER_KEYSTORE_KEY_STORE_TESTING_H_

#include <cstdint>

#include "chain/address.h"
#include "signer/keystore/key_store.h"

namespace signer::keystore {

class KeyStoreTestPeer {
 public:
  // Flips bit `bit` (0..255) of the secret of `address`, which must be loaded.
  static void FlipSecretBit(KeyStore& store, const chain::Address& address, int bit) {
    store.keys_.at(address).secret.data()[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
};

}  // namespace signer::keystore

#endif  // ONCHAIN_KMS_SIGNER_KEYSTORE_KEY_STORE_TESTING_H_
