// Identity of a TLS peer certificate: the SHA-256 of its DER encoding (the form certificate
// allowlists and `openssl x509 -fingerprint -sha256` use) and its subject, from the PEM that
// gRPC's auth context carries ("x509_pem_cert").
#ifndef ONCHAIN_KMS_CRYPTO_X509_FINGERPRINT_H_
#define ONCHAIN_KMS_CRYPTO_X509_FINGERPRINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/sha256.h"

namespace crypto {

struct CertificateIdentity {
  Sha256Digest sha256{};  // of the DER certificate
  std::string subject;    // one-line RFC 2253 form, e.g. "CN=orchestrator,O=example"
};

// InvalidArgument if `pem` holds no parsable certificate (the first one is used).
absl::StatusOr<CertificateIdentity> IdentifyPemCertificate(absl::string_view pem);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_X509_FINGERPRINT_H_
