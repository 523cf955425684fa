#include "signer/equivocation/store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/sqlite/schema.h"
#include "platform/sqlite/transaction.h"
#include "platform/status_macros.h"

namespace signer::equivocation {
namespace {

using platform::sqlite::Statement;

// Durability. journal_mode=WAL with synchronous=FULL: every COMMIT fsyncs the WAL before it
// returns, so a record survives a power loss once RecordAsync's callback says OK. (With
// synchronous=NORMAL, WAL commits are only synced at checkpoints: safe against a crash of this
// process, but a power loss could roll back the last commits, and after a reboot the signer
// could sign a *different* transaction for a nonce it already released a signature for — the
// one thing this store exists to prevent. The cost of FULL is one fsync per group commit, not
// per record, so it is paid once for a whole batch.) platform::sqlite::Database opens every
// connection that way, and its process lock keeps a second signer off the file.
//
// Version 1 (user_version 1); stores written before versioning have user_version 0 and this
// same schema, which the IF NOT EXISTS clauses leave as it is.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS signatures (
  id INTEGER PRIMARY KEY,
  chain_id INTEGER NOT NULL,
  sender BLOB NOT NULL,
  nonce INTEGER NOT NULL,
  signing_hash BLOB NOT NULL,
  to_address BLOB NOT NULL,
  value TEXT NOT NULL,
  data BLOB NOT NULL,
  gas_limit INTEGER NOT NULL,
  max_fee_per_gas TEXT NOT NULL,
  max_priority_fee_per_gas TEXT NOT NULL,
  raw_tx BLOB NOT NULL,
  tx_hash BLOB NOT NULL,
  nonce_use INTEGER NOT NULL,
  replaced_tx_hash BLOB,
  budget_charge TEXT NOT NULL,
  signed_at_ms INTEGER NOT NULL,
  UNIQUE (chain_id, sender, nonce, signing_hash)
);
CREATE INDEX IF NOT EXISTS signatures_by_time ON signatures (signed_at_ms);
)sql";

constexpr char kInsert[] =
    "INSERT INTO signatures (chain_id, sender, nonce, signing_hash, to_address, value, data, gas_limit, "
    "max_fee_per_gas, max_priority_fee_per_gas, raw_tx, tx_hash, nonce_use, replaced_tx_hash, budget_charge, "
    "signed_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr char kColumns[] =
    "chain_id, sender, nonce, signing_hash, to_address, value, data, gas_limit, max_fee_per_gas, "
    "max_priority_fee_per_gas, raw_tx, tx_hash, nonce_use, replaced_tx_hash, budget_charge, signed_at_ms";

// Every database error is UNAVAILABLE: the signer cannot decide or record now (it must not sign).
absl::Status SqlError(const absl::Status& s, absl::string_view what) {
  if (s.ok()) return s;
  return absl::UnavailableError(absl::StrCat("anti-equivocation db: ", what, ": ", s.message()));
}
template <typename T>
absl::StatusOr<T> SqlError(absl::StatusOr<T> v, absl::string_view what) {
  if (v.ok()) return v;
  return SqlError(v.status(), what);
}

chain::U256 ColumnU256(const Statement& s, int i) {
  absl::StatusOr<chain::U256> v = chain::U256::FromDecimal(s.IsNull(i) ? "0" : s.ColumnText(i));
  return v.ok() ? *v : chain::U256();
}

void BindRecord(Statement& s, const Record& r) {
  s.Reset();
  s.BindUint(1, r.key.chain_id)
      .BindBlob(2, r.key.sender.bytes())
      .BindUint(3, r.key.nonce)
      .BindBlob(4, r.signing_hash.bytes())
      .BindBlob(5, r.to.bytes())
      .BindText(6, r.value.ToDecimal())
      .BindBlob(7, r.data)
      .BindUint(8, r.gas_limit)
      .BindText(9, r.max_fee_per_gas.ToDecimal())
      .BindText(10, r.max_priority_fee_per_gas.ToDecimal())
      .BindBlob(11, r.raw)
      .BindBlob(12, r.tx_hash.bytes())
      .BindInt(13, static_cast<int>(r.nonce_use))
      .BindText(15, r.budget_charge.ToDecimal())
      .BindInt(16, absl::ToUnixMillis(r.signed_at));
  if (r.replaced_tx_hash.has_value()) {
    s.BindBlob(14, r.replaced_tx_hash->bytes());
  } else {
    s.BindNull(14);
  }
}

