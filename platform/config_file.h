// Reads a configuration file into a proto message: proto3 JSON when the name ends in ".json",
// protobuf text format otherwise (.textproto, .txtpb, .pbtxt, ...). Unknown fields are errors, so
// a typo in a config key is caught at start-up rather than silently ignored.
#ifndef ONCHAIN_KMS_PLATFORM_CONFIG_FILE_H_
#define ONCHAIN_KMS_PLATFORM_CONFIG_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace platform {

// NOT_FOUND if the file cannot be read; INVALID_ARGUMENT with "path:line:column: reason" (text)
// or the JSON parser's reason if it does not parse into `message`; files over 4 MiB are refused.
absl::Status LoadConfigFile(const std::string& path, google::protobuf::Message* message);

// ParseConfigText: LoadConfigFile on text already read; `path` picks the format and names the
// file in errors.
absl::Status ParseConfigText(absl::string_view text, const std::string& path, google::protobuf::Message* message);

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_CONFIG_FILE_H_
