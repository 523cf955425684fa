#include "signer/equivocation/sqlite_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/sqlite/schema.h"
#include "platform/sqlite/transaction.h"
#include "platform/status_macros.h"
#include "signer/equivocation/db_error.h"

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
// Version 2: pruning's low watermark per (chain, sender) (record_admin.h).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE watermarks (
  chain_id INTEGER NOT NULL,
  sender BLOB NOT NULL,
  pruned_below INTEGER NOT NULL,
  pruned_at_ms INTEGER NOT NULL,
  PRIMARY KEY (chain_id, sender)
);
)sql";

constexpr char kInsert[] =
    "INSERT INTO signatures (chain_id, sender, nonce, signing_hash, to_address, value, data, gas_limit, "
    "max_fee_per_gas, max_priority_fee_per_gas, raw_tx, tx_hash, nonce_use, replaced_tx_hash, budget_charge, "
    "signed_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr char kColumns[] =
    "chain_id, sender, nonce, signing_hash, to_address, value, data, gas_limit, max_fee_per_gas, "
    "max_priority_fee_per_gas, raw_tx, tx_hash, nonce_use, replaced_tx_hash, budget_charge, signed_at_ms";

chain::U256 ColumnU256(const Statement& s, int i) {
  absl::StatusOr<chain::U256> v = chain::U256::FromDecimal(s.IsNull(i) ? "0" : s.ColumnText(i));
  return v.ok() ? *v : chain::U256();
}

// The blobs are read in place from `r`, which must outlive the statement's run (Reset clears them).
void BindRecord(Statement& s, const Record& r) {
  s.Reset();
  s.BindUint(1, r.key.chain_id)
      .BindBlobInPlace(2, r.key.sender.bytes())
      .BindUint(3, r.key.nonce)
      .BindBlobInPlace(4, r.signing_hash.bytes())
      .BindBlobInPlace(5, r.to.bytes())
      .BindText(6, r.value.ToDecimal())
      .BindBlobInPlace(7, r.data)
      .BindUint(8, r.gas_limit)
      .BindText(9, r.max_fee_per_gas.ToDecimal())
      .BindText(10, r.max_priority_fee_per_gas.ToDecimal())
      .BindBlobInPlace(11, r.raw)
      .BindBlobInPlace(12, r.tx_hash.bytes())
      .BindInt(13, static_cast<int>(r.nonce_use))
      .BindText(15, r.budget_charge.ToDecimal())
      .BindInt(16, absl::ToUnixMillis(r.signed_at));
  if (r.replaced_tx_hash.has_value()) {
    s.BindBlobInPlace(14, r.replaced_tx_hash->bytes());
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
    ASSIGN_OR_RETURN(bool row, DbError(s.Step(), what));
    if (!row) return out;
    ASSIGN_OR_RETURN(Record r, ReadRow(s));
    out.push_back(std::move(r));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, size_t max_batch) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  RETURN_IF_ERROR(store->OpenDatabase(path));
  RETURN_IF_ERROR(store->LoadKnownSlots());
  RETURN_IF_ERROR(store->LoadWatermarks());
  SqliteStore* s = store.get();
  store->group_commit_ = std::make_unique<GroupCommit>(
      max_batch, [s](const auto& batch, auto& results) { return s->WriteBatch(batch, results); },
      [s](const auto& batch) { s->MarkKnown(batch); });
  return store;
}

// The writer's connection (which holds the process lock: a second signer on the same file is
// refused) and a reader's, each with its long-lived statement.
absl::Status SqliteStore::OpenDatabase(const std::string& path) {
  absl::StatusOr<std::unique_ptr<platform::sqlite::Database>> w = platform::sqlite::Database::Open(path);
  if (!w.ok()) {
    return absl::Status(w.status().code(), absl::StrCat("anti-equivocation db: ", w.status().message()));
  }
  write_db_ = *std::move(w);
  RETURN_IF_ERROR(DbError(platform::sqlite::ApplySchema(*write_db_, {kSchema, kSchemaV2}), "schema"));
  ASSIGN_OR_RETURN(Statement insert, DbError(write_db_->Prepare(kInsert), "prepare insert"));
  insert_.emplace(std::move(insert));
  ASSIGN_OR_RETURN(std::unique_ptr<platform::sqlite::Database> r, DbError(write_db_->OpenConnection(), "open reader"));
  absl::MutexLock lock(&read_mu_);
  read_db_ = std::move(r);
  const std::string select =
      absl::StrCat("SELECT ", kColumns, " FROM signatures WHERE chain_id = ? AND sender = ? AND nonce = ? ORDER BY id");
  ASSIGN_OR_RETURN(Statement select_slot, DbError(read_db_->Prepare(select), "prepare select"));
  select_slot_.emplace(std::move(select_slot));
  return absl::OkStatus();
}

