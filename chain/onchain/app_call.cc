#include "chain/onchain/app_call.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "chain/abi.h"

namespace chain::onchain {
namespace {

using Function = AppCall::Function;
constexpr Function kAll[] = {Function::kAddDevice,         Function::kRemoveDevice,    Function::kSetAllowAnyDevice,
                             Function::kTransferOwnership, Function::kAcceptOwnership, Function::kDisableUpgrades};

const char* SignatureOf(Function f) {
  switch (f) {
    case Function::kAddDevice:
      return "addDevice(bytes32)";
    case Function::kRemoveDevice:
      return "removeDevice(bytes32)";
    case Function::kSetAllowAnyDevice:
      return "setAllowAnyDevice(bool)";
    case Function::kTransferOwnership:
      return "transferOwnership(address)";
    case Function::kAcceptOwnership:
      return "acceptOwnership()";
    case Function::kDisableUpgrades:
      return "disableUpgrades()";
  }
  return "";
}

// The argument types of `f` (one word at most).
std::vector<abi::Type> ArgTypes(Function f) {
  switch (f) {
    case Function::kAddDevice:
    case Function::kRemoveDevice:
      return {abi::Type::Bytes32()};
    case Function::kSetAllowAnyDevice:
      return {abi::Type::Bool()};
    case Function::kTransferOwnership:
      return {abi::Type::Address()};
    default:
      return {};
  }
}

}  // namespace

AppCall AppCall::AddDevice(const Hash32& device_id) { return {.function = Function::kAddDevice, .device_id = device_id}; }
AppCall AppCall::RemoveDevice(const Hash32& device_id) {
  return {.function = Function::kRemoveDevice, .device_id = device_id};
}
AppCall AppCall::SetAllowAnyDevice(bool allow) {
  return {.function = Function::kSetAllowAnyDevice, .allow_any_device = allow};
}
AppCall AppCall::TransferOwnership(const Address& new_owner) {
  return {.function = Function::kTransferOwnership, .new_owner = new_owner};
}
AppCall AppCall::AcceptOwnership() { return {.function = Function::kAcceptOwnership}; }
AppCall AppCall::DisableUpgrades() { return {.function = Function::kDisableUpgrades}; }

const char* AppCall::Signature() const { return SignatureOf(function); }

Bytes AppCall::Calldata() const {
  const abi::Selector selector = abi::FunctionSelector(Signature());
  switch (function) {
    case Function::kAddDevice:
    case Function::kRemoveDevice:
      return abi::EncodeCall(selector, {abi::Value::FromBytes32(device_id)});
    case Function::kSetAllowAnyDevice:
      return abi::EncodeCall(selector, {abi::Value::FromBool(allow_any_device)});
    case Function::kTransferOwnership:
      return abi::EncodeCall(selector, {abi::Value::FromAddress(new_owner)});
    default:
      return abi::EncodeCall(selector, {});
  }
}

absl::StatusOr<AppCall> AppCall::Decode(ByteView calldata) {
  if (calldata.size() < 4) return absl::InvalidArgumentError("app call: shorter than a selector");
  for (Function f : kAll) {
    if (abi::FunctionSelector(SignatureOf(f)) != abi::Selector{calldata[0], calldata[1], calldata[2], calldata[3]}) {
      continue;
    }
    const std::vector<abi::Type> types = ArgTypes(f);
    if (calldata.size() != 4 + 32 * types.size()) {
      return absl::InvalidArgumentError(absl::StrCat(SignatureOf(f), ": calldata of ", calldata.size(), " bytes"));
    }
    absl::StatusOr<std::vector<abi::Value>> args = abi::DecodeArgs(types, calldata.subspan(4));
    if (!args.ok()) return absl::InvalidArgumentError(absl::StrCat(SignatureOf(f), ": ", args.status().message()));
    AppCall c{.function = f};
    if (types.empty()) return c;
    if (const Hash32* h = (*args)[0].AsBytes32()) c.device_id = *h;
    if (const bool* b = (*args)[0].AsBool()) c.allow_any_device = *b;
    if (const Address* a = (*args)[0].AsAddress()) c.new_owner = *a;
    return c;
  }
  return absl::InvalidArgumentError("app call: unknown selector");
}

}  // namespace chain::onchain