absl::StatusOr<Record> ReadRow(const Statement& s) {
  Record r;
  r.key.chain_id = s.ColumnUint(0);
  absl::StatusOr<chain::Address> sender = chain::Address::FromBytes(s.ColumnBytes(1));
  absl::StatusOr<chain::Address> to = chain::Address::FromBytes(s.ColumnBytes(4));
  absl::StatusOr<chain::Hash32> signing = chain::Hash32::FromBytes(s.ColumnBytes(3));
  absl::StatusOr<chain::Hash32> tx_hash = chain::Hash32::FromBytes(s.ColumnBytes(11));
  if (!sender.ok() || !to.ok() || !signing.ok() || !tx_hash.ok()) {
    return absl::DataLossError("anti-equivocation db: malformed row");
  }
  r.key.sender = *sender;
  r.key.nonce = s.ColumnUint(2);
  r.signing_hash = *signing;
  r.to = *to;
  r.value = ColumnU256(s, 5);
  r.data = s.ColumnBytes(6);
  r.gas_limit = s.ColumnUint(7);
  r.max_fee_per_gas = ColumnU256(s, 8);
  r.max_priority_fee_per_gas = ColumnU256(s, 9);
  r.raw = s.ColumnBytes(10);
  r.tx_hash = *tx_hash;
  r.nonce_use = static_cast<NonceUse>(s.ColumnInt(12));
  if (!s.IsNull(13)) {
    absl::StatusOr<chain::Hash32> replaced = chain::Hash32::FromBytes(s.ColumnBytes(13));
    if (replaced.ok()) r.replaced_tx_hash = *replaced;
  }
  r.budget_charge = ColumnU256(s, 14);
  r.signed_at = absl::FromUnixMillis(s.ColumnInt(15));
  return r;
}

// Every row of `s`, in order.
absl::StatusOr<std::vector<Record>> ReadRows(Statement& s, absl::string_view what) {
  std::vector<Record> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, SqlError(s.Step(), what));
    if (!row) return out;
    ASSIGN_OR_RETURN(Record r, ReadRow(s));
    out.push_back(std::move(r));
  }
}

chain::U256 Cost(uint64_t gas, const chain::U256& fee) {
  absl::StatusOr<chain::U256> c = chain::U256::CheckedMul(chain::U256(gas), fee);
  return c.ok() ? *c : chain::U256::Max();
}

}  // namespace

bool RaisedByTenPercent(const chain::U256& prev, const chain::U256& next) {
  if (!(next > prev)) return false;
  absl::StatusOr<chain::U256> lhs = chain::U256::CheckedMul(next, chain::U256(10));
  absl::StatusOr<chain::U256> rhs = chain::U256::CheckedMul(prev, chain::U256(11));
  if (!rhs.ok()) return false;  // prev is astronomically large; nothing can beat it
  if (!lhs.ok()) return true;
  return *lhs >= *rhs;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, size_t max_batch) {
  std::unique_ptr<Store> store(new Store());
  store->max_batch_ = max_batch == 0 ? 1 : max_batch;
  RETURN_IF_ERROR(store->OpenDatabase(path));
  RETURN_IF_ERROR(store->LoadKnownSlots());
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  store->completer_ = std::thread([s = store.get()] { s->CompleterLoop(); });
  return store;
}

// The writer's connection (which holds the process lock: a second signer on the same file is
// refused) and a reader's, each with its long-lived statement.
absl::Status Store::OpenDatabase(const std::string& path) {
  absl::StatusOr<std::unique_ptr<platform::sqlite::Database>> w = platform::sqlite::Database::Open(path);
  if (!w.ok()) {
    return absl::Status(w.status().code(), absl::StrCat("anti-equivocation db: ", w.status().message()));
  }
  write_db_ = *std::move(w);
  RETURN_IF_ERROR(SqlError(platform::sqlite::ApplySchema(*write_db_, {kSchema}), "schema"));
  ASSIGN_OR_RETURN(Statement insert, SqlError(write_db_->Prepare(kInsert), "prepare insert"));
  insert_.emplace(std::move(insert));
  ASSIGN_OR_RETURN(std::unique_ptr<platform::sqlite::Database> r, SqlError(write_db_->OpenConnection(), "open reader"));
  absl::MutexLock lock(&read_mu_);
  read_db_ = std::move(r);
  const std::string select =
      absl::StrCat("SELECT ", kColumns, " FROM signatures WHERE chain_id = ? AND sender = ? AND nonce = ? ORDER BY id");
  ASSIGN_OR_RETURN(Statement select_slot, SqlError(read_db_->Prepare(select), "prepare select"));
  select_slot_.emplace(std::move(select_slot));
  return absl::OkStatus();
}

