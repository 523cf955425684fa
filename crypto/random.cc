#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "crypto/openssl_util.h"

namespace crypto {

absl::Status RandomFill(absl::Span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const int chunk = static_cast<int>(std::min<size_t>(out.size() - done, INT_MAX));
    if (RAND_bytes(out.data() + done, chunk) != 1) {
      return internal::OpenSslError(absl::StatusCode::kInternal, "random: RAND_bytes failed");
    }
    done += static_cast<size_t>(chunk);
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> RandomBytes(size_t n) {
  Bytes out(n);
  absl::Status s = RandomFill(absl::MakeSpan(out));
  if (!s.ok()) return s;
  return out;
}

}  // namespace crypto
