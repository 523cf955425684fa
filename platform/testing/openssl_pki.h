// Test support: a throwaway PKI made with the openssl command (platform may not link
// orchestrator/e2e's): for servers and clients speaking TLS on 127.0.0.1 in tests.
#ifndef ONCHAIN_KMS_PLATFORM_TESTING_OPENSSL_PKI_H_
#define ONCHAIN_KMS_PLATFORM_TESTING_OPENSSL_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace platform::testing {

// True when /usr/bin/openssl can be run (tests skip otherwise).
bool HaveOpenssl();

// Writes into `dir`: ca.key/ca.pem (CN test-ca), server.key/server.pem (CN server, SAN
// IP:127.0.0.1) and, for each of `client_names`, <name>.key/<name>.pem (CN <name>), all P-256
// and signed by the CA.
absl::Status MakeOpensslPki(const std::string& dir, const std::vector<std::string>& client_names = {});

}  // namespace platform::testing

#endif  // ONCHAIN_KMS_PLATFORM_TESTING_OPENSSL_PKI_H_
