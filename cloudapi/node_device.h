// A node's TDX device id, as GET /teepods/available reports it: what an app contract's
// addDevice(bytes32) allows so that the app may run on that node.
#ifndef ONCHAIN_KMS_CLOUDAPI_NODE_DEVICE_H_
#define ONCHAIN_KMS_CLOUDAPI_NODE_DEVICE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "chain/hash32.h"
#include "cloudapi/cloud_client.h"
#include "cloudapi/types.h"

namespace cloudapi {

// The device id of node `node_id` (teepod_id) in `nodes`. NOT_FOUND when no node has that id;
// FAILED_PRECONDITION when the API lists the node without a device id.
absl::StatusOr<chain::Hash32> DeviceIdOfNode(const AvailableNodes& nodes, int64_t node_id);

// GetAvailableNodes, then DeviceIdOfNode; the call's errors as they are.
absl::StatusOr<chain::Hash32> LookUpNodeDeviceId(CloudClient& client, int64_t node_id);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_NODE_DEVICE_H_