absl::Status SqliteStore::LoadKnownSlots() {
  ASSIGN_OR_RETURN(
      Statement scan,
      DbError(write_db_->Prepare("SELECT DISTINCT chain_id, sender, nonce FROM signatures"), "prepare index scan"));
  absl::MutexLock lock(&known_mu_);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, DbError(scan.Step(), "index scan"));
    if (!row) return absl::OkStatus();
    absl::StatusOr<chain::Address> sender = chain::Address::FromBytes(scan.ColumnBytes(1));
    if (!sender.ok()) return absl::DataLossError("anti-equivocation db: malformed sender");
    known_.insert(SlotKey{scan.ColumnUint(0), *sender, scan.ColumnUint(2)});
  }
}

SqliteStore::~SqliteStore() {
  StopGroupCommit();
  // Statements before their connections; the writer's connection (the process lock) last.
  {
    absl::MutexLock admin(&admin_mu_);
    admin_db_.reset();
  }
  absl::MutexLock lock(&read_mu_);
  select_slot_.reset();
  read_db_.reset();
  insert_.reset();
  write_db_.reset();
}

absl::StatusOr<std::vector<Record>> SqliteStore::ReadSlot(const SlotKey& key) {
  Statement& s = *select_slot_;
  s.Reset();
  s.BindUint(1, key.chain_id).BindBlob(2, key.sender.bytes()).BindUint(3, key.nonce);
  absl::StatusOr<std::vector<Record>> rows = ReadRows(s, "select");
  s.Reset();  // ends the read transaction, so the WAL can be checkpointed
  if (rows.ok()) {
    for (size_t i = 0; i < rows->size(); ++i) (*rows)[i].slot_version = static_cast<uint32_t>(i + 1);
  }
  return rows;
}

absl::StatusOr<std::vector<Record>> SqliteStore::RecordsFor(const SlotKey& key) {
  absl::MutexLock lock(&read_mu_);
  return ReadSlot(key);
}

absl::StatusOr<Verdict> SqliteStore::Classify(const Slot& slot, const Candidate& c) {
  if (!(slot.key() == c.key)) return absl::InternalError("classify: slot does not match the candidate");
  const uint64_t pruned_below = PrunedBelow(c.key);
  {
    absl::MutexLock lock(&known_mu_);
    // Nothing was ever recorded for this slot: kFirst, unless below the watermark.
    if (!known_.contains(c.key)) return Decide({}, c, pruned_below);
  }
  absl::StatusOr<std::vector<Record>> rows;
  {
    absl::MutexLock lock(&read_mu_);
    rows = ReadSlot(c.key);
  }
  if (!rows.ok()) return rows.status();
  return Decide(*rows, c, pruned_below);
}

// Every slot of the batch is marked known, even when its write failed: "known" only means "read
// the database before deciding", so a write whose failure report was wrong can never let a
// conflicting transaction through as FIRST.
void SqliteStore::MarkKnown(const std::vector<GroupCommit::Pending>& batch) {
  absl::MutexLock lock(&known_mu_);
  for (const GroupCommit::Pending& p : batch) known_.insert(p.record.key);
}

// One transaction for the whole batch: one fsync (synchronous=FULL) at COMMIT (BEGIN and COMMIT
// from the connection's statement cache: platform::sqlite::Transaction).
absl::Status SqliteStore::WriteBatch(const std::vector<GroupCommit::Pending>& batch,
                                     std::vector<absl::Status>& results) {
  ASSIGN_OR_RETURN(platform::sqlite::Transaction txn,
                   DbError(platform::sqlite::Transaction::Begin(*write_db_), "begin"));
  StoppedInCommit stopped;  // a failed insert stops its sender's later records (sender_stop.h)
  for (size_t i = 0; i < batch.size(); ++i) {
    const StopAtRefusal* stop = batch[i].record.stop_at_refusal.get();
    if (stopped.Stopped(stop)) {
      results[i] = NotStartedError();
      continue;
    }
    BindRecord(*insert_, batch[i].record);
    // A failed statement (e.g. a constraint) is rolled back alone; the transaction goes on.
    results[i] = DbError(insert_->Run(), "insert");
    insert_->Reset();
    stopped.Note(stop, results[i]);
  }
  return DbError(txn.Commit(), "commit");
}

