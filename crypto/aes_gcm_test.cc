#include "crypto/aes_gcm.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/test_hex.h"

namespace crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

struct GcmVector {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 1-4, 13, 15, 16.
const GcmVector kVectors[] = {
    {"TC1", "00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"TC2", "00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"TC3", "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84"
     "aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"TC4", "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84"
     "aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"TC13", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TC15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682"
     "8838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"TC16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b105682"
     "8838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcm, PublishedVectors) {
  for (const GcmVector& v : kVectors) {
    SCOPED_TRACE(v.name);
    absl::StatusOr<Bytes> ct = AesGcmEncrypt(FromHex(v.key), FromHex(v.iv), FromHex(v.plaintext), FromHex(v.aad));
    ASSERT_TRUE(ct.ok()) << ct.status();
    EXPECT_EQ(ToHex(*ct), std::string(v.ciphertext) + v.tag);
    absl::StatusOr<Bytes> pt = AesGcmDecrypt(FromHex(v.key), FromHex(v.iv), *ct, FromHex(v.aad));
    ASSERT_TRUE(pt.ok()) << pt.status();
    EXPECT_EQ(ToHex(*pt), v.plaintext);
  }
}

TEST(AesGcm, BadTagAadOrCiphertextFailCleanly) {
  const GcmVector& v = kVectors[3];  // TC4, with AAD
  Bytes key = FromHex(v.key), iv = FromHex(v.iv), aad = FromHex(v.aad);
  Bytes good = FromHex(std::string(v.ciphertext) + v.tag);
  for (size_t pos : {size_t{0}, good.size() - 1, good.size() - 16}) {
    Bytes bad = good;
    bad[pos] ^= 0x01;
    absl::StatusOr<Bytes> pt = AesGcmDecrypt(key, iv, bad, aad);
    ASSERT_FALSE(pt.ok());
    EXPECT_EQ(pt.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(pt.status().message(), "aes-gcm: authentication failed");
  }
  Bytes other_aad = aad;
  other_aad[0] ^= 0x80;
  EXPECT_FALSE(AesGcmDecrypt(key, iv, good, other_aad).ok());
  EXPECT_FALSE(AesGcmDecrypt(key, iv, good).ok());  // AAD missing
}

TEST(AesGcm, RejectsBadSizes) {
  Bytes key16(16), key24(24), iv12(12), iv16(16);
  EXPECT_EQ(AesGcmEncrypt(key24, iv12, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AesGcmEncrypt(key16, iv16, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AesGcmDecrypt(key16, iv12, Bytes(15)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crypto
