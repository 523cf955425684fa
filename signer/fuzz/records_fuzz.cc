// `signer records import` input (JSON Lines exported by another signer) and `signer audit
// verify` input (the audit log, a file anyone with write access to the volume can edit): every
// line through the records reader and, when it is a signature record, the import checks; the
// whole text as an audit log file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "signer/audit/audit_log.h"
#include "signer/cli/records_jsonl.h"
#include "signer/cli/records_verify.h"

namespace {

void VerifyAsAuditLog(absl::string_view text) {
  static const std::string path = "/tmp/records_fuzz_audit." + std::to_string(::getpid()) + ".log";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  (void)signer::audit::VerifyAuditLog(path);
  std::remove(path.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<signer::equivocation::Record> slot;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    (void)signer::cli::ParseHeader(line);
    auto parsed = signer::cli::ParseLine(line);
    if (!parsed.ok()) continue;
    if (const auto* record = std::get_if<signer::equivocation::Record>(&*parsed)) {
      (void)signer::cli::VerifyRecord(*record);
      slot.push_back(*record);
    }
  }
  if (!slot.empty()) (void)signer::cli::VerifySlot(slot);
  VerifyAsAuditLog(text);
  return 0;
}
