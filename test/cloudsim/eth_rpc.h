// A small Ethereum JSON-RPC caller (HTTP/1.1, Boost.Beast + Boost.JSON) for the simulator's
// on-chain checks: registeredApps / owner / allowedComposeHashes via eth_call, receipts and logs.
// One connection per call (anvil is local); every call is bounded by a deadline.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_ETH_RPC_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_ETH_RPC_H_

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cloudsim {

// Selectors and topics (dstack-contracts.md §2, §3).
inline constexpr absl::string_view kSelRegisteredApps = "a6c4cce9";        // registeredApps(address)
inline constexpr absl::string_view kSelOwner = "8da5cb5b";                 // owner()
inline constexpr absl::string_view kSelAllowedComposeHashes = "2f6622e5";  // allowedComposeHashes(bytes32)
inline constexpr absl::string_view kTopicAppDeployedViaFactory =
    "fd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee";
inline constexpr absl::string_view kTopicComposeHashAdded =
    "fecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af";

class EthRpc {
 public:
  // url: http://host:port[/path]. https is not supported (anvil speaks plain HTTP).
  static absl::StatusOr<EthRpc> Create(absl::string_view url, absl::Duration timeout);

  // The JSON-RPC `result`. Unavailable on transport failures, Aborted (message = the node's
  // error message) on a JSON-RPC error object.
  absl::StatusOr<boost::json::value> Call(absl::string_view method, boost::json::array params) const;

  absl::StatusOr<uint64_t> ChainId() const;
  // eth_call at "latest"; returns the result as lower-case hex without 0x ("" for no code).
  absl::StatusOr<std::string> EthCall(absl::string_view to, absl::string_view data_hex) const;
  // f(bytes32-word) -> bool, for registeredApps(address) and allowedComposeHashes(bytes32).
  // `arg` is 40 (address) or 64 hex chars. A contract without the function fails.
  absl::StatusOr<bool> CallBool(absl::string_view to, absl::string_view selector, absl::string_view arg) const;
  // owner() -> 40 lower-case hex chars.
  absl::StatusOr<std::string> CallOwner(absl::string_view to) const;
  // nullopt when the node does not know the transaction or it is not mined yet.
  absl::StatusOr<std::optional<boost::json::object>> GetReceipt(absl::string_view tx_hash) const;
  absl::StatusOr<boost::json::array> GetLogs(boost::json::object filter) const;

  const std::string& url() const { return url_; }

 private:
  EthRpc(std::string url, std::string host, std::string port, std::string target, absl::Duration timeout)
      : url_(std::move(url)),
        host_(std::move(host)),
        port_(std::move(port)),
        target_(std::move(target)),
        timeout_(timeout) {}

  std::string url_, host_, port_, target_;
  absl::Duration timeout_;
};

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_ETH_RPC_H_
