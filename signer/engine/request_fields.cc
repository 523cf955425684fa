#include "signer/engine/request_fields.h"

#include "absl/strings/str_cat.h"

namespace signer::engine {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::StatusOr<chain::Address> AddressField(const std::string& text, absl::string_view field, bool allow_zero) {
  if (text.empty()) return Invalid(field, "required");
  absl::StatusOr<chain::Address> a = chain::Address::Parse(text);
  if (!a.ok()) return Invalid(field, a.status().message());
  if (!allow_zero && a->IsZero()) return Invalid(field, "must not be the zero address");
  return a;
}

absl::StatusOr<chain::Hash32> Hash32Field(const std::string& text, absl::string_view field, bool empty_is_zero) {
  if (text.empty()) {
    if (empty_is_zero) return chain::Hash32();
    return Invalid(field, "required");
  }
  absl::StatusOr<chain::Hash32> h = chain::Hash32::FromHex(text);
  if (!h.ok()) return Invalid(field, "want 64 hex digits (\"0x\" optional)");
  return h;
}

}  // namespace signer::engine
