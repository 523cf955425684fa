#include "cloudapi/base_url.h"

#include "absl/strings/str_cat.h"

namespace cloudapi {

absl::StatusOr<platform::http::Url> ParseBaseUrl(absl::string_view text) {
  absl::StatusOr<platform::http::Url> url = platform::http::ParseUrl(text);
  if (!url.ok()) return absl::InvalidArgumentError(absl::StrCat("base url: ", url.status().message()));
  if (url->has_userinfo) return absl::InvalidArgumentError("base url: user info is not allowed");
  if (url->has_query || url->has_fragment) {
    return absl::InvalidArgumentError("base url: query and fragment are not allowed");
  }
  while (!url->path.empty() && url->path.back() == '/') url->path.pop_back();
  return url;
}

}  // namespace cloudapi
