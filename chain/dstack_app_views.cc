#include "chain/dstack_app_views.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace chain {
namespace {

using abi::Type;
using abi::Value;

absl::StatusOr<Value> DecodeWord(absl::string_view function, ByteView data, const Type& type) {
  if (data.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat(function, ": want 32 bytes of return data, got ", data.size()));
  }
  absl::StatusOr<std::vector<Value>> v = abi::DecodeArgs({type}, data);
  if (!v.ok()) return absl::Status(v.status().code(), absl::StrCat(function, ": ", v.status().message()));
  return (*v)[0];
}

}  // namespace

Bytes EncodeOwnerView() { return abi::EncodeCall(kOwnerSelector, {}); }
Bytes EncodePendingOwnerView() { return abi::EncodeCall(kPendingOwnerSelector, {}); }
Bytes EncodeAllowAnyDeviceView() { return abi::EncodeCall(kAllowAnyDeviceSelector, {}); }
Bytes EncodeAllowedDeviceIdsView(const Hash32& device_id) {
  return abi::EncodeCall(kAllowedDeviceIdsSelector, {Value::FromBytes32(device_id)});
}
Bytes EncodeAllowedComposeHashesView(const Hash32& compose_hash) {
  return abi::EncodeCall(kAllowedComposeHashesSelector, {Value::FromBytes32(compose_hash)});
}
Bytes EncodeRequireTcbUpToDateView() { return abi::EncodeCall(kRequireTcbUpToDateSelector, {}); }
Bytes EncodeVersionView() { return abi::EncodeCall(kVersionSelector, {}); }

absl::StatusOr<Address> DecodeAddressResult(absl::string_view function, ByteView return_data) {
  absl::StatusOr<Value> v = DecodeWord(function, return_data, Type::Address());
  if (!v.ok()) return v.status();
  return *v->AsAddress();
}

absl::StatusOr<bool> DecodeBoolResult(absl::string_view function, ByteView return_data) {
  absl::StatusOr<Value> v = DecodeWord(function, return_data, Type::Bool());
  if (!v.ok()) return v.status();
  return *v->AsBool();
}

absl::StatusOr<U256> DecodeUint256Result(absl::string_view function, ByteView return_data) {
  absl::StatusOr<Value> v = DecodeWord(function, return_data, Type::Uint256());
  if (!v.ok()) return v.status();
  return *v->AsUint();
}

}  // namespace chain
