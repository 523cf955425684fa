#include "signer/audit/audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include <boost/json/serializer.hpp>

#include "absl/strings/str_cat.h"
#include "platform/defer_scope.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"
#include "platform/utc_millis.h"
#include "signer/audit/audit_record.h"

namespace signer::audit {
namespace {

namespace json = boost::json;

constexpr size_t kMaxTail = size_t{1} << 20;
// Records a DeferScope holds back are written once this many bytes wait.
constexpr size_t kMaxUnwritten = size_t{256} << 10;

// What start-up found at the end of the file and did about it.
struct Recovered {
  uint64_t seq = 0;
  std::string head = kZeroHash;
  std::optional<json::object> repair;  // the event of the record noting a repair
};

absl::Status Refuse(const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("audit log ", path, ": ", why, "; inspect it with `signer audit verify ", path, "`"));
}

absl::Status Unavailable(absl::string_view what, int err) {
  return absl::UnavailableError(absl::StrCat("audit log ", what, ": ", std::strerror(err)));
}

absl::StatusOr<std::string> ReadTail(int fd, off_t size, size_t n) {
  std::string buf(n, '\0');
  for (size_t got = 0; got < n;) {
    const ssize_t r = ::pread(fd, buf.data() + got, n - got, size - static_cast<off_t>(n - got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Unavailable("read", r < 0 ? errno : EIO);
    got += static_cast<size_t>(r);
  }
  return buf;
}

json::object RepairEvent(const char* kind, absl::string_view bytes, off_t offset) {
  return json::object{{"event", kRepairEvent},
                      {"repair", kind},
                      {"bytes", static_cast<int64_t>(bytes.size())},
                      {"offset", static_cast<int64_t>(offset)},
                      {"sha256", Sha256Hex(bytes)}};
}

// The head of the chain from the last line of `buf` (the file's tail from offset `base`, ending
// with a newline): a whole record, or one after the torn bytes an older signer left on its line.
absl::Status HeadFromLastLine(std::string buf, off_t base, const std::string& path, Recovered* out) {
  buf.pop_back();
  const size_t nl = buf.rfind('\n');
  if (nl == std::string::npos && base > 0) return Refuse(path, "the last record is longer than 1 MiB");
  const size_t start = nl == std::string::npos ? 0 : nl + 1;
  const absl::string_view last = absl::string_view(buf).substr(start);
  absl::StatusOr<ParsedRecord> rec = ParseRecord(last);
  if (const size_t torn = rec.ok() ? std::string::npos : WholeRecordAfterTornBytes(last); torn != last.npos) {
    rec = ParseRecord(last.substr(torn));
    out->repair = RepairEvent(kRepairTornBefore, last.substr(0, torn), base + static_cast<off_t>(start));
  }
  if (!rec.ok()) return Refuse(path, absl::StrCat("the last record does not verify (", rec.status().message(), ")"));
  out->seq = rec->seq;
  out->head = rec->hash;
  return absl::OkStatus();
}

// Bytes after the last newline are what a write that did not finish left (a crash, a full disk
// before this fix). A whole record that lacks only its newline gets it; anything else is cut,
// so no whole record is ever removed.
absl::Status RepairTornTail(int fd, const std::string& fragment, off_t size, const std::string& path, Recovered* out) {
  const off_t at = size - static_cast<off_t>(fragment.size());
  absl::StatusOr<ParsedRecord> whole = ParseRecord(fragment);
  if (whole.ok() && whole->seq == out->seq + 1 && whole->prev == out->head) {
    if (::write(fd, "\n", 1) != 1) return Unavailable("write", errno);
    out->seq = whole->seq;
    out->head = whole->hash;
    out->repair = RepairEvent(kRepairNewline, "", size);
  } else {
    if (::ftruncate(fd, at) != 0) return Unavailable("truncate", errno);
    out->repair = RepairEvent(kRepairCut, fragment, at);
  }
  platform::log::Warn("audit log: repaired a torn final record left by a write that did not finish",
                      {{"path", path},
                       {"repair", std::string(out->repair->at("repair").as_string().c_str())},
                       {"bytes", static_cast<int64_t>(fragment.size())},
                       {"offset", static_cast<int64_t>(at)}});
  return absl::OkStatus();
}

// Finds the chain's head at the end of the file and repairs a torn tail.
absl::StatusOr<Recovered> Recover(int fd, const std::string& path) {
  Recovered out;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Unavailable("stat", errno);
  if (st.st_size == 0) return out;
  const size_t n = std::min(static_cast<size_t>(st.st_size), kMaxTail);
  const off_t base = st.st_size - static_cast<off_t>(n);
  ASSIGN_OR_RETURN(std::string buf, ReadTail(fd, st.st_size, n));
  std::string fragment;
  if (buf.back() != '\n') {
    const size_t nl = buf.rfind('\n');
    if (nl == std::string::npos && base > 0) return Refuse(path, "the last record is longer than 1 MiB");
    fragment = buf.substr(nl == std::string::npos ? 0 : nl + 1);
    buf.resize(buf.size() - fragment.size());
  }
  if (!buf.empty()) RETURN_IF_ERROR(HeadFromLastLine(std::move(buf), base, path, &out));
  if (!fragment.empty()) RETURN_IF_ERROR(RepairTornTail(fd, fragment, st.st_size, path, &out));
  return out;
}

}  // namespace
absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, absl::Duration fsync_interval) {
  std::unique_ptr<AuditLog> log(new AuditLog());
  log->fsync_interval_ = fsync_interval;
  log->fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log->fd_ < 0) return absl::UnavailableError(absl::StrCat("audit log ", path, ": ", std::strerror(errno)));
  ASSIGN_OR_RETURN(Recovered recovered, Recover(log->fd_, path));
  struct stat st {};
  if (::fstat(log->fd_, &st) != 0) return Unavailable("stat", errno);
  {
    absl::MutexLock lock(&log->mu_);
    log->seq_ = recovered.seq;
    log->prev_ = recovered.head;
    log->size_ = st.st_size;
    log->last_sync_ = absl::Now();
  }
  if (fsync_interval > absl::ZeroDuration()) log->flusher_ = std::thread([l = log.get()] { l->FlusherLoop(); });
  if (recovered.repair.has_value()) RETURN_IF_ERROR(log->Append(*recovered.repair).status());
  return log;
}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (flusher_.joinable()) flusher_.join();
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
}

