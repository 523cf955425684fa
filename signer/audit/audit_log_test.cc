#include "signer/audit/audit_log.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "platform/defer_scope.h"
#include "platform/testing/wait_for.h"
#include "signer/audit/audit_record.h"

namespace signer::audit {
namespace {

using platform::testing::WaitFor;

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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void AppendRaw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

boost::json::object Event(const std::string& method) {
  boost::json::object e;
  e["method"] = method;
  e["padding"] = std::string(200, 'p');  // longer than the room left under the file size limit
  return e;
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

// The context switches (wake-ups) of this process's thread named `name`; nullopt if none is.
std::optional<int64_t> ThreadWakeUps(const std::string& name) {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return std::nullopt;
  std::optional<int64_t> out;
  while (const dirent* e = ::readdir(dir)) {
    const std::string task = std::string("/proc/self/task/") + e->d_name;
    std::string comm;
    std::getline(std::ifstream(task + "/comm"), comm);
    if (comm != name) continue;
    std::ifstream status(task + "/status");
    int64_t n = 0;
    for (std::string line; std::getline(status, line);) {
      for (const char* key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
        int64_t v = 0;
        if (line.rfind(key, 0) == 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(strlen(key))), &v)) {
          n += v;
        }
      }
    }
    out = n;
  }
  ::closedir(dir);
  return out;
}

// An idle signer's flusher used to wake every interval (~100 times a second at the default
// 10 ms) to find nothing to sync; it now sleeps until the next record.
TEST(AuditLog, AnIdleLogsFlusherSleepsUntilTheNextRecord) {
  auto log = *AuditLog::Open(TmpPath("idle.jsonl"), absl::Milliseconds(1));
  ASSERT_TRUE(log->Append(Event("SignTransaction")).ok());
  ASSERT_TRUE(WaitFor([&] { return log->syncs() > 0; }));
  ASSERT_EQ(log->syncs(), 1u);
  absl::SleepFor(absl::Milliseconds(20));  // the flusher goes back to sleep after its sync
  const std::optional<int64_t> before = ThreadWakeUps("audit-flusher");
  ASSERT_TRUE(before.has_value()) << "no thread named audit-flusher";
  absl::SleepFor(absl::Milliseconds(100));  // 100 intervals
  const std::optional<int64_t> after = ThreadWakeUps("audit-flusher");
  ASSERT_TRUE(after.has_value());
  EXPECT_LE(*after - *before, 2) << "the idle flusher woke up";
  EXPECT_EQ(log->syncs(), 1u);
  ASSERT_TRUE(log->Append(Event("SignTransaction")).ok());  // and it still wakes for a record
  EXPECT_TRUE(WaitFor([&] { return log->syncs() > 1; }));
  EXPECT_EQ(log->syncs(), 2u);
}

TEST(AuditLog, RecordsWithinAnIntervalShareOneSync) {
  auto log = *AuditLog::Open(TmpPath("share.jsonl"), absl::Milliseconds(300));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(Event("SignTransaction")).ok());
  ASSERT_TRUE(WaitFor([&] { return log->syncs() > 0; }));
  absl::SleepFor(absl::Milliseconds(400));  // no second sync within a further interval
  EXPECT_EQ(log->syncs(), 1u);
  EXPECT_EQ(log->seq(), 5u);
}

TEST(AuditLog, WithoutAnIntervalEveryRecordIsSyncedInAppend) {
  auto log = *AuditLog::Open(TmpPath("every.jsonl"), absl::ZeroDuration());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(log->Append(Event("SignTransaction")).ok());
    EXPECT_EQ(log->syncs(), static_cast<uint64_t>(i + 1));
  }
  EXPECT_FALSE(ThreadWakeUps("audit-flusher").has_value()) << "no flusher without an interval";
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