absl::Status Store::LoadKnownSlots() {
  ASSIGN_OR_RETURN(
      Statement scan,
      SqlError(write_db_->Prepare("SELECT DISTINCT chain_id, sender, nonce FROM signatures"), "prepare index scan"));
  absl::MutexLock lock(&slots_mu_);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, SqlError(scan.Step(), "index scan"));
    if (!row) return absl::OkStatus();
    absl::StatusOr<chain::Address> sender = chain::Address::FromBytes(scan.ColumnBytes(1));
    if (!sender.ok()) return absl::DataLossError("anti-equivocation db: malformed sender");
    known_.insert(SlotKey{scan.ColumnUint(0), *sender, scan.ColumnUint(2)});
  }
}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_stopping_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
  // Statements before their connections; the writer's connection (the process lock) last.
  absl::MutexLock lock(&read_mu_);
  select_slot_.reset();
  read_db_.reset();
  insert_.reset();
  write_db_.reset();
}

std::shared_ptr<Store::Slot> Store::Acquire(const SlotKey& key) {
  absl::MutexLock lock(&slots_mu_);
  auto free = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(slots_mu_) { return !busy_.contains(key); };
  slots_mu_.Await(absl::Condition(&free));
  busy_.insert(key);
  return std::shared_ptr<Slot>(new Slot(this, key));
}

void Store::Release(const SlotKey& key) {
  absl::MutexLock lock(&slots_mu_);
  busy_.erase(key);
}

absl::StatusOr<std::vector<Record>> Store::ReadSlot(const SlotKey& key) {
  Statement& s = *select_slot_;
  s.Reset();
  s.BindUint(1, key.chain_id).BindBlob(2, key.sender.bytes()).BindUint(3, key.nonce);
  absl::StatusOr<std::vector<Record>> rows = ReadRows(s, "select");
  s.Reset();  // ends the read transaction, so the WAL can be checkpointed
  return rows;
}

absl::StatusOr<std::vector<Record>> Store::RecordsFor(const SlotKey& key) {
  absl::MutexLock lock(&read_mu_);
  return ReadSlot(key);
}

absl::StatusOr<Verdict> Store::Classify(const Slot& slot, const Candidate& c) {
  if (!(slot.key() == c.key)) return absl::InternalError("classify: slot does not match the candidate");
  {
    absl::MutexLock lock(&slots_mu_);
    if (!known_.contains(c.key)) return Verdict{};  // kFirst: nothing was ever recorded for this slot
  }
  absl::StatusOr<std::vector<Record>> rows;
  {
    absl::MutexLock lock(&read_mu_);
    rows = ReadSlot(c.key);
  }
  if (!rows.ok()) return rows.status();
  Verdict v;
  if (rows->empty()) {
    v.kind = Verdict::Kind::kFirst;
    return v;
  }
  for (const Record& r : *rows) {
    if (r.signing_hash == c.signing_hash) {
      v.kind = Verdict::Kind::kRepeat;
      v.repeat = r;
      return v;
    }
  }
  const Record& first = rows->front();
  const Record& latest = rows->back();
  chain::U256 highest_fee, highest_tip;
  for (const Record& r : *rows) {
    if (r.max_fee_per_gas > highest_fee) highest_fee = r.max_fee_per_gas;
    if (r.max_priority_fee_per_gas > highest_tip) highest_tip = r.max_priority_fee_per_gas;
  }
  const std::string where = absl::StrCat("nonce ", c.key.nonce, " of key ", c.key.sender.Checksummed(), " on chain ",
                                         c.key.chain_id, " was already signed for transaction ", latest.tx_hash.Hex());
  if (c.to != first.to || c.value != first.value || c.data != first.data) {
    v.kind = Verdict::Kind::kConflict;
    v.conflict = absl::FailedPreconditionError(absl::StrCat(
        "anti-equivocation: ", where, " with a different to/value/data; refusing to sign a conflicting transaction"));
    return v;
  }
  if (!RaisedByTenPercent(highest_fee, c.max_fee_per_gas) ||
      !RaisedByTenPercent(highest_tip, c.max_priority_fee_per_gas)) {
    v.kind = Verdict::Kind::kConflict;
    v.conflict = absl::FailedPreconditionError(absl::StrCat(
        "anti-equivocation: ", where, "; a replacement must raise both max_fee_per_gas (highest so far ",
        highest_fee.ToDecimal(), ") and max_priority_fee_per_gas (", highest_tip.ToDecimal(), ") by at least 10%"));
    return v;
  }
  v.kind = Verdict::Kind::kFeeBump;
  v.replaced = latest.tx_hash;
  v.replaced_cost = Cost(latest.gas_limit, latest.max_fee_per_gas);
  return v;
}

