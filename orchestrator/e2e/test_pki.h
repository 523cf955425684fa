// A throwaway PKI and bearer tokens for the TLS tests of the orchestrator process, made with the
// openssl CLI.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_E2E_TEST_PKI_H_
#define ONCHAIN_KMS_ORCHESTRATOR_E2E_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace orchestrator::e2e {

// Writes into `dir`: ca.pem/ca.key, server.pem/server.key (SAN localhost and 127.0.0.1) and, for
// each name in `clients`, <name>.pem/<name>.key (CN = name, clientAuth), keys mode 0600.
absl::Status MakeTestPki(const std::string& dir, const std::vector<std::string>& clients);

// The line of a bearer_tokens_file for `token` listed under `name`: "<name> <hex sha256>\n".
std::string BearerTokenLine(absl::string_view name, absl::string_view token);

// A whole file ("" when it cannot be read).
std::string ReadTextFile(const std::string& path);

}  // namespace orchestrator::e2e

#endif  // ONCHAIN_KMS_ORCHESTRATOR_E2E_TEST_PKI_H_
