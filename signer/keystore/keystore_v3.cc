#include "signer/keystore/keystore_v3.h"

#include <array>
#include <cstring>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/secp256k1.h"
#include "crypto/aes_ctr.h"
#include "crypto/constant_time.h"
#include "crypto/pbkdf2.h"
#include "crypto/random.h"
#include "crypto/secure_wipe.h"
#include "platform/status_macros.h"

namespace signer::keystore {
namespace {

namespace json = boost::json;

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("keystore: ", field, ": ", why));
}

// A parsed, validated file.
struct Parsed {
  KeystoreInfo info;
  chain::Bytes iv;
  chain::Bytes ciphertext;
  chain::Bytes salt;
  chain::Bytes mac;
  uint32_t dklen = 32;
  // scrypt
  uint64_t n = 0;
  uint32_t r = 0, p = 0;
  // pbkdf2
  uint32_t c = 0;
};

const json::value* Get(const json::object& o, absl::string_view key) {
  auto it = o.find(json::string_view(key.data(), key.size()));
  return it == o.end() ? nullptr : &it->value();
}

absl::StatusOr<std::string> GetString(const json::object& o, absl::string_view key, absl::string_view field) {
  const json::value* v = Get(o, key);
  if (v == nullptr) return Bad(field, "missing");
  if (!v->is_string()) return Bad(field, "must be a string");
  return std::string(v->as_string().c_str(), v->as_string().size());
}

absl::StatusOr<uint64_t> GetUint(const json::object& o, absl::string_view key, absl::string_view field) {
  const json::value* v = Get(o, key);
  if (v == nullptr) return Bad(field, "missing");
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return Bad(field, "must be a non-negative integer");
}

absl::StatusOr<chain::Bytes> GetHex(const json::object& o, absl::string_view key, absl::string_view field,
                                    size_t min_size, size_t max_size) {
  absl::StatusOr<std::string> s = GetString(o, key, field);
  if (!s.ok()) return s.status();
  absl::StatusOr<chain::Bytes> b = chain::FromHex(*s, chain::HexPrefix::kOptional);
  if (!b.ok()) return Bad(field, b.status().message());
  if (b->size() < min_size || b->size() > max_size) {
    return Bad(
        field,
        absl::StrCat("must be ", min_size == max_size ? absl::StrCat(min_size) : absl::StrCat(min_size, "..", max_size),
                     " bytes, got ", b->size()));
  }
  return b;
}

// version (must be 3); id and address, both optional.
absl::Status ParseIdentity(const json::object& top, Parsed& out) {
  absl::StatusOr<uint64_t> version = GetUint(top, "version", "version");
  if (!version.ok()) return version.status();
  if (*version != 3) return Bad("version", absl::StrCat("unsupported version ", *version, " (want 3)"));
  if (const json::value* id = Get(top, "id"); id != nullptr && id->is_string()) {
    out.info.id = std::string(id->as_string().c_str(), id->as_string().size());
  }
  if (const json::value* a = Get(top, "address"); a != nullptr) {
    if (!a->is_string()) return Bad("address", "must be a string");
    std::string s(a->as_string().c_str(), a->as_string().size());
    if (!chain::HasHexPrefix(s)) s = "0x" + s;
    absl::StatusOr<chain::Address> addr = chain::Address::Parse(s);
    if (!addr.ok()) return Bad("address", addr.status().message());
    out.info.address = *addr;
  }
  return absl::OkStatus();
}

// crypto.cipher (aes-128-ctr), its iv, the ciphertext and the MAC.
absl::Status ParseCipher(const json::object& cr, Parsed& out) {
  absl::StatusOr<std::string> cipher = GetString(cr, "cipher", "crypto.cipher");
  if (!cipher.ok()) return cipher.status();
  if (*cipher != "aes-128-ctr") return Bad("crypto.cipher", absl::StrCat("unsupported cipher \"", *cipher, "\""));
  const json::value* cp = Get(cr, "cipherparams");
  if (cp == nullptr || !cp->is_object()) return Bad("crypto.cipherparams", "missing or not an object");
  absl::StatusOr<chain::Bytes> iv = GetHex(cp->as_object(), "iv", "crypto.cipherparams.iv", 16, 16);
  if (!iv.ok()) return iv.status();
  out.iv = *std::move(iv);
  // A secp256k1 secret is 32 bytes; geth's test vectors include 30/31-byte ones (leading zeros).
  absl::StatusOr<chain::Bytes> ct = GetHex(cr, "ciphertext", "crypto.ciphertext", 1, 32);
  if (!ct.ok()) return ct.status();
  out.ciphertext = *std::move(ct);
  absl::StatusOr<chain::Bytes> mac = GetHex(cr, "mac", "crypto.mac", 32, 32);
  if (!mac.ok()) return mac.status();
  out.mac = *std::move(mac);
  return absl::OkStatus();
}

