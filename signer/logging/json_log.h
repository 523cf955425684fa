// Structured logs: one JSON object per line on stderr {"ts":..., "level":..., "msg":..., fields}.
// Callers pass only non-secret values (addresses, hashes, rule names, counts); nothing here
// inspects them, so the rule is enforced by review and by the process-level leak test.
#ifndef ONCHAIN_KMS_SIGNER_LOGGING_JSON_LOG_H_
#define ONCHAIN_KMS_SIGNER_LOGGING_JSON_LOG_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace signer::logging {

enum class Level { kDebug, kInfo, kWarning, kError };

void Log(Level level, std::string_view msg, std::initializer_list<std::pair<std::string_view, boost::json::value>> fields = {});
void Log(Level level, std::string_view msg, const boost::json::object& fields);

}  // namespace signer::logging

#endif  // ONCHAIN_KMS_SIGNER_LOGGING_JSON_LOG_H_
