// Read-only calls (eth_call) of a DstackApp contract and strict decoders of their return data.
// Selectors: ../shared/facts/dstack-contracts.md §3.1. pendingOwner() exists only on two-step
// contracts (from 2026-05), requireTcbUpToDate() and version() only from 2026-02: on older apps
// those eth_calls revert, which a caller reads as "not supported".
#ifndef ONCHAIN_KMS_CHAIN_DSTACK_APP_VIEWS_H_
#define ONCHAIN_KMS_CHAIN_DSTACK_APP_VIEWS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/abi.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/u256.h"

namespace chain {

inline constexpr char kOwnerSignature[] = "owner()";
inline constexpr char kPendingOwnerSignature[] = "pendingOwner()";
inline constexpr char kAllowAnyDeviceSignature[] = "allowAnyDevice()";
inline constexpr char kAllowedDeviceIdsSignature[] = "allowedDeviceIds(bytes32)";
inline constexpr char kAllowedComposeHashesSignature[] = "allowedComposeHashes(bytes32)";
inline constexpr char kRequireTcbUpToDateSignature[] = "requireTcbUpToDate()";
inline constexpr char kVersionSignature[] = "version()";
inline constexpr abi::Selector kOwnerSelector = {0x8d, 0xa5, 0xcb, 0x5b};
inline constexpr abi::Selector kPendingOwnerSelector = {0xe3, 0x0c, 0x39, 0x78};
inline constexpr abi::Selector kAllowAnyDeviceSelector = {0x34, 0x40, 0xa1, 0x6a};
inline constexpr abi::Selector kAllowedDeviceIdsSelector = {0xbf, 0x8b, 0x21, 0x1b};
inline constexpr abi::Selector kAllowedComposeHashesSelector = {0x2f, 0x66, 0x22, 0xe5};
inline constexpr abi::Selector kRequireTcbUpToDateSelector = {0x0a, 0xa5, 0x8c, 0x83};
inline constexpr abi::Selector kVersionSelector = {0x54, 0xfd, 0x4d, 0x50};

// eth_call data (4 bytes; 36 with the bytes32 key).
Bytes EncodeOwnerView();
Bytes EncodePendingOwnerView();
Bytes EncodeAllowAnyDeviceView();
Bytes EncodeAllowedDeviceIdsView(const Hash32& device_id);
Bytes EncodeAllowedComposeHashesView(const Hash32& compose_hash);
Bytes EncodeRequireTcbUpToDateView();
Bytes EncodeVersionView();

// Return data of one static value: exactly 32 bytes, canonical (an address word's upper 12
// bytes zero, a bool 0 or 1). `function` names the call in errors, e.g.
// "owner(): want 32 bytes of return data, got 0" (an eth_call to an address without code).
absl::StatusOr<Address> DecodeAddressResult(absl::string_view function, ByteView return_data);
absl::StatusOr<bool> DecodeBoolResult(absl::string_view function, ByteView return_data);
absl::StatusOr<U256> DecodeUint256Result(absl::string_view function, ByteView return_data);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_DSTACK_APP_VIEWS_H_
