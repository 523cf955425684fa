// `signer audit verify` on a log whose write was torn: it reports the repair and succeeds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
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
  EXPECT_EQ(RunAuditCommand({"verify", path}, "", out, err), 0) << Slurp(err);
  EXPECT_THAT(Slurp(out), HasSubstr("repair: line 2: torn final record (22 bytes, no newline)"));

  ASSERT_TRUE(audit::AuditLog::Open(path, absl::ZeroDuration()).ok());  // start-up cuts it
  std::FILE* out2 = std::tmpfile();
  EXPECT_EQ(RunAuditCommand({"verify", path}, "", out2, err), 0) << Slurp(err);
  const std::string text = Slurp(out2);
  EXPECT_THAT(text, HasSubstr("ok: 2 records"));
  EXPECT_THAT(text, HasSubstr("repair: line 2: start-up cut a torn record of 22 bytes"));
  std::fclose(out);
  std::fclose(out2);
  std::fclose(err);
}

// Cutting the last records at a record boundary leaves a chain that verifies; only the head an
// operator kept (the signer logs it at start and stop) shows the cut.
TEST(AuditCommand, ExpectHeadDetectsRecordsCutFromTheEnd) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/cut.jsonl";
  std::string head_at_2, head_at_3;
  {
    auto log = *audit::AuditLog::Open(path, absl::ZeroDuration());
    ASSERT_TRUE(log->Append(boost::json::object{{"method", "ListKeys"}}).ok());
    ASSERT_TRUE(log->Append(boost::json::object{{"method", "SignAddComposeHash"}}).ok());
    head_at_2 = log->head_hash();
    ASSERT_TRUE(log->Append(boost::json::object{{"method", "SignAddComposeHash"}}).ok());
    head_at_3 = log->head_hash();
  }
  auto run = [&](const std::string& head, std::string* out_text, std::string* err_text) {
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    const int code = RunAuditCommand({"verify", path}, head, out, err);
    *out_text = Slurp(out);
    *err_text = Slurp(err);
    std::fclose(out);
    std::fclose(err);
    return code;
  };
  std::string out, err;
  EXPECT_EQ(run(head_at_3, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("ok: 3 records, head " + head_at_3 + "; the expected head is record 3"));
  EXPECT_EQ(run("0x" + absl::AsciiStrToUpper(head_at_2), &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("the expected head is record 2, 1 records appended since"));

  std::string content;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    content = ss.str();
  }
  const size_t end_of_2 = content.find('\n', content.find('\n') + 1) + 1;
  std::ofstream(path, std::ios::trunc) << content.substr(0, end_of_2);  // record 3 is gone
  EXPECT_EQ(run("", &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("ok: 2 records, head " + head_at_2));
  EXPECT_EQ(run(head_at_3, &out, &err), 1) << out;
  EXPECT_THAT(err, HasSubstr("expected head " + head_at_3 +
                             " is not the hash of any record: records were removed from the end of the log"));
  EXPECT_THAT(err, HasSubstr("the chain verifies up to record 2, head " + head_at_2));

  EXPECT_EQ(run("abc", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("--expect_head must be 64 hex digits"));
}

}  // namespace
}  // namespace signer::cli
