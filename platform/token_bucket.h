// The arithmetic of a token bucket, for every rate limit in the project (the signer's per-key
// limit and its limit on logged refusals, the orchestrator's SupplyEnvVars limit). The rate and
// the size stay with the caller: a policy reload may change them between two calls.
#ifndef ONCHAIN_KMS_PLATFORM_TOKEN_BUCKET_H_
#define ONCHAIN_KMS_PLATFORM_TOKEN_BUCKET_H_

#include "absl/time/time.h"

namespace platform {

struct TokenBucket {
  double tokens = 0;
  absl::Time refilled;

  // The tokens held at `now`: what `rate` tokens per `per` added since `refilled`, at most
  // `burst`. A clock that went back adds nothing.
  double Available(double rate, absl::Duration per, double burst, absl::Time now) const;
  // Moves the bucket to `now`; returns the tokens held.
  double Refill(double rate, absl::Duration per, double burst, absl::Time now);
  // Refills, then takes one token if a whole one is there.
  bool TryTake(double rate, absl::Duration per, double burst, absl::Time now);
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TOKEN_BUCKET_H_
