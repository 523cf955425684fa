// The end-to-end tests' independent verdict on a CVM of the Phala Cloud simulator: runs
// cvm_oracle.js (plain node:crypto, no cloudapi/ code, see phala_oracle.js) on the simulator's
// stored state and returns what it recomputed. Needs `node` on PATH and, in the test's data,
// //test/oracle:cvm_oracle_js.
#ifndef ONCHAIN_KMS_TEST_ORACLE_CVM_ORACLE_H_
#define ONCHAIN_KMS_TEST_ORACLE_CVM_ORACLE_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"

namespace oracle {

struct CvmView {
  std::string compose_hash;          // sha256 (64 hex) of the stored app compose, in the service's form
  std::string stored_compose_hash;   // the hash the simulator recorded for it
  std::string public_key;            // the app's X25519 public key, derived from its private key
  std::string published_public_key;  // the key the simulator handed out for encryption
  boost::json::object app_compose;
  // The stored encrypted_env decrypted: key -> value in order of the plaintext; nullopt without one.
  std::optional<std::vector<std::pair<std::string, std::string>>> env;
  std::string plaintext;  // its exact bytes
};

// `admin_url`: the simulator's http://127.0.0.1:PORT/_sim. Fails when the stored ciphertext does
// not decrypt (bad tag, bad layout, not {"env": [...]}) with the app's key.
absl::StatusOr<CvmView> InspectCvm(const std::string& admin_url, const std::string& cvm_id);

// The env as a map (for lookups by key).
std::map<std::string, std::string> EnvMap(const CvmView& view);

}  // namespace oracle

#endif  // ONCHAIN_KMS_TEST_ORACLE_CVM_ORACLE_H_
