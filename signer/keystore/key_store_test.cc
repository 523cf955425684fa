#include "signer/keystore/key_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "platform/testing/secret_files.h"
#include "signer/keystore/key_store_testing.h"
#include "signer/keystore/password.h"
#include "signer/keystore/secret_file.h"

namespace signer::keystore {

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKey0[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr char kKey1[] = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

chain::Bytes Pw(absl::string_view s) { return chain::Bytes(s.begin(), s.end()); }

std::string NewDir(const std::string& name) {
  const std::string d = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

std::string Light(absl::string_view secret_hex, absl::string_view password) {
  EncryptParams p;
  p.scrypt_n = 1024;
  return *EncryptKeystore(*chain::FromHex(secret_hex), Pw(password), p);
}

absl::StatusOr<crypto::LockedBuffer> Buffer(absl::string_view s) {
  absl::StatusOr<crypto::LockedBuffer> b = crypto::LockedBuffer::Allocate(s.size());
  if (b.ok()) std::memcpy(b->data(), s.data(), s.size());
  return b;
}

TEST(KeyStore, LoadsSeveralKeysWithPerKeyPasswordsAndSigns) {
  const std::string dir = NewDir("multi");
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "a.json", Light(kKey0, "one")).ok());
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "b.json", Light(kKey1, "two")).ok());
  { std::ofstream(dir + "/.hidden") << "ignored"; }
  const chain::Address a0 = *chain::AddressFromSecret(*chain::FromHex(kKey0));
  const chain::Address a1 = *chain::AddressFromSecret(*chain::FromHex(kKey1));
  auto one = *Buffer("one");
  auto two = *Buffer("two");
  absl::StatusOr<std::unique_ptr<KeyStore>> store =
      KeyStore::Load(dir, [&](const std::optional<chain::Address>& a) -> absl::StatusOr<const crypto::LockedBuffer*> {
        return a == a1 ? &two : &one;
      });
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ((*store)->size(), 2u);
  std::vector<KeyInfo> keys = (*store)->List();
  EXPECT_EQ(keys[0].address, std::min(a0, a1));
  const chain::Hash32 h = chain::Keccak256("hello");
  absl::StatusOr<chain::RecoverableSignature> sig = (*store)->SignHash(a1, h);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*chain::Recover(h, *sig), a1);
  EXPECT_TRUE(absl::IsNotFound((*store)->SignHash(chain::Address(), h).status()));
}

// The store's signatures are RFC 6979's, byte for byte: its nonces come from
// crypto::Secp256k1Rfc6979Nonce (OpenSSL's SHA-256), chain::SignHash's from libsecp256k1.
TEST(KeyStore, SignsTheSameBytesAsLibsecp256k1sDefaultNonces) {
  const chain::Bytes secret = *chain::FromHex(kKey1);
  absl::StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::FromSecrets({{"k1", secret}});
  ASSERT_TRUE(store.ok()) << store.status();
  const chain::Address a1 = *chain::AddressFromSecret(secret);
  for (int i = 0; i < 200; ++i) {
    const chain::Hash32 h = chain::Keccak256(absl::StrCat("tx ", i));
    absl::StatusOr<chain::RecoverableSignature> sig = (*store)->SignHash(a1, h);
    ASSERT_TRUE(sig.ok()) << sig.status();
    ASSERT_EQ(*sig, *chain::SignHash(secret, h)) << i;
  }
  const chain::Hash32 above_order = *chain::Hash32::FromHex(std::string(64, 'f'));  // reduced mod n
  EXPECT_EQ(*(*store)->SignHash(a1, above_order), *chain::SignHash(secret, above_order));
}

// A bit flipped in a loaded secret (memory fault) signs for another key, with a signature
// consistent enough to pass the signing equation's check; the load's digest refuses it.
TEST(KeyStore, RefusesToSignWithASecretThatChangedSinceLoad) {
  absl::StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::FromSecrets({{"k0", *chain::FromHex(kKey0)}});
  ASSERT_TRUE(store.ok()) << store.status();
  const chain::Address a0 = *chain::AddressFromSecret(*chain::FromHex(kKey0));
  const chain::Hash32 h = chain::Keccak256("transfer");
  ASSERT_TRUE((*store)->SignHash(a0, h).ok());
  for (int bit : {0, 100, 255}) {
    KeyStoreTestPeer::FlipSecretBit(**store, a0, bit);
    absl::StatusOr<chain::RecoverableSignature> sig = (*store)->SignHash(a0, h);
    EXPECT_EQ(sig.status().code(), absl::StatusCode::kInternal) << bit;
    EXPECT_EQ(sig.status().message(), "signature self-check failed: the key in memory is not the key loaded");
    KeyStoreTestPeer::FlipSecretBit(**store, a0, bit);
    sig = (*store)->SignHash(a0, h);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(*chain::Recover(h, *sig), a0);
  }
}

// A keystore on a mounted volume has `lost+found` (a directory) beside the key files; a socket
// or FIFO can appear too. Those are skipped and named, not a start-up failure.
TEST(KeyStore, SkipsEntriesThatAreNotFilesAndNamesThem) {
  const std::string dir = NewDir("volume");
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "a.json", Light(kKey0, "pw")).ok());
  ASSERT_TRUE(std::filesystem::create_directory(dir + "/lost+found"));
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0600), 0);
  auto pw = *Buffer("pw");
  absl::StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Load(
      dir, [&](const std::optional<chain::Address>&) -> absl::StatusOr<const crypto::LockedBuffer*> { return &pw; });
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->size(), 1u);
  EXPECT_THAT((*store)->skipped(), ::testing::ElementsAre("fifo", "lost+found"));
}

