// HMAC-SHA256 (RFC 2104) on crypto::Sha256, for the request digests (no secret is logged).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_COMMON_HMAC_H_
#define ONCHAIN_KMS_ORCHESTRATOR_COMMON_HMAC_H_

#include "absl/strings/string_view.h"
#include "crypto/sha256.h"

namespace orchestrator {

crypto::Sha256Digest HmacSha256(absl::string_view key, absl::string_view message);

}  // namespace orchestrator

#endif  // ONCHAIN_KMS_ORCHESTRATOR_COMMON_HMAC_H_
