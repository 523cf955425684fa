#include "platform/config_file.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace platform {
namespace {

constexpr size_t kMaxConfigBytes = 4 << 20;

class TextErrors final : public google::protobuf::io::ErrorCollector {
 public:
  explicit TextErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    errors_.push_back(absl::StrCat(path_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);
  }
  std::string Joined() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::string path_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::Status LoadConfigFile(const std::string& path, google::protobuf::Message* message) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("config file ", path, ": cannot be read"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseConfigText(buffer.str(), path, message);
}

absl::Status ParseConfigText(absl::string_view text, const std::string& path, google::protobuf::Message* message) {
  if (text.size() > kMaxConfigBytes) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": larger than 4 MiB"));
  }
  message->Clear();
  if (absl::EndsWithIgnoreCase(path, ".json")) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), message, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": ", status.ToString()));
    }
    return absl::OkStatus();
  }
  TextErrors errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", errors.Joined()));
  }
  return absl::OkStatus();
}

}  // namespace platform
