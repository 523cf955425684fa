#include "orchestrator/state/fields.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace orchestrator::state {
namespace {

absl::Status Corrupt(absl::string_view name, const absl::Status& why) {
  return absl::DataLossError(absl::StrCat("journal: ", name, ": ", why.message()));
}

// Earlier versions wrote app ids as 40 hex digits without 0x.
absl::StatusOr<chain::Address> ParseAddress(absl::string_view text) {
  if (text.size() == 2 * chain::Address::kSize) return chain::Address::Parse(absl::StrCat("0x", text));
  return chain::Address::Parse(text);
}

}  // namespace

std::string ToField(const chain::Hash32& hash) { return hash.Hex(); }
std::string ToField(const chain::Address& address) { return address.Checksummed(); }
std::string ToField(const std::optional<chain::Hash32>& hash) { return hash ? ToField(*hash) : ""; }
std::string ToField(const std::optional<chain::Address>& address) { return address ? ToField(*address) : ""; }

absl::StatusOr<std::optional<chain::Hash32>> OptionalHashField(absl::string_view name, absl::string_view text) {
  if (text.empty()) return std::nullopt;
  absl::StatusOr<chain::Hash32> h = chain::Hash32::FromHex(text);
  if (!h.ok()) return Corrupt(name, h.status());
  return std::optional<chain::Hash32>(*h);
}

absl::StatusOr<std::optional<chain::Address>> OptionalAddressField(absl::string_view name, absl::string_view text) {
  if (text.empty()) return std::nullopt;
  absl::StatusOr<chain::Address> a = ParseAddress(text);
  if (!a.ok()) return Corrupt(name, a.status());
  return std::optional<chain::Address>(*a);
}

absl::StatusOr<chain::Hash32> HashField(absl::string_view name, absl::string_view text) {
  absl::StatusOr<std::optional<chain::Hash32>> h = OptionalHashField(name, text);
  if (!h.ok()) return h.status();
  if (!h->has_value()) return absl::DataLossError(absl::StrCat("journal: ", name, ": missing"));
  return **h;
}

absl::StatusOr<chain::Address> AddressField(absl::string_view name, absl::string_view text) {
  absl::StatusOr<std::optional<chain::Address>> a = OptionalAddressField(name, text);
  if (!a.ok()) return a.status();
  if (!a->has_value()) return absl::DataLossError(absl::StrCat("journal: ", name, ": missing"));
  return **a;
}

}  // namespace orchestrator::state
