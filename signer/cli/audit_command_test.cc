// `signer audit verify` on a log whose write was torn: it reports the repair and succeeds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "signer/audit/audit_log.h"
#include "signer/cli/keys_command.h"

namespace signer::cli {
namespace {

using ::testing::HasSubstr;

std::string Slurp(std::FILE* f) {
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
  return s;
}

TEST(AuditCommand, ReportsATornRecordAndItsRepairWithoutFailing) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/audit.jsonl";
  {
    auto log = *audit::AuditLog::Open(path, absl::ZeroDuration());
    ASSERT_TRUE(log->Append(boost::json::object{{"method", "ListKeys"}}).ok());
  }
  std::ofstream(path, std::ios::app) << "{\"seq\":2,\"time\":\"2026-";  // a write cut short
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunAuditCommand({"verify", path}, out, err), 0) << Slurp(err);
  EXPECT_THAT(Slurp(out), HasSubstr("repair: line 2: torn final record (22 bytes, no newline)"));

  ASSERT_TRUE(audit::AuditLog::Open(path, absl::ZeroDuration()).ok());  // start-up cuts it
  std::FILE* out2 = std::tmpfile();
  EXPECT_EQ(RunAuditCommand({"verify", path}, out2, err), 0) << Slurp(err);
  const std::string text = Slurp(out2);
  EXPECT_THAT(text, HasSubstr("ok: 2 records"));
  EXPECT_THAT(text, HasSubstr("repair: line 2: start-up cut a torn record of 22 bytes"));
  std::fclose(out);
  std::fclose(out2);
  std::fclose(err);
}

}  // namespace
}  // namespace signer::cli
