// The Phala Cloud API's base URL: http[s]://host[:port][/path-prefix], without user info, query
// or fragment (keys do not belong in URLs); a trailing '/' of the prefix is dropped, so request
// targets are `url.path + "/kms"`.
#ifndef ONCHAIN_KMS_CLOUDAPI_BASE_URL_H_
#define ONCHAIN_KMS_CLOUDAPI_BASE_URL_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/http/url.h"

namespace cloudapi {

// InvalidArgument "base url: ..." naming what is wrong (never echoing the URL, which may be a
// misplaced secret).
absl::StatusOr<platform::http::Url> ParseBaseUrl(absl::string_view url);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_BASE_URL_H_
