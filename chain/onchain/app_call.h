// A governance call of a DstackApp contract (signer.proto SignAppCallRequest.call): what the
// orchestrator asks the signer to sign with SignAppCall and keeps with the in-flight transaction
// so that the same call can be signed again (fee bump, repair). The signer builds the calldata
// itself from these typed parameters; Calldata() is what the answer must carry.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_APP_CALL_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_APP_CALL_H_

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"

namespace chain::onchain {

struct AppCall {
  enum class Function {
    kAddDevice,          // addDevice(bytes32)
    kRemoveDevice,       // removeDevice(bytes32)
    kSetAllowAnyDevice,  // setAllowAnyDevice(bool)
    kTransferOwnership,  // transferOwnership(address)
    kAcceptOwnership,    // acceptOwnership()
    kDisableUpgrades,    // disableUpgrades()
  };
  Function function = Function::kAddDevice;
  Hash32 device_id;               // kAddDevice, kRemoveDevice
  bool allow_any_device = false;  // kSetAllowAnyDevice
  Address new_owner;              // kTransferOwnership

  static AppCall AddDevice(const Hash32& device_id);
  static AppCall RemoveDevice(const Hash32& device_id);
  static AppCall SetAllowAnyDevice(bool allow);
  static AppCall TransferOwnership(const Address& new_owner);
  static AppCall AcceptOwnership();
  static AppCall DisableUpgrades();

  // The canonical signature, e.g. "addDevice(bytes32)".
  const char* Signature() const;
  Bytes Calldata() const;
  // The strict inverse of Calldata (selector one of the six, exact length, canonical words).
  static absl::StatusOr<AppCall> Decode(ByteView calldata);

  friend bool operator==(const AppCall&, const AppCall&) = default;
};

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_APP_CALL_H_
