// Keystore V3 interoperability with foundry's cast 1.7.1, both ways: files we write open in
// `cast wallet decrypt-keystore`, files `cast wallet import` writes open here (once their mode
// is tightened: cast writes 0644, which the signer refuses).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "signer/keystore/key_store.h"
#include "signer/keystore/keystore_v3.h"
#include "signer/keystore/secret_file.h"
#include "test/support/node_tools.h"

namespace signer::keystore {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";  // anvil test key #1
constexpr char kPassword[] = "round trip";

std::string Popen(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[1024];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string Dir(const std::string& name) {
  const std::string d = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::create_directories(d);
  return d;
}

TEST(CastRoundTrip, OurFilesOpenInCast) {
  absl::StatusOr<std::string> cast = testsupport::CastBinary();
  ASSERT_TRUE(cast.ok()) << cast.status();
  const std::string dir = Dir("ours");
  const chain::Bytes pw(kPassword, kPassword + sizeof(kPassword) - 1);
  EncryptParams scrypt;
  scrypt.scrypt_n = 4096;
  EncryptParams pbkdf2;
  pbkdf2.kdf = EncryptParams::Kdf::kPbkdf2;
  pbkdf2.pbkdf2_c = 10000;
  int i = 0;
  for (const EncryptParams& p : {scrypt, pbkdf2}) {
    const std::string name = absl::StrCat("key", i++);
    ASSERT_TRUE(WritePrivateFileAtomically(dir, name, *EncryptKeystore(*chain::FromHex(kSecret), pw, p)).ok());
    const std::string out = Popen(absl::StrCat("CAST_UNSAFE_PASSWORD='", kPassword, "' ", *cast,
                                               " wallet decrypt-keystore ", name, " -k ", dir, " 2>&1"));
    EXPECT_THAT(out, HasSubstr(absl::StrCat("0x", kSecret))) << name;
  }
}

TEST(CastRoundTrip, CastFilesOpenHere) {
  absl::StatusOr<std::string> cast = testsupport::CastBinary();
  ASSERT_TRUE(cast.ok()) << cast.status();
  const std::string dir = Dir("theirs");
  const std::string out = Popen(absl::StrCat("CAST_UNSAFE_PASSWORD='", kPassword, "' ", *cast,
                                             " wallet import castkey -k ", dir, " --private-key 0x", kSecret, " 2>&1"));
  ASSERT_THAT(out, HasSubstr("0x70997970c51812dc3a010c7d01b50e0d17dc79c8"));
  absl::StatusOr<crypto::LockedBuffer> pw = crypto::LockedBuffer::Allocate(sizeof(kPassword) - 1);
  std::memcpy(pw->data(), kPassword, pw->size());
  auto lookup = [&](const std::optional<chain::Address>&) -> absl::StatusOr<const crypto::LockedBuffer*> {
    return &*pw;
  };
  struct stat st;
  ASSERT_EQ(::stat((dir + "/castkey").c_str(), &st), 0);
  if ((st.st_mode & 077) != 0) {
    EXPECT_TRUE(absl::IsFailedPrecondition(KeyStore::Load(dir, lookup).status())) << "cast's 0644 file is refused";
    ::chmod((dir + "/castkey").c_str(), 0600);
  }
  absl::StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Load(dir, lookup);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ((*store)->size(), 1u);
  EXPECT_EQ((*store)->List()[0].address.Checksummed(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
}

}  // namespace
}  // namespace signer::keystore
