// ABI data from outside: return data and revert data from a node, calldata a signer is asked to
// sign. Input: "<signature>\n<data>" (a signature such as "f(uint256,bytes,(address,bool)[])",
// then raw bytes); without a newline the whole input is data. Invariants: decoded values fit
// their types and re-encode to data that decodes to the same values; the strict dstack decoders
// re-encode to their input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "chain/abi.h"
#include "chain/dstack_calls.h"
#include "chain/onchain/receipts.h"
#include "tools/fuzz/check.h"

namespace {

std::string FormatAll(const std::vector<chain::abi::Value>& values) {
  std::string out;
  for (const chain::abi::Value& v : values) out += chain::abi::FormatValue(v) + ";";
  return out;
}

void DecodeTyped(absl::string_view signature, chain::ByteView data) {
  absl::StatusOr<chain::abi::Signature> sig = chain::abi::ParseSignature(signature);
  if (!sig.ok()) return;
  absl::StatusOr<chain::abi::Signature> again = chain::abi::ParseSignature(sig->Canonical());
  FUZZ_CHECK(again.ok() && again->Canonical() == sig->Canonical());
  absl::StatusOr<std::vector<chain::abi::Value>> values = chain::abi::DecodeArgs(sig->inputs, data);
  if (!values.ok()) return;
  for (size_t i = 0; i < values->size(); ++i) FUZZ_CHECK(chain::abi::CheckType(sig->inputs[i], (*values)[i]).ok());
  const chain::Bytes encoded = chain::abi::EncodeArgs(*values);
  absl::StatusOr<std::vector<chain::abi::Value>> decoded = chain::abi::DecodeArgs(sig->inputs, encoded);
  FUZZ_CHECK(decoded.ok() && FormatAll(*decoded) == FormatAll(*values));
}

void DecodeDstack(chain::ByteView data) {
  const chain::Bytes input(data.begin(), data.end());
  if (auto p = chain::DecodeDeployAndRegisterApp(data); p.ok()) {
    FUZZ_CHECK(chain::EncodeDeployAndRegisterApp(*p) == input);
  }
  if (auto h = chain::DecodeAddComposeHash(data); h.ok()) FUZZ_CHECK(chain::EncodeAddComposeHash(*h) == input);
  (void)chain::onchain::DecodeAddressWord(data);
  (void)chain::onchain::DecodeBoolWord(data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)chain::abi::DecodeRevert(chain::ByteView(data, size));
  DecodeDstack(chain::ByteView(data, size));
  const size_t newline = text.find('\n');
  if (newline == absl::string_view::npos) return 0;
  const chain::ByteView rest(data + newline + 1, size - newline - 1);
  DecodeTyped(text.substr(0, newline), rest);
  (void)chain::abi::DecodeRevert(rest);
  return 0;
}