absl::Status SqliteStore::ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn) {
  absl::MutexLock lock(&read_mu_);
  const std::string q = absl::StrCat("SELECT ", kColumns, " FROM signatures WHERE signed_at_ms > ? ORDER BY id");
  ASSIGN_OR_RETURN(Statement s, DbError(read_db_->Prepare(q), "prepare scan"));
  s.BindInt(1, absl::ToUnixMillis(since));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, DbError(s.Step(), "scan"));
    if (!row) return absl::OkStatus();
    ASSIGN_OR_RETURN(Record r, ReadRow(s));
    fn(r);
  }
}

}  // namespace signer::equivocation

namespace signer::equivocation {

absl::Status SqliteStore::Ping() {
  absl::MutexLock lock(&read_mu_);
  ASSIGN_OR_RETURN(Statement s, DbError(read_db_->Prepare("SELECT 1"), "ping"));
  return DbError(s.Step().status(), "ping");
}

absl::Status SqliteStore::LoadWatermarks() {
  absl::StatusOr<std::vector<Watermark>> marks = Watermarks();
  if (!marks.ok()) return marks.status();
  absl::MutexLock lock(&known_mu_);
  for (const Watermark& w : *marks) watermarks_[KeyOfChain{w.chain_id, w.sender}] = w.pruned_below;
  return absl::OkStatus();
}

uint64_t SqliteStore::PrunedBelow(const SlotKey& key) {
  absl::MutexLock lock(&known_mu_);
  auto it = watermarks_.find(KeyOfChain{key.chain_id, key.sender});
  return it == watermarks_.end() ? 0 : it->second;
}

absl::StatusOr<platform::sqlite::Database*> SqliteStore::AdminDb() {
  if (admin_db_ == nullptr) {
    ASSIGN_OR_RETURN(admin_db_, DbError(write_db_->OpenConnection(), "open admin connection"));
  }
  return admin_db_.get();
}

absl::Status SqliteStore::ForEachRecord(const std::function<void(const Record&)>& fn) {
  absl::MutexLock lock(&read_mu_);
  const std::string q = absl::StrCat("SELECT ", kColumns, " FROM signatures ORDER BY chain_id, sender, nonce, id");
  ASSIGN_OR_RETURN(Statement s, DbError(read_db_->Prepare(q), "prepare export"));
  ASSIGN_OR_RETURN(std::vector<Record> rows, ReadRows(s, "export"));
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].slot_version = i > 0 && rows[i - 1].key == rows[i].key ? rows[i - 1].slot_version + 1 : 1;
    fn(rows[i]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Watermark>> SqliteStore::Watermarks() {
  absl::MutexLock lock(&read_mu_);
  ASSIGN_OR_RETURN(Statement s, DbError(read_db_->Prepare("SELECT chain_id, sender, pruned_below FROM watermarks "
                                                          "ORDER BY chain_id, sender"),
                                        "prepare watermarks"));
  std::vector<Watermark> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, DbError(s.Step(), "watermarks"));
    if (!row) return out;
    absl::StatusOr<chain::Address> sender = chain::Address::FromBytes(s.ColumnBytes(1));
    if (!sender.ok()) return absl::DataLossError("anti-equivocation db: malformed watermark");
    out.push_back(Watermark{s.ColumnUint(0), *sender, s.ColumnUint(2)});
  }
}

absl::Status SqliteStore::RaiseWatermark(platform::sqlite::Database& db, uint64_t chain_id,
                                         const chain::Address& sender, uint64_t below) {
  ASSIGN_OR_RETURN(Statement s,
                   DbError(db.Prepare("INSERT INTO watermarks (chain_id, sender, pruned_below, pruned_at_ms) "
                                      "VALUES (?, ?, ?, ?) ON CONFLICT (chain_id, sender) DO UPDATE SET "
                                      "pruned_below = max(pruned_below, excluded.pruned_below), "
                                      "pruned_at_ms = excluded.pruned_at_ms"),
                           "prepare watermark"));
  s.BindUint(1, chain_id).BindBlob(2, sender.bytes()).BindUint(3, below).BindInt(4, absl::ToUnixMillis(absl::Now()));
  return DbError(s.Run(), "watermark");
}

