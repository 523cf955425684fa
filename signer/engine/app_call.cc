#include "signer/engine/app_call.h"

#include "chain/hex.h"
#include "signer/engine/request_fields.h"

namespace signer::engine {
namespace {

namespace v1 = onchainkms::signer::v1;

// Required, non-zero: a zero device id names no device (the contract would store it anyway).
absl::StatusOr<chain::Hash32> DeviceId(const std::string& text, absl::string_view field) {
  absl::StatusOr<chain::Hash32> h = Hash32Field(text, field, /*empty_is_zero=*/false);
  if (h.ok() && h->IsZero()) return Invalid(field, "must not be zero");
  return h;
}

absl::StatusOr<chain::AppCall> CallOf(const v1::SignAppCallRequest& r, boost::json::object& audit) {
  switch (r.call_case()) {
    case v1::SignAppCallRequest::kAddDeviceId:
    case v1::SignAppCallRequest::kRemoveDeviceId: {
      const bool add = r.call_case() == v1::SignAppCallRequest::kAddDeviceId;
      absl::StatusOr<chain::Hash32> id =
          add ? DeviceId(r.add_device_id(), "add_device_id") : DeviceId(r.remove_device_id(), "remove_device_id");
      if (!id.ok()) return id.status();
      audit["device_id"] = id->Hex();
      if (add) return chain::AppCall(chain::AddDevice{*id});
      return chain::AppCall(chain::RemoveDevice{*id});
    }
    case v1::SignAppCallRequest::kSetAllowAnyDevice:
      audit["allow_any_device"] = r.set_allow_any_device();
      return chain::AppCall(chain::SetAllowAnyDevice{r.set_allow_any_device()});
    case v1::SignAppCallRequest::kTransferOwnershipTo: {
      absl::StatusOr<chain::Address> owner =
          AddressField(r.transfer_ownership_to(), "transfer_ownership_to", /*allow_zero=*/false);
      if (!owner.ok()) return owner.status();
      audit["new_owner"] = owner->Checksummed();
      return chain::AppCall(chain::TransferOwnership{*owner});
    }
    case v1::SignAppCallRequest::kAcceptOwnership:
      return chain::AppCall(chain::AcceptOwnership{});
    case v1::SignAppCallRequest::kDisableUpgrades:
      return chain::AppCall(chain::DisableUpgrades{});
    case v1::SignAppCallRequest::CALL_NOT_SET:
      break;
  }
  return Invalid("call",
                 "required: one of add_device_id, remove_device_id, set_allow_any_device, transfer_ownership_to, "
                 "accept_ownership, disable_upgrades");
}

}  // namespace

absl::StatusOr<ParsedAppCall> ParseAppCall(const v1::SignAppCallRequest& r) {
  ParsedAppCall out;
  absl::StatusOr<chain::Address> app =
      AddressField(r.app_contract_address(), "app_contract_address", /*allow_zero=*/false);
  if (!app.ok()) return app.status();
  out.app = *app;
  boost::json::object args;
  absl::StatusOr<chain::AppCall> call = CallOf(r, args);
  if (!call.ok()) return call.status();
  out.call = *call;
  out.kind =
      chain::IsDeviceCall(out.call) ? policy::TxIntent::Kind::kManageDevices : policy::TxIntent::Kind::kManageOwnership;
  const chain::Bytes data = chain::EncodeAppCall(out.call);
  out.audit["kind"] = "appCall";
  out.audit["function"] = std::string(chain::AppCallSignature(out.call));
  out.audit["call"] = chain::DescribeAppCall(out.call);
  out.audit["app_contract"] = app->Checksummed();
  for (auto& [key, value] : args) out.audit[key] = value;
  out.audit["selector"] = chain::ToHex(chain::ByteView(data).subspan(0, 4));
  return out;
}

}  // namespace signer::engine
