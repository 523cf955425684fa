// Parsing of signing-request fields with errors that name the field ("<field>: <why>"), shared by
// every intent of the engine so each field kind is refused with the same words.
#ifndef ONCHAIN_KMS_SIGNER_ENGINE_REQUEST_FIELDS_H_
#define ONCHAIN_KMS_SIGNER_ENGINE_REQUEST_FIELDS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/hash32.h"

namespace signer::engine {

// INVALID_ARGUMENT "<field>: <why>".
absl::Status Invalid(absl::string_view field, absl::string_view why);

// A required address; with allow_zero false, the zero address is refused too.
absl::StatusOr<chain::Address> AddressField(const std::string& text, absl::string_view field, bool allow_zero = true);

// A 32-byte hex value; empty is the zero hash when empty_is_zero, else "required".
absl::StatusOr<chain::Hash32> Hash32Field(const std::string& text, absl::string_view field, bool empty_is_zero);

}  // namespace signer::engine

#endif  // ONCHAIN_KMS_SIGNER_ENGINE_REQUEST_FIELDS_H_
