#include "cloudapi/env_encryption.h"

#include <algorithm>
#include <utility>

#include <boost/json/value.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "chain/hex.h"
#include "cloudapi/js_json.h"
#include "crypto/aes_gcm.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "crypto/secure_wipe.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

constexpr size_t kHeaderSize = crypto::kX25519KeySize + crypto::kAesGcmIvSize;

absl::string_view View(json::string_view s) { return absl::string_view(s.data(), s.size()); }

crypto::ByteView AsBytes(absl::string_view s) {
  return crypto::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Wipes a std::string's buffer before it is released.
struct WipeOnExit {
  std::string& s;
  ~WipeOnExit() { crypto::SecureWipe(s.data(), s.size()); }
};

}  // namespace

absl::StatusOr<std::string> EnvVarsPlaintext(const std::vector<EnvVar>& vars) {
  // Reserve the worst case (every byte escaped as \u00XX) so the buffer holding secrets is never
  // reallocated, which would leave copies behind.
  size_t bound = 16;
  for (const EnvVar& v : vars) bound += 6 * (v.key.size() + v.value.size()) + 32;
  std::string out;
  out.reserve(bound);
  out += "{\"env\":[";
  for (size_t i = 0; i < vars.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"key\":";
    if (!AppendJsJsonString(vars[i].key, out).ok()) {
      crypto::SecureWipe(out.data(), out.size());
      return absl::InvalidArgumentError(absl::StrCat("env var #", i + 1, ": key is not valid UTF-8"));
    }
    out += ",\"value\":";
    if (!AppendJsJsonString(vars[i].value, out).ok()) {
      crypto::SecureWipe(out.data(), out.size());
      return absl::InvalidArgumentError(absl::StrCat("env var ", vars[i].key, ": value is not valid UTF-8"));
    }
    out.push_back('}');
  }
  out += "]}";
  return out;
}

absl::StatusOr<crypto::X25519PublicKey> ParseX25519PublicKeyHex(absl::string_view hex) {
  crypto::X25519PublicKey key{};
  absl::Status st =
      chain::FromHexInto(hex, absl::MakeSpan(key), chain::HexPrefix::kOptional, "env encryption public key");
  if (!st.ok()) return st;
  return key;
}

namespace internal {

absl::StatusOr<std::string> EncryptEnvVarsDeterministic(const std::vector<EnvVar>& vars,
                                                        const crypto::X25519PublicKey& app_public_key,
                                                        const crypto::X25519PrivateKey& ephemeral,
                                                        crypto::ByteView iv) {
  absl::StatusOr<std::string> plaintext = EnvVarsPlaintext(vars);
  if (!plaintext.ok()) return plaintext.status();
  WipeOnExit wipe{*plaintext};
  absl::StatusOr<crypto::X25519PublicKey> ephemeral_public = ephemeral.PublicKey();
  if (!ephemeral_public.ok()) return ephemeral_public.status();
  absl::StatusOr<crypto::SecretBytes> shared = crypto::X25519SharedSecret(ephemeral, app_public_key);
  if (!shared.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("env encryption public key: ", shared.status().message()));
  }
  absl::StatusOr<crypto::Bytes> sealed = crypto::AesGcmEncrypt(shared->view(), iv, AsBytes(*plaintext));
  if (!sealed.ok()) return sealed.status();
  crypto::Bytes out;
  out.reserve(kHeaderSize + sealed->size());
  out.insert(out.end(), ephemeral_public->begin(), ephemeral_public->end());
  out.insert(out.end(), iv.begin(), iv.end());
  out.insert(out.end(), sealed->begin(), sealed->end());
  return chain::ToHex(out, /*prefix=*/false);
}

}  // namespace internal

absl::StatusOr<std::string> EncryptEnvVars(const std::vector<EnvVar>& vars, absl::string_view app_public_key_hex) {
  absl::StatusOr<crypto::X25519PublicKey> app_public_key = ParseX25519PublicKeyHex(app_public_key_hex);
  if (!app_public_key.ok()) return app_public_key.status();
  absl::StatusOr<crypto::X25519PrivateKey> ephemeral = crypto::X25519PrivateKey::Generate();
  if (!ephemeral.ok()) return ephemeral.status();
  absl::StatusOr<crypto::Bytes> iv = crypto::RandomBytes(crypto::kAesGcmIvSize);
  if (!iv.ok()) return iv.status();
  return internal::EncryptEnvVarsDeterministic(vars, *app_public_key, *ephemeral, *iv);
}

absl::StatusOr<std::vector<EnvVar>> DecryptEnvVars(absl::string_view ciphertext_hex,
                                                   const crypto::X25519PrivateKey& app_private_key) {
  absl::StatusOr<crypto::Bytes> raw = chain::FromHex(ciphertext_hex);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("encrypted env: ", absl::StripPrefix(raw.status().message(), "hex: ")));
  }
  if (raw->size() < kHeaderSize + crypto::kAesGcmTagSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("encrypted env: ", raw->size(), " bytes is shorter than the 60-byte minimum"));
  }
  crypto::X25519PublicKey ephemeral_public{};
  std::copy_n(raw->begin(), crypto::kX25519KeySize, ephemeral_public.begin());
  absl::StatusOr<crypto::SecretBytes> shared = crypto::X25519SharedSecret(app_private_key, ephemeral_public);
  if (!shared.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("encrypted env: ephemeral key: ", shared.status().message()));
  }
  const crypto::ByteView all(*raw);
  absl::StatusOr<crypto::Bytes> plaintext = crypto::AesGcmDecrypt(
      shared->view(), all.subspan(crypto::kX25519KeySize, crypto::kAesGcmIvSize), all.subspan(kHeaderSize));
  if (!plaintext.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("encrypted env: ", plaintext.status().message()));
  }
  crypto::SecretBytes secret(*plaintext);
  crypto::SecureWipe(plaintext->data(), plaintext->size());

  absl::StatusOr<json::value> doc =
      ParseJsonLikeJs(absl::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()));
  // The parser's message names only a byte offset, never content.
  if (!doc.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("encrypted env: ", doc.status().message()));
  }
  const json::value* env = doc->is_object() ? doc->get_object().if_contains("env") : nullptr;
  if (env == nullptr || !env->is_array()) {
    return absl::InvalidArgumentError("encrypted env: plaintext is not {\"env\": [...]}");
  }
  std::vector<EnvVar> out;
  out.reserve(env->get_array().size());
  for (size_t i = 0; i < env->get_array().size(); ++i) {
    const json::value& item = env->get_array()[i];
    const json::value* key = item.is_object() ? item.get_object().if_contains("key") : nullptr;
    const json::value* value = item.is_object() ? item.get_object().if_contains("value") : nullptr;
    if (key == nullptr || value == nullptr || !key->is_string() || !value->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("encrypted env: entry #", i + 1, " is not {\"key\": string, \"value\": string}"));
    }
    out.push_back(EnvVar{std::string(View(key->get_string())), std::string(View(value->get_string()))});
  }
  return out;
}

}  // namespace cloudapi