// The record's bytes are those of json::serialize of the object {seq, time, prev, the event's
// fields...} (the encoding every existing log was written with), then the hash field: logs
// written before and after stay one verifiable chain.
TEST(AuditLog, RecordBytesAreTheSerializedObject) {
  const std::string path = TmpPath("bytes.jsonl");
  std::vector<boost::json::object> events(4);
  events[0]["method"] = "SignTransaction";
  events[0]["reason"] = "quote \" backslash \\ newline \n tab \t ctrl \x01 utf-8 \xc3\xa9 slash /";
  events[0]["nonce"] = static_cast<uint64_t>(18446744073709551615ull);
  events[0]["delta"] = -7;
  events[0]["lost_race"] = true;
  events[0]["none"] = nullptr;
  events[0]["intent"] =
      boost::json::object{{"kind", "generic"}, {"data_bytes", 4}, {"list", boost::json::array{1, "a"}}};
  events[2]["method"] = "ListKeys";
  std::string long_reason;  // several of the serializer's chunks, escapes across their borders
  for (int i = 0; i < 700; ++i) long_reason += (i % 7 == 0) ? "\"\\\n" : "abc";
  events[3]["reason"] = long_reason;
  events[3]["after"] = 1;
  {
    auto log = *AuditLog::Open(path, absl::ZeroDuration());
    for (const auto& e : events) ASSERT_TRUE(log->Append(e).ok());
  }
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 4u);
  std::string prev(64, '0');
  for (size_t i = 0; i < lines.size(); ++i) {
    const boost::json::object parsed = boost::json::parse(lines[i]).as_object();
    boost::json::object expected;
    expected["seq"] = static_cast<int64_t>(i + 1);
    expected["time"] = parsed.at("time");
    expected["prev"] = prev;
    for (const auto& kv : events[i]) expected[kv.key()] = kv.value();
    std::string want = boost::json::serialize(expected);
    const std::string hash = std::string(parsed.at("hash").as_string());
    want.pop_back();
    want += ",\"hash\":\"" + hash + "\"}";
    EXPECT_EQ(lines[i], want);
    prev = hash;
  }
  EXPECT_TRUE(VerifyAuditLog(path).ok);
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
  EXPECT_TRUE(r.ok) << r.message;  // a truncated last record looks like a torn write: reported
  EXPECT_EQ(r.records, 2u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("line 3: torn final record"), std::string::npos) << r.notes[0];
}

// In a child process: opens the log at `path` (no interval), lets the file grow by only `room`
// bytes (EFBIG under RLIMIT_FSIZE, as ENOSPC on a full disk) while `full` runs, then appends one
// more record with room again. The child's exit code: 0 when all went well; 10 open, 11
// setrlimit, 13 the append with room again, or what `full` returned (non-zero: it failed).
int WithFullDisk(const std::string& path, size_t room, const std::function<int(AuditLog&)>& full) {
  const size_t before = ReadAll(path).size();
  const pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // write(2) then fails with EFBIG instead of killing us
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(path, absl::ZeroDuration());
    if (!log.ok()) ::_exit(10);
    rlimit limit{};
    ::getrlimit(RLIMIT_FSIZE, &limit);
    const rlimit saved = limit;
    limit.rlim_cur = before + room;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(11);
    if (const int code = full(**log); code != 0) ::_exit(code);
    ::setrlimit(RLIMIT_FSIZE, &saved);  // the disk has room again
    if (!(*log)->Append(Event("ListKeys")).ok()) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// A write that fails half way (here EFBIG under RLIMIT_FSIZE, as ENOSPC on a full disk) leaves
// nothing behind: the failed Append reports UNAVAILABLE, and the next record, once there is
// room again, starts on a line of its own, so the log still verifies and reopens.
TEST(AuditLog, AFailedPartialWriteDoesNotMergeWithTheNextRecord) {
  const std::string path = MakeLog("efbig.jsonl", 3);
  // Room for 40 bytes of the next record: a short write.
  const int code = WithFullDisk(path, 40, [](AuditLog& log) {
    absl::StatusOr<std::string> failed = log.Append(Event("SignTransaction"));
    return failed.ok() || failed.status().code() != absl::StatusCode::kUnavailable ? 12 : 0;
  });
  ASSERT_EQ(code, 0) << "10 open, 11 setrlimit, 12 the short write succeeded, 13 next append";
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 4u);
  EXPECT_TRUE(r.notes.empty()) << r.notes.front();
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3].rfind("{\"seq\":4,", 0), 0u) << lines[3];
  EXPECT_TRUE(AuditLog::Open(path).ok());
}

