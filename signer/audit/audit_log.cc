#include "signer/audit/audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "crypto/sha256.h"

namespace signer::audit {
namespace {

namespace json = boost::json;

constexpr char kHashField[] = ",\"hash\":\"";
const std::string kZeroHash(64, '0');

std::string Hex(const crypto::Sha256Digest& d) { return chain::ToHex(d, false); }

bool IsLowerHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> ComputeLineHash(const std::string& line, std::string* claimed_hash) {
  const size_t pos = line.rfind(kHashField);
  const size_t start = pos + std::strlen(kHashField);
  if (pos == std::string::npos || line.size() != start + 64 + 2 || line.compare(start + 64, 2, "\"}") != 0) {
    return absl::InvalidArgumentError("no trailing \"hash\" field");
  }
  *claimed_hash = line.substr(start, 64);
  if (!IsLowerHex64(*claimed_hash)) return absl::InvalidArgumentError("malformed \"hash\" field");
  std::string body = line.substr(0, pos);
  body.push_back('}');
  return Hex(crypto::Sha256(absl::string_view(body)));
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, absl::Duration fsync_interval) {
  std::unique_ptr<AuditLog> log(new AuditLog());
  log->fsync_interval_ = fsync_interval;
  {
    absl::MutexLock lock(&log->mu_);
    log->prev_ = kZeroHash;
  }
  // Recover the chain's head from the last line.
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      in.seekg(0, std::ios::end);
      const std::streamoff size = in.tellg();
      if (size > 0) {
        const std::streamoff tail = std::min<std::streamoff>(size, 1 << 20);
        in.seekg(size - tail);
        std::string buf(static_cast<size_t>(tail), '\0');
        in.read(buf.data(), tail);
        if (buf.back() != '\n') {
          return absl::FailedPreconditionError(absl::StrCat(
              "audit log ", path, " ends with an incomplete record; inspect it with `signer audit verify ", path, "`"));
        }
        buf.pop_back();
        const size_t nl = buf.rfind('\n');
        if (nl == std::string::npos && tail < size) {
          return absl::FailedPreconditionError(absl::StrCat("audit log ", path, ": last record longer than 1 MiB"));
        }
        const std::string last = nl == std::string::npos ? buf : buf.substr(nl + 1);
        std::string claimed;
        absl::StatusOr<std::string> h = ComputeLineHash(last, &claimed);
        if (!h.ok() || *h != claimed) {
          return absl::FailedPreconditionError(
              absl::StrCat("audit log ", path, ": the last record does not verify; run `signer audit verify`"));
        }
        boost::system::error_code ec;
        json::value v = json::parse(last, ec);
        if (ec || !v.is_object() || !v.as_object().contains("seq") || !v.as_object().at("seq").is_int64()) {
          return absl::FailedPreconditionError(absl::StrCat("audit log ", path, ": the last record has no seq"));
        }
        absl::MutexLock lock(&log->mu_);
        log->seq_ = static_cast<uint64_t>(v.as_object().at("seq").as_int64());
        log->prev_ = claimed;
      }
    }
  }
  log->fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log->fd_ < 0) return absl::UnavailableError(absl::StrCat("audit log ", path, ": ", std::strerror(errno)));
  if (fsync_interval > absl::ZeroDuration()) log->flusher_ = std::thread([l = log.get()] { l->FlusherLoop(); });
  return log;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
}

void AuditLog::FlusherLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(fsync_interval_));
    bool dirty;
    {
      absl::MutexLock l(&mu_);
      dirty = dirty_;
      dirty_ = false;
    }
    if (dirty) ::fdatasync(fd_);
  }
}

absl::StatusOr<std::string> AuditLog::Append(const json::object& event) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  absl::MutexLock lock(&mu_);
  json::object record;
  record["seq"] = static_cast<int64_t>(seq_ + 1);
  record["time"] = time;
  record["prev"] = prev_;
  for (const auto& kv : event) {
    if (kv.key() == "seq" || kv.key() == "time" || kv.key() == "prev" || kv.key() == "hash") {
      return absl::InternalError("audit event uses a reserved field name");
    }
    record[kv.key()] = kv.value();
  }
  std::string line = json::serialize(record);
  const std::string hash = Hex(crypto::Sha256(absl::string_view(line)));
  line.pop_back();  // the closing brace
  absl::StrAppend(&line, kHashField, hash, "\"}\n");
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("audit log write: ", std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
  if (fsync_interval_ <= absl::ZeroDuration()) {
    if (::fdatasync(fd_) != 0)
      return absl::UnavailableError(absl::StrCat("audit log fdatasync: ", std::strerror(errno)));
  } else {
    dirty_ = true;
  }
  ++seq_;
  prev_ = hash;
  return hash;
}

uint64_t AuditLog::seq() const {
  absl::MutexLock lock(&mu_);
  return seq_;
}

std::string AuditLog::head_hash() const {
  absl::MutexLock lock(&mu_);
  return prev_;
}

VerifyResult VerifyAuditLog(const std::string& path) {
  VerifyResult r;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.message = absl::StrCat(path, ": cannot be read");
    return r;
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string prev = kZeroHash;
  uint64_t expected_seq = 1;
  uint64_t line_no = 0;
  size_t pos = 0;
  auto fail = [&](const std::string& why) {
    r.ok = false;
    r.bad_line = line_no;
    r.message = absl::StrCat("line ", line_no, ": ", why);
    return r;
  };
  while (pos < content.size()) {
    ++line_no;
    const size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) return fail("incomplete last record (no newline): truncated or appended to");
    const std::string line = content.substr(pos, nl - pos);
    pos = nl + 1;
    std::string claimed;
    absl::StatusOr<std::string> h = ComputeLineHash(line, &claimed);
    if (!h.ok()) return fail(absl::StrCat("not an audit record: ", h.status().message()));
    if (*h != claimed) return fail("record hash mismatch: this record was edited");
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return fail("not a JSON object");
    const json::object& o = v.as_object();
    const json::value* seq = o.if_contains("seq");
    const json::value* p = o.if_contains("prev");
    if (seq == nullptr || !seq->is_int64() || p == nullptr || !p->is_string()) return fail("missing seq or prev");
    if (static_cast<uint64_t>(seq->as_int64()) != expected_seq) {
      return fail(absl::StrCat("seq ", seq->as_int64(), " where ", expected_seq,
                               " was expected: a record was removed, inserted or reordered before this line"));
    }
    if (std::string(p->as_string().c_str()) != prev) {
      return fail(absl::StrCat("prev does not match the hash of line ", line_no - 1,
                               ": a record was removed, inserted, reordered or edited before this line"));
    }
    prev = claimed;
    ++expected_seq;
    ++r.records;
  }
  r.ok = true;
  r.head_hash = prev;
  r.message = absl::StrCat("ok: ", r.records, " records, head ", prev);
  return r;
}

}  // namespace signer::audit
