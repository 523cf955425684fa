#include "signer/equivocation/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace signer::equivocation {
namespace {

// Durability. journal_mode=WAL with synchronous=FULL: every COMMIT fsyncs the WAL before it
// returns, so a record survives a power loss once RecordAsync's callback says OK. (With
// synchronous=NORMAL, WAL commits are only synced at checkpoints: safe against a crash of this
// process, but a power loss could roll back the last commits, and after a reboot the signer
// could sign a *different* transaction for a nonce it already released a signature for — the
// one thing this store exists to prevent. The cost of FULL is one fsync per group commit, not
// per record, so it is paid once for a whole batch.)
constexpr char kSchema[] = R"sql(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
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

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("anti-equivocation db: ", what, ": ", db ? sqlite3_errmsg(db) : "no handle"));
}

int64_t AsInt(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof(out));
  return out;
}
uint64_t AsUint(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof(out));
  return out;
}

void BindBlob(sqlite3_stmt* s, int i, chain::ByteView b) {
  sqlite3_bind_blob(s, i, b.empty() ? "" : reinterpret_cast<const void*>(b.data()), static_cast<int>(b.size()),
                    SQLITE_TRANSIENT);
}
void BindText(sqlite3_stmt* s, int i, const std::string& t) {
  sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
}
chain::Bytes ColumnBlob(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s, i));
  return chain::Bytes(p, p + sqlite3_column_bytes(s, i));
}
chain::U256 ColumnU256(sqlite3_stmt* s, int i) {
  const char* t = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  absl::StatusOr<chain::U256> v = chain::U256::FromDecimal(t ? t : "0");
  return v.ok() ? *v : chain::U256();
}

void BindRecord(sqlite3_stmt* s, const Record& r) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  sqlite3_bind_int64(s, 1, AsInt(r.key.chain_id));
  BindBlob(s, 2, r.key.sender.bytes());
  sqlite3_bind_int64(s, 3, AsInt(r.key.nonce));
  BindBlob(s, 4, r.signing_hash.bytes());
  BindBlob(s, 5, r.to.bytes());
  BindText(s, 6, r.value.ToDecimal());
  BindBlob(s, 7, r.data);
  sqlite3_bind_int64(s, 8, AsInt(r.gas_limit));
  BindText(s, 9, r.max_fee_per_gas.ToDecimal());
  BindText(s, 10, r.max_priority_fee_per_gas.ToDecimal());
  BindBlob(s, 11, r.raw);
  BindBlob(s, 12, r.tx_hash.bytes());
  sqlite3_bind_int(s, 13, static_cast<int>(r.nonce_use));
  if (r.replaced_tx_hash.has_value()) {
    BindBlob(s, 14, r.replaced_tx_hash->bytes());
  } else {
    sqlite3_bind_null(s, 14);
  }
  BindText(s, 15, r.budget_charge.ToDecimal());
  sqlite3_bind_int64(s, 16, absl::ToUnixMillis(r.signed_at));
}

absl::StatusOr<Record> ReadRow(sqlite3_stmt* s) {
  Record r;
  r.key.chain_id = AsUint(sqlite3_column_int64(s, 0));
  absl::StatusOr<chain::Address> sender = chain::Address::FromBytes(ColumnBlob(s, 1));
  absl::StatusOr<chain::Address> to = chain::Address::FromBytes(ColumnBlob(s, 4));
  absl::StatusOr<chain::Hash32> signing = chain::Hash32::FromBytes(ColumnBlob(s, 3));
  absl::StatusOr<chain::Hash32> tx_hash = chain::Hash32::FromBytes(ColumnBlob(s, 11));
  if (!sender.ok() || !to.ok() || !signing.ok() || !tx_hash.ok()) {
    return absl::DataLossError("anti-equivocation db: malformed row");
  }
  r.key.sender = *sender;
  r.key.nonce = AsUint(sqlite3_column_int64(s, 2));
  r.signing_hash = *signing;
  r.to = *to;
  r.value = ColumnU256(s, 5);
  r.data = ColumnBlob(s, 6);
  r.gas_limit = AsUint(sqlite3_column_int64(s, 7));
  r.max_fee_per_gas = ColumnU256(s, 8);
  r.max_priority_fee_per_gas = ColumnU256(s, 9);
  r.raw = ColumnBlob(s, 10);
  r.tx_hash = *tx_hash;
  r.nonce_use = static_cast<NonceUse>(sqlite3_column_int(s, 12));
  if (sqlite3_column_type(s, 13) != SQLITE_NULL) {
    absl::StatusOr<chain::Hash32> replaced = chain::Hash32::FromBytes(ColumnBlob(s, 13));
    if (replaced.ok()) r.replaced_tx_hash = *replaced;
  }
  r.budget_charge = ColumnU256(s, 14);
  r.signed_at = absl::FromUnixMillis(sqlite3_column_int64(s, 15));
  return r;
}

