#include "chain/dstack_app_calls.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace chain {
namespace {

using abi::Type;
using abi::Value;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

bool HasSelector(ByteView data, const abi::Selector& sel) {
  return data.size() >= 4 && std::memcmp(data.data(), sel.data(), 4) == 0;
}

// The single argument of `signature` (type nullptr: the call has none), after an exact length check.
absl::StatusOr<Value> DecodeSingle(absl::string_view signature, ByteView calldata, const Type* type) {
  const size_t want = type == nullptr ? 4 : 36;
  if (calldata.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(signature, ": want ", want, " bytes of calldata, got ", calldata.size()));
  }
  if (type == nullptr) return Value::FromBool(true);
  absl::StatusOr<std::vector<Value>> v = abi::DecodeArgs({*type}, calldata.subspan(4));
  if (!v.ok()) return absl::Status(v.status().code(), absl::StrCat(signature, ": ", v.status().message()));
  return (*v)[0];
}

}  // namespace

Bytes EncodeAppCall(const AppCall& call) {
  return std::visit(
      Overloaded{
          [](const AddDevice& c) { return abi::EncodeCall(kAddDeviceSelector, {Value::FromBytes32(c.device_id)}); },
          [](const RemoveDevice& c) {
            return abi::EncodeCall(kRemoveDeviceSelector, {Value::FromBytes32(c.device_id)});
          },
          [](const SetAllowAnyDevice& c) {
            return abi::EncodeCall(kSetAllowAnyDeviceSelector, {Value::FromBool(c.allow_any)});
          },
          [](const TransferOwnership& c) {
            return abi::EncodeCall(kTransferOwnershipSelector, {Value::FromAddress(c.new_owner)});
          },
          [](const AcceptOwnership&) { return abi::EncodeCall(kAcceptOwnershipSelector, {}); },
          [](const DisableUpgrades&) { return abi::EncodeCall(kDisableUpgradesSelector, {}); },
      },
      call);
}

absl::StatusOr<AppCall> DecodeAppCall(ByteView calldata) {
  const Type bytes32 = Type::Bytes32(), boolean = Type::Bool(), address = Type::Address();
  if (HasSelector(calldata, kAddDeviceSelector) || HasSelector(calldata, kRemoveDeviceSelector)) {
    const bool add = HasSelector(calldata, kAddDeviceSelector);
    absl::StatusOr<Value> v = DecodeSingle(add ? kAddDeviceSignature : kRemoveDeviceSignature, calldata, &bytes32);
    if (!v.ok()) return v.status();
    if (add) return AppCall(AddDevice{*v->AsBytes32()});
    return AppCall(RemoveDevice{*v->AsBytes32()});
  }
  if (HasSelector(calldata, kSetAllowAnyDeviceSelector)) {
    absl::StatusOr<Value> v = DecodeSingle(kSetAllowAnyDeviceSignature, calldata, &boolean);
    if (!v.ok()) return v.status();
    return AppCall(SetAllowAnyDevice{*v->AsBool()});
  }
  if (HasSelector(calldata, kTransferOwnershipSelector)) {
    absl::StatusOr<Value> v = DecodeSingle(kTransferOwnershipSignature, calldata, &address);
    if (!v.ok()) return v.status();
    return AppCall(TransferOwnership{*v->AsAddress()});
  }
  if (HasSelector(calldata, kAcceptOwnershipSelector)) {
    absl::StatusOr<Value> v = DecodeSingle(kAcceptOwnershipSignature, calldata, nullptr);
    if (!v.ok()) return v.status();
    return AppCall(AcceptOwnership{});
  }
  if (HasSelector(calldata, kDisableUpgradesSelector)) {
    absl::StatusOr<Value> v = DecodeSingle(kDisableUpgradesSignature, calldata, nullptr);
    if (!v.ok()) return v.status();
    return AppCall(DisableUpgrades{});
  }
  return absl::InvalidArgumentError("app call: calldata does not start with a DstackApp governance selector");
}

absl::string_view AppCallSignature(const AppCall& call) {
  return std::visit(Overloaded{
                        [](const AddDevice&) { return absl::string_view(kAddDeviceSignature); },
                        [](const RemoveDevice&) { return absl::string_view(kRemoveDeviceSignature); },
                        [](const SetAllowAnyDevice&) { return absl::string_view(kSetAllowAnyDeviceSignature); },
                        [](const TransferOwnership&) { return absl::string_view(kTransferOwnershipSignature); },
                        [](const AcceptOwnership&) { return absl::string_view(kAcceptOwnershipSignature); },
                        [](const DisableUpgrades&) { return absl::string_view(kDisableUpgradesSignature); },
                    },
                    call);
}

std::string DescribeAppCall(const AppCall& call) {
  return std::visit(
      Overloaded{
          [](const AddDevice& c) { return absl::StrCat("addDevice(", c.device_id.Hex(), ")"); },
          [](const RemoveDevice& c) { return absl::StrCat("removeDevice(", c.device_id.Hex(), ")"); },
          [](const SetAllowAnyDevice& c) {
            return absl::StrCat("setAllowAnyDevice(", c.allow_any ? "true" : "false", ")");
          },
          [](const TransferOwnership& c) { return absl::StrCat("transferOwnership(", c.new_owner.Checksummed(), ")"); },
          [](const AcceptOwnership&) { return std::string("acceptOwnership()"); },
          [](const DisableUpgrades&) { return std::string("disableUpgrades()"); },
      },
      call);
}

bool IsDeviceCall(const AppCall& call) {
  return std::holds_alternative<AddDevice>(call) || std::holds_alternative<RemoveDevice>(call) ||
         std::holds_alternative<SetAllowAnyDevice>(call);
}

}  // namespace chain
