#include "crypto/x509_fingerprint.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>

#include "crypto/openssl_util.h"

namespace crypto {

absl::StatusOr<CertificateIdentity> IdentifyPemCertificate(absl::string_view pem) {
  if (pem.empty() || pem.size() > INT_MAX) return absl::InvalidArgumentError("certificate: empty or too large");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) return absl::InternalError("certificate: BIO_new_mem_buf failed");
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) {
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("certificate: not a PEM X.509 certificate");
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return internal::OpenSslError(absl::StatusCode::kInternal, "certificate: DER encoding failed");
  CertificateIdentity out;
  out.sha256 = Sha256(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  std::unique_ptr<BIO, decltype(&BIO_free)> mem(BIO_new(BIO_s_mem()), &BIO_free);
  if (mem != nullptr && X509_NAME_print_ex(mem.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(mem.get(), &data);
    if (n > 0) out.subject.assign(data, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace crypto