// Sleeps until a record is written (not every interval: an idle signer's flusher made ~100
// wake-ups a second), then until `fsync_interval_` after the last sync, so the records of one
// interval share one fdatasync, which runs outside the lock (Append never waits on it).
void AuditLog::FlusherLoop() {
  pthread_setname_np(pthread_self(), "audit-flusher");
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(this, &AuditLog::FlusherHasWorkLocked));
    if (!stopping_) mu_.AwaitWithDeadline(absl::Condition(&stopping_), last_sync_ + fsync_interval_);
    if (stopping_) return;  // the destructor syncs
    dirty_ = false;
    mu_.Unlock();
    const int rc = ::fdatasync(fd_);
    const int err = errno;
    if (rc != 0) {
      // The records stay written; the next record (or the destructor) syncs again.
      platform::log::Warn("audit log: fdatasync failed", {{"error", std::strerror(err)}});
    }
    mu_.Lock();
    last_sync_ = absl::Now();
    ++syncs_;
  }
}

absl::StatusOr<std::string> AuditLog::AddLocked(const json::object& event, const std::string& time) {
  for (const auto& kv : event) {
    if (kv.key() == "seq" || kv.key() == "time" || kv.key() == "prev" || kv.key() == "hash") {
      return absl::InternalError("audit event uses a reserved field name");
    }
  }
  if (unwritten_ == nullptr) {
    unwritten_ = std::make_shared<Unwritten>();
    unwritten_->bytes.reserve(1024);
    unwritten_->seq_before = seq_;
    unwritten_->prev_before = prev_;
  }
  // The bytes json::serialize gives the object {seq, time, prev, event's fields...}, without
  // copying the event into one: seq is a decimal, time and prev need no escaping. The event is
  // serialized straight into the line, its opening brace then replaced by the comma.
  std::string& line = unwritten_->bytes;
  const size_t start = line.size();
  absl::StrAppend(&line, "{\"seq\":", seq_ + 1, ",\"time\":\"", time, "\",\"prev\":\"", prev_, "\"");
  const size_t fields = line.size();
  json::serializer serializer;
  serializer.reset(&event);
  while (!serializer.done()) {
    const size_t at = line.size();
    line.resize(at + 512);
    line.resize(at + serializer.read(&line[at], 512).size());
  }
  if (line.size() - fields > 2) {
    line[fields] = ',';  // "{...}" -> ",...}"
  } else {
    line.erase(fields, 1);  // "{}" -> "}"
  }
  std::string hash = Sha256Hex(absl::string_view(line).substr(start));
  line.pop_back();  // the closing brace
  absl::StrAppend(&line, kHashField, hash, "\"}\n");
  ++seq_;
  prev_ = hash;
  return hash;
}

