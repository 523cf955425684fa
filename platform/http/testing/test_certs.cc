#include "platform/http/testing/test_certs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "platform/status_macros.h"

namespace platform::http::testing {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return absl::InternalError(absl::StrCat("extension ", nid, " = ", value));
  }
  return absl::OkStatus();
}

absl::StatusOr<Owned<X509>> MakeCert(EVP_PKEY* key, const char* cn, long serial, X509* issuer) {
  Owned<X509> cert(X509_new());
  if (!cert) return absl::InternalError("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  return cert;
}

absl::StatusOr<std::string> Pem(X509* cert, EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (cert != nullptr && PEM_write_bio_X509(bio.get(), cert) != 1) return absl::InternalError("pem");
  if (key != nullptr && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("pem key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki(const std::vector<std::string>& dns_names,
                                    const std::vector<std::string>& ip_addresses) {
  Owned<EVP_PKEY> ca_key(EVP_EC_gen("P-256"));
  Owned<EVP_PKEY> server_key(EVP_EC_gen("P-256"));
  if (!ca_key || !server_key) return absl::InternalError("EVP_EC_gen");

  absl::StatusOr<Owned<X509>> ca = MakeCert(ca_key.get(), "cloudapi test ca", 1, nullptr);
  if (!ca.ok()) return ca.status();
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE"}, std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
        std::pair{NID_subject_key_identifier, "hash"}}) {
    RETURN_IF_ERROR(AddExt(ca->get(), ca->get(), nid, value));
  }
  if (X509_sign(ca->get(), ca_key.get(), EVP_sha256()) == 0) return absl::InternalError("sign ca");

  absl::StatusOr<Owned<X509>> leaf = MakeCert(server_key.get(), "cloudapi test server", 2, ca->get());
  if (!leaf.ok()) return leaf.status();
  std::vector<std::string> sans;
  for (const std::string& d : dns_names) sans.push_back(absl::StrCat("DNS:", d));
  for (const std::string& ip : ip_addresses) sans.push_back(absl::StrCat("IP:", ip));
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  if (!sans.empty()) exts.emplace_back(NID_subject_alt_name, absl::StrJoin(sans, ","));
  for (const auto& [nid, value] : exts) {
    RETURN_IF_ERROR(AddExt(leaf->get(), ca->get(), nid, value));
  }
  if (X509_sign(leaf->get(), ca_key.get(), EVP_sha256()) == 0) return absl::InternalError("sign");

  TestPki pki;
  absl::StatusOr<std::string> pem = Pem(ca->get(), nullptr);
  if (!pem.ok()) return pem.status();
  pki.ca_cert_pem = *pem;
  pem = Pem(leaf->get(), nullptr);
  if (!pem.ok()) return pem.status();
  pki.server_cert_pem = *pem;
  pem = Pem(nullptr, server_key.get());
  if (!pem.ok()) return pem.status();
  pki.server_key_pem = *pem;
  return pki;
}

absl::Status WriteTextFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace platform::http::testing
