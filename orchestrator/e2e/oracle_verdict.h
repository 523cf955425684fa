// The end-to-end verdict that shares no code with cloudapi/ (test/oracle: plain node:crypto on
// what the simulator stored), for the tests whose other checks read what the simulator, built on
// cloudapi/, computed and decrypted itself.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_E2E_ORACLE_VERDICT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_E2E_ORACLE_VERDICT_H_

#include <map>
#include <string>

#include "orchestrator/e2e/stack.h"

namespace orchestrator::e2e {

// gtest expectations: the stored app compose hashes to `want_hash` (0x-hex) in the service's form,
// that hash is allowed by the app's contract on chain (`app` empty: PHALA KMS, nothing on chain),
// the key the simulator handed out is the public half of the app's key, and the stored
// encrypted_env decrypts to exactly `want_env`, every key of which the app compose allows.
void ExpectIndependentVerdict(Stack& stack, const std::string& cvm_id, const std::string& want_hash,
                              const std::map<std::string, std::string>& want_env, const std::string& app);

}  // namespace orchestrator::e2e

#endif  // ONCHAIN_KMS_ORCHESTRATOR_E2E_ORACLE_VERDICT_H_
