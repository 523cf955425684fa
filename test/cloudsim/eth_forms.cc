#include "test/cloudsim/eth_forms.h"

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "chain/address.h"
#include "chain/hex.h"

namespace cloudsim {
namespace {

absl::string_view StripPrefix(absl::string_view s) {
  if (chain::HasHexPrefix(s)) s.remove_prefix(2);
  return s;
}

}  // namespace

bool IsHexOfSize(absl::string_view s, size_t nbytes) {
  absl::StatusOr<chain::Bytes> b = chain::FromHex(s, chain::HexPrefix::kOptional);
  return b.ok() && b->size() == nbytes;
}

std::optional<std::string> NormalizeAddress(absl::string_view s) {
  if (!IsHexOfSize(s, 20)) return std::nullopt;
  return absl::AsciiStrToLower(StripPrefix(s));
}

std::optional<std::string> NormalizeBytes32(absl::string_view s) {
  if (!IsHexOfSize(s, 32)) return std::nullopt;
  return absl::AsciiStrToLower(StripPrefix(s));
}

std::string ChecksumAddress(absl::string_view addr) {
  std::optional<std::string> lower = NormalizeAddress(addr);
  if (!lower) return std::string(addr);
  absl::StatusOr<chain::Address> a = chain::Address::Parse("0x" + *lower);
  return a.ok() ? a->Checksummed() : std::string(addr);
}

}  // namespace cloudsim
