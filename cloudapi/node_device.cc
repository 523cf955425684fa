#include "cloudapi/node_device.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cloudapi {

absl::StatusOr<chain::Hash32> DeviceIdOfNode(const AvailableNodes& nodes, int64_t node_id) {
  for (const NodeInfo& node : nodes.nodes) {
    if (node.id != node_id) continue;
    if (!node.device_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("node_id: node ", node_id, " (", node.name, ") has no device id in the Phala Cloud API"));
    }
    return *node.device_id;
  }
  return absl::NotFoundError(absl::StrCat("node_id: no node ", node_id, " among the ", nodes.nodes.size(),
                                          " nodes the account can deploy to"));
}

absl::StatusOr<chain::Hash32> LookUpNodeDeviceId(CloudClient& client, int64_t node_id) {
  absl::StatusOr<AvailableNodes> nodes = client.GetAvailableNodes();
  if (!nodes.ok()) return nodes.status();
  return DeviceIdOfNode(*nodes, node_id);
}

}  // namespace cloudapi