// crypto.kdf and crypto.kdfparams, within `limits` (a hostile file must not cost minutes of CPU).
absl::Status ParseKdf(const json::object& cr, const KdfLimits& limits, Parsed& out) {
  absl::StatusOr<std::string> kdf = GetString(cr, "kdf", "crypto.kdf");
  if (!kdf.ok()) return kdf.status();
  const json::value* kp = Get(cr, "kdfparams");
  if (kp == nullptr || !kp->is_object()) return Bad("crypto.kdfparams", "missing or not an object");
  const json::object& params = kp->as_object();
  absl::StatusOr<uint64_t> dklen = GetUint(params, "dklen", "crypto.kdfparams.dklen");
  if (!dklen.ok()) return dklen.status();
  if (*dklen < 32 || *dklen > 64) return Bad("crypto.kdfparams.dklen", absl::StrCat("must be 32..64, got ", *dklen));
  out.dklen = static_cast<uint32_t>(*dklen);
  absl::StatusOr<chain::Bytes> salt = GetHex(params, "salt", "crypto.kdfparams.salt", 1, 128);
  if (!salt.ok()) return salt.status();
  out.salt = *std::move(salt);
  out.info.kdf = *kdf;

  if (*kdf == "scrypt") {
    absl::StatusOr<uint64_t> n = GetUint(params, "n", "crypto.kdfparams.n");
    if (!n.ok()) return n.status();
    absl::StatusOr<uint64_t> r = GetUint(params, "r", "crypto.kdfparams.r");
    if (!r.ok()) return r.status();
    absl::StatusOr<uint64_t> p = GetUint(params, "p", "crypto.kdfparams.p");
    if (!p.ok()) return p.status();
    if (*r > UINT32_MAX || *p > UINT32_MAX) return Bad("crypto.kdfparams", "r or p out of range");
    if (absl::Status s =
            crypto::ValidateScryptParams(*n, static_cast<uint32_t>(*r), static_cast<uint32_t>(*p), limits.scrypt);
        !s.ok()) {
      return Bad("crypto.kdfparams", s.message());
    }
    out.n = *n;
    out.r = static_cast<uint32_t>(*r);
    out.p = static_cast<uint32_t>(*p);
  } else if (*kdf == "pbkdf2") {
    absl::StatusOr<std::string> prf = GetString(params, "prf", "crypto.kdfparams.prf");
    if (!prf.ok()) return prf.status();
    if (*prf != "hmac-sha256") return Bad("crypto.kdfparams.prf", absl::StrCat("unsupported prf \"", *prf, "\""));
    absl::StatusOr<uint64_t> c = GetUint(params, "c", "crypto.kdfparams.c");
    if (!c.ok()) return c.status();
    if (*c < 1 || *c > limits.max_pbkdf2_c) {
      return Bad("crypto.kdfparams.c", absl::StrCat("must be 1..", limits.max_pbkdf2_c, ", got ", *c));
    }
    out.c = static_cast<uint32_t>(*c);
  } else {
    return Bad("crypto.kdf", absl::StrCat("unsupported kdf \"", *kdf, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<Parsed> Parse(absl::string_view text, const KdfLimits& limits) {
  if (text.size() > limits.max_file_bytes)
    return Bad("file", absl::StrCat("larger than ", limits.max_file_bytes, " bytes"));
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Bad("file", "not valid JSON");
  if (!root.is_object()) return Bad("file", "not a JSON object");
  const json::object& top = root.as_object();
  Parsed out;

  RETURN_IF_ERROR(ParseIdentity(top, out));

  const json::value* crypto_v = Get(top, "crypto");
  if (crypto_v == nullptr) crypto_v = Get(top, "Crypto");  // legacy capitalisation (geth accepts it)
  if (crypto_v == nullptr || !crypto_v->is_object()) return Bad("crypto", "missing or not an object");
  const json::object& cr = crypto_v->as_object();

  RETURN_IF_ERROR(ParseCipher(cr, out));
  RETURN_IF_ERROR(ParseKdf(cr, limits, out));
  return out;
}

}  // namespace

absl::StatusOr<KeystoreInfo> InspectKeystore(absl::string_view json_text, const KdfLimits& limits) {
  absl::StatusOr<Parsed> parsed = Parse(json_text, limits);
  if (!parsed.ok()) return parsed.status();
  return parsed->info;
}

absl::StatusOr<DecryptedKey> DecryptKeystore(absl::string_view json_text, chain::ByteView password,
                                             const KdfLimits& limits) {
  absl::StatusOr<Parsed> parsed = Parse(json_text, limits);
  if (!parsed.ok()) return parsed.status();
  const Parsed& f = *parsed;

  absl::StatusOr<crypto::LockedBuffer> dk = crypto::LockedBuffer::Allocate(f.dklen);
  if (!dk.ok()) return dk.status();
  absl::Status derived = f.info.kdf == "scrypt"
                             ? crypto::Scrypt(password, f.salt, f.n, f.r, f.p, dk->span(), limits.scrypt)
                             : crypto::Pbkdf2HmacSha256(password, f.salt, f.c, dk->span());
  if (!derived.ok()) return derived;

  // MAC = keccak256(DK[16..31] || ciphertext), compared in constant time.
  chain::Keccak256Hasher hasher;
  hasher.Update(chain::ByteView(dk->data() + 16, 16));
  hasher.Update(chain::ByteView(f.ciphertext));
  const chain::Hash32 mac = hasher.Final();
  if (!crypto::ConstantTimeEquals(mac.bytes(), f.mac)) {
    return absl::PermissionDeniedError("keystore: mac mismatch (wrong password or corrupted file)");
  }

  absl::StatusOr<crypto::LockedBuffer> secret = crypto::LockedBuffer::Allocate(32);
  if (!secret.ok()) return secret.status();
  // Left-pad a short ciphertext's plaintext: decrypt into the tail of the 32-byte buffer.
  const size_t pad = 32 - f.ciphertext.size();
  if (absl::Status s = crypto::Aes128Ctr(chain::ByteView(dk->data(), 16), f.iv, f.ciphertext,
                                         absl::MakeSpan(secret->data() + pad, f.ciphertext.size()));
      !s.ok()) {
    return s;
  }
  dk->Release();
  absl::StatusOr<chain::Address> address = chain::AddressFromSecret(secret->view());
  if (!address.ok()) return absl::InvalidArgumentError("keystore: decrypted secret is not a valid secp256k1 key");
  if (f.info.address.has_value() && *f.info.address != *address) {
    return absl::InvalidArgumentError(absl::StrCat("keystore: address: the file says ", f.info.address->Checksummed(),
                                                   " but the key is ", address->Checksummed()));
  }
  return DecryptedKey{*address, *std::move(secret)};
}

absl::StatusOr<std::string> EncryptKeystore(chain::ByteView secret, chain::ByteView password,
                                            const EncryptParams& params) {
  if (absl::Status s = chain::ValidateSecret(secret); !s.ok())
    return absl::InvalidArgumentError("keystore: invalid secret key");
  absl::StatusOr<chain::Address> address = chain::AddressFromSecret(secret);
  if (!address.ok()) return address.status();
  absl::StatusOr<crypto::Bytes> salt = crypto::RandomBytes(32);
  if (!salt.ok()) return salt.status();
  absl::StatusOr<crypto::Bytes> iv = crypto::RandomBytes(16);
  if (!iv.ok()) return iv.status();
  absl::StatusOr<crypto::Bytes> uuid = crypto::RandomBytes(16);
  if (!uuid.ok()) return uuid.status();
  (*uuid)[6] = static_cast<uint8_t>(((*uuid)[6] & 0x0f) | 0x40);  // version 4
  (*uuid)[8] = static_cast<uint8_t>(((*uuid)[8] & 0x3f) | 0x80);  // RFC 4122 variant

  absl::StatusOr<crypto::LockedBuffer> dk = crypto::LockedBuffer::Allocate(32);
  if (!dk.ok()) return dk.status();
  json::object kdfparams;
  std::string kdf;
  if (params.kdf == EncryptParams::Kdf::kScrypt) {
    if (absl::Status s = crypto::Scrypt(password, *salt, params.scrypt_n, params.scrypt_r, params.scrypt_p, dk->span());
        !s.ok()) {
      return s;
    }
    kdf = "scrypt";
    kdfparams["dklen"] = 32;
    kdfparams["n"] = params.scrypt_n;
    kdfparams["p"] = params.scrypt_p;
    kdfparams["r"] = params.scrypt_r;
  } else {
    RETURN_IF_ERROR(crypto::Pbkdf2HmacSha256(password, *salt, params.pbkdf2_c, dk->span()));
    kdf = "pbkdf2";
    kdfparams["c"] = params.pbkdf2_c;
    kdfparams["dklen"] = 32;
    kdfparams["prf"] = "hmac-sha256";
  }
  kdfparams["salt"] = chain::ToHex(*salt, false);

  chain::Bytes ciphertext(32);
  if (absl::Status s = crypto::Aes128Ctr(chain::ByteView(dk->data(), 16), *iv, secret, absl::MakeSpan(ciphertext));
      !s.ok()) {
    return s;
  }
  chain::Keccak256Hasher hasher;
  hasher.Update(chain::ByteView(dk->data() + 16, 16));
  hasher.Update(chain::ByteView(ciphertext));
  const chain::Hash32 mac = hasher.Final();

  const std::string u = chain::ToHex(*uuid, false);
  json::object crypto_obj;
  crypto_obj["cipher"] = "aes-128-ctr";
  crypto_obj["cipherparams"] = json::object{{"iv", chain::ToHex(*iv, false)}};
  crypto_obj["ciphertext"] = chain::ToHex(ciphertext, false);
  crypto_obj["kdf"] = kdf;
  crypto_obj["kdfparams"] = std::move(kdfparams);
  crypto_obj["mac"] = chain::ToHex(mac.bytes(), false);
  json::object root;
  root["address"] = address->Hex().substr(2);
  root["crypto"] = std::move(crypto_obj);
  root["id"] =
      absl::StrCat(u.substr(0, 8), "-", u.substr(8, 4), "-", u.substr(12, 4), "-", u.substr(16, 4), "-", u.substr(20));
  root["version"] = 3;
  return json::serialize(root);
}

}  // namespace signer::keystore
