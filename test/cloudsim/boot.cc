#include "test/cloudsim/boot.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cloudsim {

namespace json = boost::json;

absl::StatusOr<BootRules> ParseBootRules(const json::value& v, BootRules base) {
  if (!v.is_object()) return absl::InvalidArgumentError("boot rules must be a JSON object");
  for (const auto& [key, value] : v.get_object()) {
    if (key == "boot_polls") {
      if (!value.is_int64() || value.get_int64() < 0) {
        return absl::InvalidArgumentError("boot_polls must be a non-negative integer");
      }
      base.boot_polls = value.get_int64();
    } else if (key == "hold") {
      if (!value.is_bool()) return absl::InvalidArgumentError("hold must be a boolean");
      base.hold = value.get_bool();
    } else if (key == "end_status") {
      if (!value.is_string() || value.get_string().empty()) {
        return absl::InvalidArgumentError("end_status must be a non-empty string");
      }
      base.end_status = std::string(value.get_string());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown boot rule key \"", std::string(key), "\" (boot_polls, hold, end_status)"));
    }
  }
  return base;
}

json::object BootRulesJson(const BootRules& rules) {
  json::object o;
  o["boot_polls"] = rules.boot_polls;
  o["hold"] = rules.hold;
  o["end_status"] = rules.end_status;
  return o;
}

void StartBoot(json::object& cvm, const char* status, const BootRules& rules,
               std::optional<std::string> shown_compose_hash) {
  json::object boot;
  boot["polls_left"] = rules.boot_polls;
  boot["shown_compose_hash"] = shown_compose_hash ? json::value(*shown_compose_hash) : json::value(nullptr);
  boot["polls_seen"] = 0;
  cvm["boot"] = std::move(boot);
  cvm["status"] = status;
}

bool Booting(const json::object& cvm) {
  const json::value* boot = cvm.if_contains("boot");
  return boot != nullptr && boot->is_object();
}

bool AdvanceBoot(json::object& cvm, const BootRules& rules, bool count_poll) {
  if (!Booting(cvm)) return false;
  json::object& boot = cvm["boot"].as_object();
  bool changed = false;
  if (count_poll) {
    boot["polls_seen"] = boot["polls_seen"].to_number<int64_t>() + 1;
    changed = true;
  }
  if (rules.hold) return changed;
  int64_t left = boot["polls_left"].to_number<int64_t>();
  if (left > 0) {
    if (count_poll) boot["polls_left"] = left - 1;
    return changed;
  }
  cvm.erase("boot");
  cvm["status"] = rules.end_status;
  return true;
}

json::value ReportedComposeHash(const json::object& cvm) {
  if (Booting(cvm)) {
    const json::value& shown = cvm.at("boot").as_object().at("shown_compose_hash");
    if (shown.is_string()) return shown;
  }
  const json::value* hash = cvm.if_contains("compose_hash");
  return hash ? *hash : json::value(nullptr);
}

}  // namespace cloudsim