absl::StatusOr<sqlite3*> OpenDb(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    absl::Status s = SqlError(db, absl::StrCat("open ", path));
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
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
  // Create the file 0600 ourselves: SQLite would use 0644, and its -wal/-shm files copy the
  // database's mode.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("anti-equivocation db ", path, ": ", std::strerror(errno)));
  ::fchmod(fd, 0600);
  ::close(fd);

  std::unique_ptr<Store> store(new Store());
  store->max_batch_ = max_batch == 0 ? 1 : max_batch;
  absl::StatusOr<sqlite3*> w = OpenDb(path);
  if (!w.ok()) return w.status();
  store->write_db_ = *w;
  char* err = nullptr;
  if (sqlite3_exec(store->write_db_, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s = absl::UnavailableError(absl::StrCat("anti-equivocation db: schema: ", err ? err : "?"));
    sqlite3_free(err);
    return s;
  }
  if (sqlite3_prepare_v2(store->write_db_, kInsert, -1, &store->insert_, nullptr) != SQLITE_OK) {
    return SqlError(store->write_db_, "prepare insert");
  }
  absl::StatusOr<sqlite3*> r = OpenDb(path);
  if (!r.ok()) return r.status();
  {
    absl::MutexLock lock(&store->read_mu_);
    store->read_db_ = *r;
    const std::string select = absl::StrCat("SELECT ", kColumns,
                                            " FROM signatures WHERE chain_id = ? AND sender = ? AND nonce = ? ORDER BY id");
    if (sqlite3_prepare_v2(store->read_db_, select.c_str(), -1, &store->select_slot_, nullptr) != SQLITE_OK) {
      return SqlError(store->read_db_, "prepare select");
    }
  }
  {
    sqlite3_stmt* scan = nullptr;
    if (sqlite3_prepare_v2(store->write_db_, "SELECT DISTINCT chain_id, sender, nonce FROM signatures", -1, &scan, nullptr) !=
        SQLITE_OK) {
      return SqlError(store->write_db_, "prepare index scan");
    }
    absl::MutexLock lock(&store->slots_mu_);
    while (sqlite3_step(scan) == SQLITE_ROW) {
      absl::StatusOr<chain::Address> sender = chain::Address::FromBytes(ColumnBlob(scan, 1));
      if (!sender.ok()) {
        sqlite3_finalize(scan);
        return absl::DataLossError("anti-equivocation db: malformed sender");
      }
      store->known_.insert(SlotKey{AsUint(sqlite3_column_int64(scan, 0)), *sender, AsUint(sqlite3_column_int64(scan, 2))});
    }
    sqlite3_finalize(scan);
  }
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  store->completer_ = std::thread([s = store.get()] { s->CompleterLoop(); });
  return store;
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
  sqlite3_finalize(insert_);
  sqlite3_close(write_db_);
  absl::MutexLock lock(&read_mu_);
  sqlite3_finalize(select_slot_);
  sqlite3_close(read_db_);
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
  sqlite3_stmt* s = select_slot_;
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  sqlite3_bind_int64(s, 1, AsInt(key.chain_id));
  BindBlob(s, 2, key.sender.bytes());
  sqlite3_bind_int64(s, 3, AsInt(key.nonce));
  std::vector<Record> out;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      absl::Status st = SqlError(read_db_, "select");
      sqlite3_reset(s);
      return st;
    }
    absl::StatusOr<Record> r = ReadRow(s);
    if (!r.ok()) {
      sqlite3_reset(s);
      return r.status();
    }
    out.push_back(*std::move(r));
  }
  sqlite3_reset(s);
  return out;
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
  if (!RaisedByTenPercent(highest_fee, c.max_fee_per_gas) || !RaisedByTenPercent(highest_tip, c.max_priority_fee_per_gas)) {
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
    absl::Status txn = absl::OkStatus();
    if (sqlite3_exec(write_db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      txn = SqlError(write_db_, "begin");
    }
    for (size_t i = 0; txn.ok() && i < batch.size(); ++i) {
      BindRecord(insert_, batch[i].record);
      // A failed statement (e.g. a constraint) is rolled back alone; the transaction goes on.
      if (sqlite3_step(insert_) != SQLITE_DONE) results[i] = SqlError(write_db_, "insert");
      sqlite3_reset(insert_);
    }
    if (txn.ok() && sqlite3_exec(write_db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      txn = SqlError(write_db_, "commit");
      sqlite3_exec(write_db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
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
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(read_db_, q.c_str(), -1, &s, nullptr) != SQLITE_OK) return SqlError(read_db_, "prepare scan");
  sqlite3_bind_int64(s, 1, absl::ToUnixMillis(since));
  absl::Status status;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      status = SqlError(read_db_, "scan");
      break;
    }
    absl::StatusOr<Record> r = ReadRow(s);
    if (!r.ok()) {
      status = r.status();
      break;
    }
    fn(*r);
  }
  sqlite3_finalize(s);
  return status;
}

}  // namespace signer::equivocation
