// The compose hash, computed locally in both forms the SDK has (facts/phala-cloud-api.md §9), so
// the orchestrator can refuse a hash it did not ask for.
//
// Both forms: SHA-256 (lowercase hex, no 0x) of the app-compose object serialized by
// JSON.stringify after the SDK's sortObject. Input is a boost::json::object standing for the JS
// object (see js_json.h), or JSON text, which is first read as JSON.parse would.
#ifndef ONCHAIN_KMS_CLOUDAPI_COMPOSE_HASH_H_
#define ONCHAIN_KMS_CLOUDAPI_COMPOSE_HASH_H_

#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cloudapi {

enum class ComposeHashForm {
  // @phala/dstack-sdk getComposeHash(app_compose) (exported by @phala/cloud as getComposeHash):
  // compact sorted JSON, no preprocessing.
  kCompact,
  // getComposeHash(app_compose, /*normalize=*/true): PreprocessAppCompose first.
  kCompactNormalized,
  // @phala/cloud's internal getComposeHash behind getCvmComposeFile(...).getHash(): preprocess,
  // then DumpAppCompose (4-space indent, `": ` -> `":`). This is the form Phala Cloud computes.
  kIndented,
};

// The exact string that is hashed.
absl::StatusOr<std::string> ComposeHashInput(const boost::json::object& app_compose, ComposeHashForm form);
absl::StatusOr<std::string> ComposeHashInput(absl::string_view app_compose_json, ComposeHashForm form);

// Lowercase hex SHA-256 of ComposeHashInput.
absl::StatusOr<std::string> ComposeHash(const boost::json::object& app_compose, ComposeHashForm form);
// InvalidArgument if the text is not JSON or not an object.
absl::StatusOr<std::string> ComposeHash(absl::string_view app_compose_json, ComposeHashForm form);

// --- The SDK's building blocks, exported for tests and the simulator. ---

// sortObject: object keys in Array.prototype.sort's default order (UTF-16 code units), applied
// recursively, array order kept. Two JS quirks are reproduced: an object with an own
// "constructor" key fails the SDK's `obj.constructor === Object` test and is returned as is,
// unsorted, with its whole subtree; a "__proto__" key is assigned through the __proto__ setter
// and so disappears from the sorted object.
boost::json::value SortObjectLikeSdk(const boost::json::value& value);

// preprocessAppCompose: runner "bash" drops docker_compose_file, runner "docker-compose" drops
// bash_script; a falsy pre_launch_script ("", null, false, 0) is dropped. Order is kept.
boost::json::object PreprocessAppCompose(const boost::json::object& app_compose);

// dumpAppCompose: JSON.stringify(sortObject(x), null, 4) with every `": ` replaced by `":` (also
// inside string values, as the SDK's regex does). No preprocessing.
absl::StatusOr<std::string> DumpAppCompose(const boost::json::object& app_compose);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_COMPOSE_HASH_H_
