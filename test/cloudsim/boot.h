// How simulated CVMs come up. After a commit the CVM is "starting", after an applied update
// "restarting" (still reporting the compose hash it ran before); each GET /cvms/{id} counts one
// poll, and after `boot_polls` of them the CVM reports `end_status` ("running" unless a test
// makes it fail) with its new compose hash. `hold` keeps every booting CVM where it is until it
// is cleared: the knob for "a CVM that never starts" and for tests that release it on cue.
//
// The rules are global (POST /_sim/boot, --boot_json), persisted in the database; a boot's poll
// count is taken from the rules when the boot starts, `hold` and `end_status` when it is read.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_BOOT_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_BOOT_H_

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/statusor.h"

namespace cloudsim {

struct BootRules {
  int64_t boot_polls = 0;              // reads that still show the transitional status
  bool hold = false;                   // no booting CVM finishes while set
  std::string end_status = "running";  // e.g. "error": the boot fails
};

// `base` with the keys present in `v` ({"boot_polls", "hold", "end_status"}) replaced.
// INVALID_ARGUMENT for an unknown key, a wrong type, a negative count or an empty status.
absl::StatusOr<BootRules> ParseBootRules(const boost::json::value& v, BootRules base);
boost::json::object BootRulesJson(const BootRules& rules);

// Puts a CVM record (its stored JSON) into a boot: `status` now, `shown_compose_hash` reported
// until the boot ends (nullopt: the record's own compose_hash).
void StartBoot(boost::json::object& cvm, const char* status, const BootRules& rules,
               std::optional<std::string> shown_compose_hash);

// One read of a CVM record under `rules`: counts a poll when `count_poll`, ends the boot when
// it is due. Returns true when the record changed (the caller stores it).
bool AdvanceBoot(boost::json::object& cvm, const BootRules& rules, bool count_poll);

// The compose hash a read reports: the shown one while booting, else the record's.
boost::json::value ReportedComposeHash(const boost::json::object& cvm);
// Whether the record is in a boot.
bool Booting(const boost::json::object& cvm);

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_BOOT_H_