TEST(KeyStore, RefusesGroupOrOtherReadableFilesAndBadOnes) {
  const std::string dir = NewDir("perm");
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "a.json", Light(kKey0, "pw")).ok());
  auto pw = *Buffer("pw");
  auto lookup = [&](const std::optional<chain::Address>&) -> absl::StatusOr<const crypto::LockedBuffer*> {
    return &pw;
  };
  ASSERT_TRUE(KeyStore::Load(dir, lookup).ok());
  ::chmod((dir + "/a.json").c_str(), 0640);
  absl::Status s = KeyStore::Load(dir, lookup).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("group or others"));
  ::chmod((dir + "/a.json").c_str(), 0604);
  EXPECT_FALSE(KeyStore::Load(dir, lookup).ok());
  ::chmod((dir + "/a.json").c_str(), 0600);
  // A second copy of the same key is an error, as is a wrong password.
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "b.json", Light(kKey0, "pw")).ok());
  EXPECT_THAT(std::string(KeyStore::Load(dir, lookup).status().message()), HasSubstr("already loaded"));
  std::filesystem::remove(dir + "/b.json");
  auto wrong = *Buffer("not-the-pw-xyz");
  s = KeyStore::Load(dir, [&](const std::optional<chain::Address>&) -> absl::StatusOr<const crypto::LockedBuffer*> {
        return &wrong;
      }).status();
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("a.json"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("not-the-pw-xyz")));
}

TEST(SecretFile, AtomicPrivateWritesAndPasswordFiles) {
  const std::string dir = NewDir("files");
  ::umask(022);
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "k", "content").ok());
  struct stat st;
  ASSERT_EQ(::stat((dir + "/k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(absl::IsAlreadyExists(WritePrivateFileAtomically(dir, "k", "other")));
  EXPECT_EQ(*ReadPrivateFile(dir + "/k", 100), "content");
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(entries, 1u) << "no temp file left behind";

  ASSERT_TRUE(WritePrivateFileAtomically(dir, "pw", "s3cret\r\n").ok());
  absl::StatusOr<crypto::LockedBuffer> pw = PasswordFromFile(dir + "/pw");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(pw->data()), pw->size()), "s3cret");
  ::chmod((dir + "/pw").c_str(), 0644);
  EXPECT_TRUE(absl::IsFailedPrecondition(PasswordFromFile(dir + "/pw").status()));
  ASSERT_TRUE(WritePrivateFileAtomically(dir, "empty", "\n").ok());
  EXPECT_FALSE(PasswordFromFile(dir + "/empty").ok());
}

// A Kubernetes Secret volume with fsGroup (root:10000 0440, `name -> ..data/name`, hidden
// `..data` and `..<timestamp>` entries) read by the signer's uid 10001 in group 10000.
TEST(KeyStore, KubeletSecretVolumeWithFsGroup) {
  const platform::testing::KubeletSecretDir secrets({{"password", "s3cret\n", 0, 10000, 0440}}, 10000);
  const platform::testing::KubeletSecretDir keystore({{"UTC--key0.json", Light(kKey0, "s3cret"), 0, 10000, 0440}},
                                                     10000);
  const platform::testing::KubeletSecretDir open({{"UTC--key0.json", Light(kKey0, "s3cret"), 0, 10000, 0444}}, 10000);
  auto load = [&](const std::string& dir) {
    return platform::testing::RunAsUser(10001, 10000, [&]() -> absl::Status {
      absl::StatusOr<crypto::LockedBuffer> pw = PasswordFromFile(secrets.file("password"));
      if (!pw.ok()) return pw.status();
      absl::StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Load(
          dir,
          [&](const std::optional<chain::Address>&) -> absl::StatusOr<const crypto::LockedBuffer*> { return &*pw; });
      if (!store.ok()) return store.status();
      if ((*store)->size() != 1 || !(*store)->skipped().empty()) return absl::DataLossError("expected one key");
      return absl::OkStatus();
    });
  };
  const absl::Status loaded = load(keystore.path());
  EXPECT_TRUE(loaded.ok()) << loaded;
  const absl::Status refused = load(open.path());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("owned by root and mode 0444"));
}

TEST(Password, EnvironmentVariableIsWipedAndRemoved) {
  ::setenv("SIGNER_TEST_PW", "hunter2", 1);
  char* raw = std::getenv("SIGNER_TEST_PW");
  absl::StatusOr<crypto::LockedBuffer> pw = PasswordFromEnv("SIGNER_TEST_PW");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(pw->data()), pw->size()), "hunter2");
  EXPECT_EQ(std::getenv("SIGNER_TEST_PW"), nullptr);
  EXPECT_EQ(raw[0], '\0') << "the environment's copy was overwritten";
  EXPECT_TRUE(absl::IsNotFound(PasswordFromEnv("SIGNER_TEST_PW").status()));
}

}  // namespace
}  // namespace signer::keystore
