#include "signer/audit/audit_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace signer::audit {
namespace {

std::string TmpPath(const std::string& name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

std::string MakeLog(const std::string& name, int n) {
  const std::string path = TmpPath(name);
  auto log = *AuditLog::Open(path, absl::ZeroDuration());
  for (int i = 0; i < n; ++i) {
    boost::json::object e;
    e["method"] = "SignAddComposeHash";
    e["decision"] = i % 2 ? "allow" : "deny";
    e["nonce"] = i;
    EXPECT_TRUE(log->Append(e).ok());
  }
  return path;
}

TEST(AuditLog, ChainVerifiesAndSurvivesReopen) {
  const std::string path = MakeLog("a.jsonl", 5);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 5u);
  {
    auto log = *AuditLog::Open(path);
    EXPECT_EQ(log->seq(), 5u);
    EXPECT_EQ(log->head_hash(), r.head_hash);
    boost::json::object e;
    e["method"] = "ListKeys";
    ASSERT_TRUE(log->Append(e).ok());
  }
  r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 6u);
  std::vector<std::string> lines = ReadLines(path);
  EXPECT_EQ(lines[0].rfind("{\"seq\":1,\"time\":\"", 0), 0u) << lines[0];
  boost::json::object bad;
  bad["hash"] = "x";
  EXPECT_FALSE((*AuditLog::Open(path))->Append(bad).ok()) << "reserved names";
}

TEST(AuditLog, DetectsEditedRecord) {
  const std::string path = MakeLog("b.jsonl", 5);
  std::vector<std::string> lines = ReadLines(path);
  lines[2] = absl::StrReplaceAll(lines[2], {{"\"deny\"", "\"allow\""}});
  WriteLines(path, lines);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_line, 3u) << r.message;
  EXPECT_NE(r.message.find("edited"), std::string::npos);
}

TEST(AuditLog, DetectsEditWithRecomputedHash) {
  // A forger who recomputes the edited record's own hash still breaks the next record's prev.
  const std::string path = MakeLog("c.jsonl", 5);
  std::vector<std::string> lines = ReadLines(path);
  std::string edited = absl::StrReplaceAll(lines[1], {{"\"allow\"", "\"deny\""}});
  std::string claimed;
  edited = edited.substr(0, edited.rfind(",\"hash\":\"")) + "}";
  std::string body = edited;
  edited.pop_back();
  std::string line = edited + ",\"hash\":\"" + std::string(64, '0') + "\"}";
  absl::StatusOr<std::string> h = ComputeLineHash(line, &claimed);
  ASSERT_TRUE(h.ok());
  lines[1] = edited + ",\"hash\":\"" + *h + "\"}";
  WriteLines(path, lines);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_line, 3u) << r.message;
}

TEST(AuditLog, DetectsRemovedRecord) {
  const std::string path = MakeLog("d.jsonl", 5);
  std::vector<std::string> lines = ReadLines(path);
  lines.erase(lines.begin() + 1);
  WriteLines(path, lines);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_line, 2u) << r.message;
  EXPECT_NE(r.message.find("removed"), std::string::npos);
}

TEST(AuditLog, DetectsReorderedRecords) {
  const std::string path = MakeLog("e.jsonl", 5);
  std::vector<std::string> lines = ReadLines(path);
  std::swap(lines[3], lines[4]);
  WriteLines(path, lines);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_line, 4u) << r.message;
}

TEST(AuditLog, DetectsRemovedFirstRecordAndTruncatedTail) {
  std::string path = MakeLog("f.jsonl", 3);
  std::vector<std::string> lines = ReadLines(path);
  lines.erase(lines.begin());
  WriteLines(path, lines);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_line, 1u) << r.message;

  path = MakeLog("g.jsonl", 3);
  std::string content;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    content = ss.str();
  }
  { std::ofstream(path, std::ios::trunc) << content.substr(0, content.size() - 10); }
  r = VerifyAuditLog(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_line, 3u) << r.message;
  EXPECT_FALSE(AuditLog::Open(path).ok()) << "refuses to append after a partial record";
}

}  // namespace
}  // namespace signer::audit
