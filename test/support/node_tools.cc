#include "test/support/node_tools.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace testsupport {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<fs::path> PackageJson() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) {
    return absl::FailedPreconditionError("TEST_SRCDIR/TEST_WORKSPACE unset: run under bazel test");
  }
  fs::path link = fs::path(srcdir) / workspace / "tools/node/package.json";
  std::error_code ec;
  fs::path real = fs::canonical(link, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve ", link.string(), ": add //tools/node:package.json to the test's data"));
  }
  return real;
}

absl::StatusOr<std::string> Executable(const fs::path& p) {
  if (::access(p.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(p.string(), " is missing: run tools/bootstrap.sh"));
  }
  return p.string();
}

}  // namespace

absl::StatusOr<std::string> NodeModulesDir() {
  absl::StatusOr<fs::path> pkg = PackageJson();
  if (!pkg.ok()) return pkg.status();
  fs::path dir = pkg->parent_path() / "node_modules";
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), " is missing: run tools/bootstrap.sh"));
  }
  return dir.string();
}

absl::StatusOr<std::string> CastBinary() {
  absl::StatusOr<std::string> dir = NodeModulesDir();
  if (!dir.ok()) return dir.status();
  return Executable(fs::path(*dir) / "@foundry-rs/cast-linux-amd64/bin/cast");
}

absl::StatusOr<std::string> AnvilBinary() {
  absl::StatusOr<std::string> dir = NodeModulesDir();
  if (!dir.ok()) return dir.status();
  return Executable(fs::path(*dir) / "@foundry-rs/anvil-linux-amd64/bin/anvil");
}

absl::StatusOr<std::string> SourceRoot() {
  absl::StatusOr<fs::path> pkg = PackageJson();
  if (!pkg.ok()) return pkg.status();
  return pkg->parent_path().parent_path().parent_path().string();
}

}  // namespace testsupport
