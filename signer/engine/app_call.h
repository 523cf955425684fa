// SignAppCall's own fields: the typed call validated (INVALID_ARGUMENT naming the field), the
// intent it is (device calls vs ownership and upgrade calls), and its audit record. The engine
// builds the calldata from the result; a caller never supplies calldata.
#ifndef ONCHAIN_KMS_SIGNER_ENGINE_APP_CALL_H_
#define ONCHAIN_KMS_SIGNER_ENGINE_APP_CALL_H_

#include <boost/json/object.hpp>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/dstack_app_calls.h"
#include "onchainkms/signer/v1/signer.pb.h"
#include "signer/policy/policy.h"

namespace signer::engine {

struct ParsedAppCall {
  chain::Address app;
  chain::AppCall call;
  policy::TxIntent::Kind kind = policy::TxIntent::Kind::kManageDevices;
  // The audit record's "intent": {"kind":"appCall","function":"addDevice(bytes32)",
  // "call":"addDevice(0x…)","app_contract":…, the argument by name, "selector":…}.
  boost::json::object audit;
};

absl::StatusOr<ParsedAppCall> ParseAppCall(const onchainkms::signer::v1::SignAppCallRequest& request);

}  // namespace signer::engine

#endif  // ONCHAIN_KMS_SIGNER_ENGINE_APP_CALL_H_
