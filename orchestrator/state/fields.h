// The one hex form FlowState (flow_state.proto) holds for hashes and addresses, and the reading
// of what any version of the orchestrator journaled.
//
// Written: hashes (compose hashes, device ids, transaction hashes) as "0x" + 64 lowercase hex;
// addresses and app ids EIP-55. Read: also the older forms (64 hex without 0x; 40 lowercase hex
// without 0x; lowercase 0x-hex), so journals of earlier versions still resume. Flows compare
// the parsed values, never the text.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_STATE_FIELDS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_STATE_FIELDS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/hash32.h"

namespace orchestrator::state {

std::string ToField(const chain::Hash32& hash);
std::string ToField(const chain::Address& address);
// "" for nullopt (proto3 strings have no presence).
std::string ToField(const std::optional<chain::Hash32>& hash);
std::string ToField(const std::optional<chain::Address>& address);

// nullopt for ""; DATA_LOSS "journal: <name>: ..." for text that is no hash / address.
absl::StatusOr<std::optional<chain::Hash32>> OptionalHashField(absl::string_view name, absl::string_view text);
absl::StatusOr<std::optional<chain::Address>> OptionalAddressField(absl::string_view name, absl::string_view text);
// As above, and "" is DATA_LOSS too.
absl::StatusOr<chain::Hash32> HashField(absl::string_view name, absl::string_view text);
absl::StatusOr<chain::Address> AddressField(absl::string_view name, absl::string_view text);

}  // namespace orchestrator::state

#endif  // ONCHAIN_KMS_ORCHESTRATOR_STATE_FIELDS_H_
