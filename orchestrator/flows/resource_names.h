// How requests name CVMs and apps: the Phala Cloud reference of a request's cvm_id, and the
// canonical names under which the journal records their owners (journal/resource_owner.h), so
// that every spelling of one CVM or app finds the same owner.
//
//   CVM:  CvmRefFor(cvm_id).path_segment(), 32-hex ids in lower case: "app_<40 hex>" for a CVM
//         named by its app id (0x-hex, bare hex or app_...), "instance_<40 hex>", a UUID as 32
//         lowercase hex without dashes, anything else (a numeric id, a name) verbatim.
//   App:  on-chain KMS "<chain id>:0x<40 lowercase hex>" (the DstackApp contract); PHALA KMS
//         the app id as 40 lowercase hex.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_RESOURCE_NAMES_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_RESOURCE_NAMES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "cloudapi/types.h"

namespace orchestrator::flows {

// The CVM reference of a request's cvm_id: "app_<hex>", "instance_<hex>", an app id ("0x"+40
// hex or 40 hex), a UUID with dashes, or anything else verbatim (the API's id, a number, a name).
absl::StatusOr<cloudapi::CvmRef> CvmRefFor(absl::string_view cvm_id);

// The canonical owner key of a CVM named `cvm_id` (INVALID_ARGUMENT naming cvm_id as CvmRefFor).
absl::StatusOr<std::string> CvmResource(absl::string_view cvm_id);
// The CVM of app `app` named by its app id ("app_<hex>"), which requests may use for the CVM.
std::string CvmResourceOfApp(const chain::Address& app);
std::string OnchainAppResource(uint64_t chain_id, const chain::Address& app);
std::string PhalaAppResource(const chain::Address& app_id);

// The one NOT_FOUND for a CVM that is not in the caller's scope, whether it exists or not (the
// service at submit and the flows at run time give the same).
absl::Status CvmNotInScope(absl::string_view cvm_id);
// The same for an app named by chain and contract address (AddComposeHash).
absl::Status AppNotInScope(uint64_t chain_id, absl::string_view app_address);

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_RESOURCE_NAMES_H_
