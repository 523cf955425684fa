#include "chain/dstack_calls.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "chain/keccak.h"

namespace chain {
namespace {

using abi::Type;
using abi::Value;

bool StartsWith(ByteView data, const abi::Selector& sel) {
  return data.size() >= 4 && std::memcmp(data.data(), sel.data(), 4) == 0;
}

}  // namespace

const Hash32& AppDeployedViaFactoryTopic() {
  static const Hash32 topic = Keccak256(absl::string_view(kAppDeployedViaFactoryEvent));
  return topic;
}

const Hash32& AppRegisteredTopic() {
  static const Hash32 topic = Keccak256(absl::string_view(kAppRegisteredEvent));
  return topic;
}

const Hash32& ComposeHashAddedTopic() {
  static const Hash32 topic = Keccak256(absl::string_view(kComposeHashAddedEvent));
  return topic;
}

Bytes EncodeDeployAndRegisterApp(const DeployAndRegisterAppParams& p) {
  if (p.require_tcb_up_to_date.has_value()) {
    // (owner, disableUpgrades, requireTcbUpToDate, allowAnyDevice, deviceId, composeHash)
    return abi::EncodeCall(kDeployAndRegisterApp6Selector,
                           {Value::FromAddress(p.initial_owner), Value::FromBool(p.disable_upgrades),
                            Value::FromBool(*p.require_tcb_up_to_date), Value::FromBool(p.allow_any_device),
                            Value::FromBytes32(p.initial_device_id), Value::FromBytes32(p.initial_compose_hash)});
  }
  return abi::EncodeCall(
      kDeployAndRegisterApp5Selector,
      {Value::FromAddress(p.initial_owner), Value::FromBool(p.disable_upgrades), Value::FromBool(p.allow_any_device),
       Value::FromBytes32(p.initial_device_id), Value::FromBytes32(p.initial_compose_hash)});
}

Bytes EncodeAddComposeHash(const Hash32& compose_hash) {
  return abi::EncodeCall(kAddComposeHashSelector, {Value::FromBytes32(compose_hash)});
}

absl::StatusOr<DeployAndRegisterAppParams> DecodeDeployAndRegisterApp(ByteView calldata) {
  const bool five = StartsWith(calldata, kDeployAndRegisterApp5Selector);
  const bool six = StartsWith(calldata, kDeployAndRegisterApp6Selector);
  if (!five && !six) {
    return absl::InvalidArgumentError("deployAndRegisterApp: calldata has another selector");
  }
  const size_t want = 4 + 32 * (five ? 5 : 6);
  if (calldata.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("deployAndRegisterApp: want ", want, " bytes of calldata, got ", calldata.size()));
  }
  std::vector<Type> types = {Type::Address(), Type::Bool(), Type::Bool(), Type::Bytes32(), Type::Bytes32()};
  if (six) types.insert(types.begin() + 1, Type::Bool());
  absl::StatusOr<std::vector<Value>> v = abi::DecodeArgs(types, calldata.subspan(4));
  if (!v.ok()) {
    return absl::Status(v.status().code(), absl::StrCat("deployAndRegisterApp: ", v.status().message()));
  }
  const std::vector<Value>& a = *v;
  DeployAndRegisterAppParams p;
  p.initial_owner = *a[0].AsAddress();
  p.disable_upgrades = *a[1].AsBool();
  size_t i = 2;
  if (six) p.require_tcb_up_to_date = *a[i++].AsBool();
  p.allow_any_device = *a[i++].AsBool();
  p.initial_device_id = *a[i++].AsBytes32();
  p.initial_compose_hash = *a[i++].AsBytes32();
  return p;
}

absl::StatusOr<Hash32> DecodeAddComposeHash(ByteView calldata) {
  if (!StartsWith(calldata, kAddComposeHashSelector)) {
    return absl::InvalidArgumentError("addComposeHash: calldata has another selector");
  }
  if (calldata.size() != 36) {
    return absl::InvalidArgumentError(absl::StrCat("addComposeHash: want 36 bytes of calldata, got ", calldata.size()));
  }
  return *Hash32::FromBytes(calldata.subspan(4));
}

}  // namespace chain
