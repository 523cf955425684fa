// The audit trail: append-only JSON Lines, one record per request, hash-chained.
//
// Each line is one JSON object whose first fields are "seq" (1, 2, ...), "time" (UTC, ms) and
// "prev" (the "hash" of the previous line; 64 zeros for the first), then the event's fields,
// and last "hash": the SHA-256 of the line's own bytes up to that field with the closing brace,
// i.e. of `line[0 : index(',"hash":"')] + "}"`. Editing any record breaks its own hash; removing,
// inserting or reordering records breaks the next record's "prev" and the seq sequence.
// `signer audit verify FILE` (VerifyAuditLog) reports the first bad line; with
// --expect_head=HASH it also checks that the head an operator kept is still in the chain.
//
// Torn writes: a record is one write(2); if it fails half way (ENOSPC, EFBIG, EIO) Append cuts
// the file back to the end of the last whole record (ftruncate) and fails (the engine then
// withholds its reply), so the next record never merges with a torn one. A crash or power loss
// in the middle of a write can still leave a torn final line: Open cuts it (a whole record that
// lacks only its newline gets it instead; nothing whole is ever cut), logs a warning and appends
// an "audit_log_repaired" record (repair kind, bytes, offset, sha256 of the cut bytes), so the
// chain goes on from the last whole record. VerifyAuditLog reports torn bytes and repairs as
// notes, not failures. A final line that ends with a newline but does not verify is not a torn
// write: Open refuses it and changes nothing.
//
// Limits (stated, not hidden): a chain without a secret or an external anchor cannot detect a
// rewrite of the whole tail by someone with write access, nor the removal of the last records;
// ship the log (or at least its head hash, logged at start and stop) somewhere append-only and
// check it with `signer audit verify --expect_head=HASH`.
//
// Durability: every Append() is written (one write(2) on an O_APPEND descriptor) before it
// returns, so it survives a crash of this process; fdatasync runs at most `fsync_interval` after
// a record (0 = after every record, in Append). Records within one interval share one fdatasync,
// and an idle log's flusher thread sleeps until the next record instead of waking every
// interval. The anti-equivocation database, not this log, is the durable record of what was
// signed.
#ifndef ONCHAIN_KMS_SIGNER_AUDIT_AUDIT_LOG_H_
#define ONCHAIN_KMS_SIGNER_AUDIT_AUDIT_LOG_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signer::audit {

class AuditLog {
 public:
  // Opens (creating with mode 0600), repairs a torn final line (above) and recovers seq and prev
  // from the last whole record, whose own hash must verify. FailedPrecondition if it does not.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path,
                                                        absl::Duration fsync_interval = absl::Milliseconds(10));
  ~AuditLog();  // final fdatasync
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one record made of `event`'s fields (which must not use the reserved names seq,
  // time, prev, hash). UNAVAILABLE if the write fails (nothing of the record is left in the
  // file) or fdatasync fails (the record is written). Returns the record's hash. Written at
  // once, in one write(2) with the records a DeferScope left unwritten before it, if any.
  absl::StatusOr<std::string> Append(const boost::json::object& event);
  // Append, its outcome handed to `then`. Within a platform::DeferScope the record is chained at
  // once (seq, prev and hash fixed, so records keep their order across threads) but its bytes
  // wait for one write(2) with the records appended after it: at the scope's end (or by the
  // next Append, or once 256 KiB wait), and `then` runs at the scope's end, after that write.
  // A failed write fails every record in it (nothing of them is left in the file) and the chain
  // goes on from the record before them. Without a DeferScope: Append, then `then`.
  using Then = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  void AppendThen(const boost::json::object& event, Then then);

  // The last record written (not one a DeferScope holds back).
  uint64_t seq() const;
  std::string head_hash() const;
  // fdatasync calls made so far (by the flusher, or by Append without an interval).
  uint64_t syncs() const;

 private:
  AuditLog() = default;
  void FlusherLoop();
  bool FlusherHasWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return dirty_ || stopping_; }
  absl::Status WriteLocked(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records chained but not written yet (one write for all of them), and what the chain was
  // before them.
  struct Unwritten {
    std::string bytes;
    uint64_t seq_before = 0;
    std::string prev_before;
    bool done = false;    // written, or the write failed
    absl::Status status;  // the write's (and without an interval, the fdatasync's) outcome
  };
  // Chains a record of `event` at the end of unwritten_ (opened if none) and returns its hash.
  absl::StatusOr<std::string> AddLocked(const boost::json::object& event, const std::string& time)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes unwritten_ (one write(2)), closes it and sets its outcome; a failed write takes the
  // chain back to before it.
  void WriteUnwrittenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int fd_ = -1;
  absl::Duration fsync_interval_;
  mutable absl::Mutex mu_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::string prev_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  off_t size_ ABSL_GUARDED_BY(mu_) = 0;     // the end of the last whole record
  bool torn_ ABSL_GUARDED_BY(mu_) = false;  // a failed write left bytes the truncate could not cut
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_sync_ ABSL_GUARDED_BY(mu_);
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<Unwritten> unwritten_ ABSL_GUARDED_BY(mu_);
  std::thread flusher_;
};

// Result of verifying a log file.
struct VerifyResult {
  bool ok = false;
  uint64_t records = 0;
  uint64_t bad_line = 0;  // 1-based; 0 when ok or the file could not be read
  std::string message;    // "line 7: ..." or the head on success
  std::string head_hash;
  // With an expected head: the chain verifies but no record has that hash (not ok).
  bool head_missing = false;
  // With an expected head found: its record's seq (0 for the empty log's zero hash).
  std::optional<uint64_t> expected_head_seq;
  // Torn writes and start-up repairs found on the way ("line 4: start-up cut a torn record of
  // 57 bytes ..."): reported, not failures.
  std::vector<std::string> notes;
};

// `expected_head` (64 hex digits, e.g. the "audit_head" the signer logged at stop and an operator
// kept): the chain must contain a record with that hash, else not ok with head_missing. Removing
// the last records (a cut at a record boundary) leaves a valid chain; only a head kept outside the
// file shows it. Records appended after the expected head are fine (a note in the message).
VerifyResult VerifyAuditLog(const std::string& path, const std::string& expected_head = "");

// The hash of a record line as defined above; InvalidArgument if it has no trailing hash field.
absl::StatusOr<std::string> ComputeLineHash(const std::string& line, std::string* claimed_hash);

}  // namespace signer::audit

#endif  // ONCHAIN_KMS_SIGNER_AUDIT_AUDIT_LOG_H_