// The slot's records as the admin connection sees them inside its transaction.
namespace {
absl::StatusOr<std::vector<Record>> SlotRows(platform::sqlite::Database& db, const SlotKey& key) {
  ASSIGN_OR_RETURN(Statement s, DbError(db.Prepare(absl::StrCat("SELECT ", kColumns,
                                                                " FROM signatures WHERE chain_id = ? AND sender = ? "
                                                                "AND nonce = ? ORDER BY id")),
                                        "prepare select"));
  s.BindUint(1, key.chain_id).BindBlob(2, key.sender.bytes()).BindUint(3, key.nonce);
  ASSIGN_OR_RETURN(std::vector<Record> rows, ReadRows(s, "select"));
  for (size_t i = 0; i < rows.size(); ++i) rows[i].slot_version = static_cast<uint32_t>(i + 1);
  return rows;
}
}  // namespace

absl::StatusOr<MergeResult> SqliteStore::Merge(const KeyRecords& key) {
  absl::MutexLock lock(&admin_mu_);
  ASSIGN_OR_RETURN(platform::sqlite::Database * db, AdminDb());
  ASSIGN_OR_RETURN(platform::sqlite::Transaction txn, DbError(platform::sqlite::Transaction::Begin(*db), "begin"));
  ASSIGN_OR_RETURN(Statement insert, DbError(db->Prepare(kInsert), "prepare insert"));
  MergeResult result;
  for (const std::vector<Record>& slot : BySlot(key.records)) {
    ASSIGN_OR_RETURN(std::vector<Record> stored, SlotRows(*db, slot.front().key));
    ASSIGN_OR_RETURN(std::vector<Record> missing, MissingRecords(stored, slot));
    for (const Record& r : missing) {
      BindRecord(insert, r);
      RETURN_IF_ERROR(DbError(insert.Run(), "insert"));
    }
    result.added += missing.size();
    result.present += slot.size() - missing.size();
  }
  if (key.pruned_below.has_value()) RETURN_IF_ERROR(RaiseWatermark(*db, key.chain_id, key.sender, *key.pruned_below));
  RETURN_IF_ERROR(DbError(txn.Commit(), "commit"));
  absl::MutexLock known(&known_mu_);
  for (const Record& r : key.records) known_.insert(r.key);
  if (key.pruned_below.has_value()) {
    uint64_t& w = watermarks_[KeyOfChain{key.chain_id, key.sender}];
    w = std::max(w, *key.pruned_below);
  }
  return result;
}

absl::StatusOr<PruneResult> SqliteStore::Prune(uint64_t chain_id, const chain::Address& sender, uint64_t below,
                                               absl::Duration keep_recent) {
  absl::MutexLock lock(&admin_mu_);
  ASSIGN_OR_RETURN(platform::sqlite::Database * db, AdminDb());
  ASSIGN_OR_RETURN(platform::sqlite::Transaction txn, DbError(platform::sqlite::Transaction::Begin(*db), "begin"));
  RETURN_IF_ERROR(RaiseWatermark(*db, chain_id, sender, below));
  ASSIGN_OR_RETURN(Statement mark,
                   DbError(db->Prepare("SELECT pruned_below FROM watermarks WHERE chain_id = ? AND sender = ?"),
                           "prepare watermark"));
  mark.BindUint(1, chain_id).BindBlob(2, sender.bytes());
  RETURN_IF_ERROR(DbError(mark.Step().status(), "watermark"));
  PruneResult result;
  result.pruned_below = mark.ColumnUint(0);
  mark.Reset();
  ASSIGN_OR_RETURN(Statement del, DbError(db->Prepare("DELETE FROM signatures WHERE chain_id = ? AND sender = ? AND "
                                                      "nonce < ? AND signed_at_ms < ?"),
                                          "prepare prune"));
  del.BindUint(1, chain_id)
      .BindBlob(2, sender.bytes())
      .BindUint(3, result.pruned_below)
      .BindInt(4, absl::ToUnixMillis(absl::Now() - keep_recent));
  RETURN_IF_ERROR(DbError(del.Run(), "prune"));
  result.deleted = static_cast<uint64_t>(db->changes());
  RETURN_IF_ERROR(DbError(txn.Commit(), "commit"));
  absl::MutexLock known(&known_mu_);
  watermarks_[KeyOfChain{chain_id, sender}] = result.pruned_below;
  return result;
}

}  // namespace signer::equivocation