void Store::RecordAsync(Record record, std::function<void(absl::Status)> done) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) {
      done(absl::UnavailableError("anti-equivocation db: shutting down"));
      return;
    }
    queue_.push_back(Pending{std::move(record), std::move(done)});
  }
  queue_cv_.notify_one();
}

absl::Status Store::RecordSync(Record record) {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  absl::Status result;
  RecordAsync(std::move(record), [&](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(s);
    finished = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  return result;
}

void Store::WriterLoop() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Group commit: everything that queued up while the previous commit was fsyncing.
      if (queue_.size() <= max_batch_) {
        batch.swap(queue_);
      } else {
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + max_batch_));
        queue_.erase(queue_.begin(), queue_.begin() + max_batch_);
      }
    }
    std::vector<absl::Status> results(batch.size());
    const absl::Status txn = WriteBatch(batch, results);
    if (txn.ok()) {
      commits_.fetch_add(1);
      records_written_.fetch_add(batch.size());
    }
    {
      // Every slot of the batch is marked known, even when its write failed: "known" only means
      // "read the database before deciding", so a write whose failure report was wrong can never
      // let a conflicting transaction through as FIRST.
      absl::MutexLock lock(&slots_mu_);
      for (const Pending& p : batch) known_.insert(p.record.key);
    }
    {
      std::lock_guard<std::mutex> lock(done_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        done_queue_.emplace_back(std::move(batch[i].done), txn.ok() ? results[i] : txn);
      }
    }
    done_cv_.notify_one();
    batch.clear();
  }
}

// One transaction for the whole batch: one fsync (synchronous=FULL) at COMMIT.
absl::Status Store::WriteBatch(const std::vector<Pending>& batch, std::vector<absl::Status>& results) {
  ASSIGN_OR_RETURN(platform::sqlite::Transaction txn,
                   SqlError(platform::sqlite::Transaction::Begin(*write_db_), "begin"));
  for (size_t i = 0; i < batch.size(); ++i) {
    BindRecord(*insert_, batch[i].record);
    // A failed statement (e.g. a constraint) is rolled back alone; the transaction goes on.
    results[i] = SqlError(insert_->Run(), "insert");
    insert_->Reset();
  }
  return SqlError(txn.Commit(), "commit");
}

void Store::CompleterLoop() {
  std::vector<std::pair<std::function<void(absl::Status)>, absl::Status>> work;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(done_mu_);
      done_cv_.wait(lock, [this] { return done_stopping_ || !done_queue_.empty(); });
      if (done_queue_.empty() && done_stopping_) return;
      work.swap(done_queue_);
    }
    for (auto& [done, status] : work) done(std::move(status));
    work.clear();
  }
}

absl::Status Store::ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn) {
  absl::MutexLock lock(&read_mu_);
  const std::string q = absl::StrCat("SELECT ", kColumns, " FROM signatures WHERE signed_at_ms > ? ORDER BY id");
  ASSIGN_OR_RETURN(Statement s, SqlError(read_db_->Prepare(q), "prepare scan"));
  s.BindInt(1, absl::ToUnixMillis(since));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, SqlError(s.Step(), "scan"));
    if (!row) return absl::OkStatus();
    ASSIGN_OR_RETURN(Record r, ReadRow(s));
    fn(r);
  }
}

}  // namespace signer::equivocation
