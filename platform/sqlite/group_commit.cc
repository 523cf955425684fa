#include "platform/sqlite/group_commit.h"

#include <utility>

#include "platform/sqlite/transaction.h"
#include "platform/status_macros.h"

namespace platform::sqlite {

absl::Status GroupCommit::Write(absl::FunctionRef<absl::Status()> write, WriteShape shape) {
  Pending p(write, shape);
  mu_.Lock();
  queue_.push_back(&p);
  for (;;) {
    // Woken when this write is done, or when no batch is in progress (then this one leads).
    auto ready = [this, &p]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return p.done || !leading_; };
    mu_.Await(absl::Condition(&ready));
    if (p.done) break;
    leading_ = true;
    if (options_.gather > absl::ZeroDuration() && last_batch_ > 1 && queue_.size() < last_batch_) {
      const size_t want = last_batch_;
      auto gathered = [this, want]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.size() >= want; };
      mu_.AwaitWithTimeout(absl::Condition(&gathered), options_.gather);
    }
    std::vector<Pending*> batch;
    batch.swap(queue_);
    last_batch_ = batch.size();
    mu_.Unlock();
    RunBatch(batch);
    mu_.Lock();
    for (Pending* q : batch) q->done = true;
    leading_ = false;
    ++commits_;
  }
  absl::Status s = std::move(p.status);
  mu_.Unlock();
  return s;
}

void GroupCommit::RunBatch(const std::vector<Pending*>& batch) {
  absl::MutexLock l(&db_mu_);
  if (batch.size() == 1) return RunAlone(*batch[0]);
  auto fail_all = [&batch](const absl::Status& s) {
    for (Pending* p : batch) p->status = s;
  };
  absl::StatusOr<Transaction> tx = Transaction::Begin(db_);
  if (!tx.ok()) return fail_all(tx.status());
  for (Pending* p : batch) {
    if (p->shape == WriteShape::kOneStatement) {
      p->status = p->write();
    } else {
      // Its savepoint could not be set or undone: what it left is unknown, so the batch fails.
      if (absl::Status s = RunInSavepoint(*p); !s.ok()) return fail_all(s);
    }
    if (absl::IsUnavailable(p->status)) return fail_all(p->status);  // ~Transaction rolls back
    // SQLite may have rolled the batch back on its own after an error of another code (or a write
    // ended the transaction): nothing of the batch is on disk, and later writes would autocommit.
    if (!db_.in_transaction()) {
      return fail_all(p->status.ok() ? absl::InternalError("group commit: a write ended the batch's transaction")
                                     : p->status);
    }
  }
  if (absl::Status s = tx->Commit(); !s.ok()) fail_all(s);
}

void GroupCommit::RunAlone(Pending& p) {
  if (p.shape == WriteShape::kOneStatement) {
    p.status = p.write();  // autocommit: one transaction, as without batching
    return;
  }
  // Its own transaction: all of it, or nothing (~Transaction rolls back).
  absl::StatusOr<Transaction> tx = Transaction::Begin(db_);
  if (!tx.ok()) {
    p.status = tx.status();
    return;
  }
  p.status = p.write();
  if (p.status.ok() && !db_.in_transaction())
    p.status = absl::InternalError("group commit: a write ended its transaction");
  if (p.status.ok()) p.status = tx->Commit();
}

absl::Status GroupCommit::RunInSavepoint(Pending& p) {
  RETURN_IF_ERROR(db_.RunCached("SAVEPOINT group_commit_write"));
  p.status = p.write();
  // A write whose error ended the transaction took its savepoint with it (RunBatch fails the batch).
  if (!db_.in_transaction()) return absl::OkStatus();
  if (!p.status.ok()) RETURN_IF_ERROR(db_.RunCached("ROLLBACK TO group_commit_write"));
  return db_.RunCached("RELEASE group_commit_write");
}

uint64_t GroupCommit::commits() const {
  absl::MutexLock l(&mu_);
  return commits_;
}

size_t GroupCommit::queued() const {
  absl::MutexLock l(&mu_);
  return queue_.size();
}

}  // namespace platform::sqlite