// Within a DeferScope (a group commit's replies) records are chained at once and written
// together when the scope ends; each `then` runs after that write, in order.
TEST(AuditLog, RecordsOfADeferScopeShareOneWriteAtItsEnd) {
  const std::string path = MakeLog("deferred.jsonl", 2);
  auto log = *AuditLog::Open(path, absl::ZeroDuration());
  const std::string head = log->head_hash();
  const uint64_t syncs = log->syncs();
  std::vector<std::string> hashes;
  {
    platform::DeferScope scope;
    for (int i = 0; i < 3; ++i) {
      log->AppendThen(Event("SignAddComposeHash"), [&](absl::StatusOr<std::string> h) {
        ASSERT_TRUE(h.ok()) << h.status();
        EXPECT_EQ(ReadLines(path).size(), 5u);  // already written
        hashes.push_back(*h);
      });
    }
    EXPECT_EQ(ReadLines(path).size(), 2u);  // nothing written yet
    EXPECT_EQ(log->seq(), 2u);              // seq and head: the last record written
    EXPECT_EQ(log->head_hash(), head);
  }
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(log->syncs(), syncs + 1);  // one write, one fdatasync (no interval)
  EXPECT_EQ(log->seq(), 5u);
  EXPECT_EQ(log->head_hash(), hashes[2]);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 5u);
  EXPECT_EQ(r.head_hash, hashes[2]);
  // Without a scope: written at once, `then` before AppendThen returns.
  bool ran = false;
  log->AppendThen(Event("ListKeys"), [&](absl::StatusOr<std::string> h) { ran = h.ok(); });
  EXPECT_TRUE(ran);
  EXPECT_EQ(ReadLines(path).size(), 6u);
}

// An Append on another thread while a scope holds records writes them first, in the same write:
// the file keeps the chain's order, and the scope's records are reported written.
TEST(AuditLog, AnAppendElsewhereWritesTheRecordsAScopeHoldsFirst) {
  const std::string path = TmpPath("deferred_then_append.jsonl");
  auto log = *AuditLog::Open(path);
  std::vector<absl::Status> outcomes;
  {
    platform::DeferScope scope;
    for (int i = 0; i < 2; ++i) {
      log->AppendThen(Event("SignTransaction"), [&](absl::StatusOr<std::string> h) { outcomes.push_back(h.status()); });
    }
    std::thread([&] { EXPECT_TRUE(log->Append(Event("GetKey")).ok()); }).join();
    EXPECT_EQ(ReadLines(path).size(), 3u);
    EXPECT_TRUE(outcomes.empty());  // reported at the scope's end
  }
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].ok() && outcomes[1].ok());
  std::vector<std::string> lines = ReadLines(path);
  EXPECT_NE(lines[2].find("\"method\":\"GetKey\""), std::string::npos) << lines[2];
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 3u);
}

// A failed write of a scope's records fails each of them (its reply is withheld), leaves none of
// them in the file, and the chain goes on from the record before them.
TEST(AuditLog, AFailedWriteOfAScopesRecordsFailsEachAndLeavesNone) {
  const std::string path = MakeLog("deferred_efbig.jsonl", 3);
  // Room for one record and a bit: the write of three is short.
  const int code = WithFullDisk(path, 300, [](AuditLog& log) {
    int failed = 0;
    {
      platform::DeferScope scope;
      for (int i = 0; i < 3; ++i) {
        log.AppendThen(Event("SignTransaction"), [&](absl::StatusOr<std::string> h) {
          failed += h.status().code() == absl::StatusCode::kUnavailable;
        });
      }
    }
    if (failed != 3) return 12;
    return log.seq() == 3 ? 0 : 14;
  });
  ASSERT_EQ(code, 0) << "10 open, 11 setrlimit, 12 not all three failed, 13 next append, 14 seq";
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 4u);
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3].rfind("{\"seq\":4,", 0), 0u) << lines[3];
}