void AuditLog::WriteUnwrittenLocked() {
  const std::shared_ptr<Unwritten> u = std::move(unwritten_);
  unwritten_ = nullptr;
  u->done = true;
  u->status = WriteLocked(u->bytes);
  if (!u->status.ok()) {  // none of them is in the file: the chain goes on from before them
    seq_ = u->seq_before;
    prev_ = u->prev_before;
    return;
  }
  // The records are in the file: the chain goes on from them even if fdatasync fails.
  if (fsync_interval_ > absl::ZeroDuration()) {
    dirty_ = true;
  } else {
    ++syncs_;
    if (::fdatasync(fd_) != 0) u->status = Unavailable("fdatasync", errno);
  }
}

absl::StatusOr<std::string> AuditLog::Append(const json::object& event) {
  const std::string time = platform::UtcMillis(absl::Now());
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::string hash, AddLocked(event, time));
  const std::shared_ptr<Unwritten> written = unwritten_;
  WriteUnwrittenLocked();
  if (!written->status.ok()) return written->status;
  return hash;
}

void AuditLog::AppendThen(const json::object& event, Then then) {
  if (!platform::DeferScope::Active()) return std::move(then)(Append(event));
  const std::string time = platform::UtcMillis(absl::Now());
  std::shared_ptr<Unwritten> batch;
  absl::StatusOr<std::string> hash;
  {
    absl::MutexLock lock(&mu_);
    hash = AddLocked(event, time);
    if (!hash.ok()) return std::move(then)(std::move(hash));
    batch = unwritten_;
    if (batch->bytes.size() >= kMaxUnwritten) WriteUnwrittenLocked();
  }
  platform::DeferScope::AtEnd(
      [this, batch = std::move(batch), hash = *std::move(hash), then = std::move(then)]() mutable {
        absl::Status written;
        {
          absl::MutexLock lock(&mu_);
          if (!batch->done) WriteUnwrittenLocked();  // not done: it is still unwritten_
          written = batch->status;
        }
        std::move(then)(written.ok() ? absl::StatusOr<std::string>(std::move(hash)) : written);
      });
}

absl::Status AuditLog::WriteLocked(const std::string& line) {
  if (torn_) {
    if (::ftruncate(fd_, size_) != 0) return Unavailable("truncate of a torn record", errno);
    torn_ = false;
  }
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      // ENOSPC, EFBIG, EIO: cut what was written back to the end of the last whole record, so
      // the next record starts on a line of its own; if even that fails, retry before the next.
      const int err = n < 0 ? errno : ENOSPC;
      torn_ = off > 0 && ::ftruncate(fd_, size_) != 0;
      return Unavailable("write", err);
    }
  }
  size_ += static_cast<off_t>(line.size());
  return absl::OkStatus();
}

uint64_t AuditLog::seq() const {
  absl::MutexLock lock(&mu_);
  return unwritten_ != nullptr ? unwritten_->seq_before : seq_;
}

std::string AuditLog::head_hash() const {
  absl::MutexLock lock(&mu_);
  return unwritten_ != nullptr ? unwritten_->prev_before : prev_;
}

uint64_t AuditLog::syncs() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

}  // namespace signer::audit
