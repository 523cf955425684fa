// The text forms of chain values that arrive from configs, requests and node answers: hex bytes,
// quantities (decimal and 0x-hex U256), addresses (EIP-55 checked), 32-byte hashes. Invariants:
// what parses prints back to a form that parses to the same value.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/hex.h"
#include "chain/u256.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (chain::HexPrefix prefix :
       {chain::HexPrefix::kOptional, chain::HexPrefix::kRequired, chain::HexPrefix::kForbidden}) {
    if (absl::StatusOr<chain::Bytes> bytes = chain::FromHex(text, prefix); bytes.ok()) {
      absl::StatusOr<chain::Bytes> again = chain::FromHex(chain::ToHex(*bytes));
      FUZZ_CHECK(again.ok() && *again == *bytes);
    }
  }
  if (absl::StatusOr<chain::U256> v = chain::U256::FromDecimal(text); v.ok()) {
    FUZZ_CHECK(chain::U256::FromDecimal(v->ToDecimal()).value() == *v);
    FUZZ_CHECK(chain::U256::FromHex(v->ToQuantityHex()).value() == *v);
  }
  if (absl::StatusOr<chain::U256> v = chain::U256::FromHex(text); v.ok()) {
    FUZZ_CHECK(chain::U256::FromDecimal(v->ToDecimal()).value() == *v);
    FUZZ_CHECK(chain::U256::FromBigEndian(v->ToMinimalBytes()).value() == *v);
  }
  if (absl::StatusOr<chain::Address> a = chain::Address::Parse(text); a.ok()) {
    FUZZ_CHECK(chain::Address::Parse(a->Checksummed()).value() == *a);
  }
  if (absl::StatusOr<chain::Hash32> h = chain::Hash32::FromHex(text); h.ok()) {
    FUZZ_CHECK(chain::Hash32::FromHex(chain::ToHex(h->bytes())).value() == *h);
  }
  return 0;
}