// A crash (or power loss) in the middle of a write leaves a torn final record: start-up cuts it
// with a warning and a record of the repair, and the chain goes on from the last whole record.
TEST(AuditLog, StartUpCutsATornFinalRecordAndRecordsTheRepair) {
  const std::string path = MakeLog("torn.jsonl", 3);
  const std::string whole = ReadAll(path);
  const std::string head = VerifyAuditLog(path).head_hash;
  const std::string copy = TmpPath("torn-next.jsonl");
  {
    std::ofstream(copy, std::ios::binary) << whole;
    ASSERT_TRUE((*AuditLog::Open(copy, absl::ZeroDuration()))->Append(Event("SignMessage")).ok());
  }
  const std::string fourth = ReadAll(copy).substr(whole.size());
  AppendRaw(path, fourth.substr(0, 57));  // the write stopped after 57 bytes

  VerifyResult torn = VerifyAuditLog(path);
  EXPECT_TRUE(torn.ok) << torn.message;
  EXPECT_EQ(torn.records, 3u);
  ASSERT_EQ(torn.notes.size(), 1u);
  EXPECT_NE(torn.notes[0].find("line 4: torn final record (57 bytes, no newline)"), std::string::npos) << torn.notes[0];

  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(path, absl::ZeroDuration());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->seq(), 4u) << "the repair is record 4";
  ASSERT_TRUE((*log)->Append(Event("ListKeys")).ok());
  log->reset();
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(ReadAll(path).substr(0, whole.size()), whole) << "no whole record was touched";
  EXPECT_NE(lines[3].find("\"event\":\"audit_log_repaired\""), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("\"repair\":\"cut_torn_record\",\"bytes\":57"), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find(absl::StrCat("\"prev\":\"", head, "\"")), std::string::npos) << lines[3];
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 5u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("line 4: start-up cut a torn record of 57 bytes"), std::string::npos) << r.notes[0];
}

// A whole record whose newline alone is missing is kept: the newline is added, nothing cut.
TEST(AuditLog, StartUpKeepsAWholeRecordWithoutItsNewline) {
  const std::string path = MakeLog("nl.jsonl", 3);
  std::string content = ReadAll(path);
  content.pop_back();
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << content; }
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(path, absl::ZeroDuration());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->seq(), 4u) << "records 1-3 kept, the repair is 4";
  log->reset();
  EXPECT_EQ(ReadAll(path).substr(0, content.size() + 1), content + "\n");
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 4u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("newline"), std::string::npos) << r.notes[0];
}

// Logs written before this fix may hold a torn record merged with the next one on one line.
// verify reports it and checks the chain on; start-up goes on from that record and notes it.
TEST(AuditLog, AMergedLineFromAnOlderSignerIsReportedAndRepaired) {
  const std::string path = MakeLog("merged.jsonl", 4);
  std::vector<std::string> lines = ReadLines(path);
  const std::string fourth = lines[3];
  lines[3] = lines[3].substr(0, 30) + lines[3];  // the torn start of a record, then record 4
  WriteLines(path, lines);
  VerifyResult r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 4u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("line 4: 30 bytes of a torn record before the record"), std::string::npos) << r.notes[0];

  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(path, absl::ZeroDuration());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->seq(), 5u) << "the chain goes on from record 4; the note is record 5";
  log->reset();
  r = VerifyAuditLog(path);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.records, 5u);
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_NE(r.notes[1].find("line 5: start-up noted 30 torn bytes before record 4"), std::string::npos) << r.notes[1];
  EXPECT_EQ(ReadLines(path)[3], lines[3]) << "nothing rewritten in the middle of the file";
  EXPECT_NE(lines[3].find(fourth), std::string::npos);
}

// A final line that ends with a newline but does not verify is not a torn write: it is left
// alone and start-up refuses, as before.
TEST(AuditLog, StartUpRefusesAnEditedFinalRecord) {
  const std::string path = MakeLog("edited-last.jsonl", 3);
  std::vector<std::string> lines = ReadLines(path);
  lines[2] = absl::StrReplaceAll(lines[2], {{"\"deny\"", "\"allow\""}});
  WriteLines(path, lines);
  const std::string before = ReadAll(path);
  EXPECT_FALSE(AuditLog::Open(path).ok());
  EXPECT_EQ(ReadAll(path), before);
}

}  // namespace
}  // namespace signer::audit
