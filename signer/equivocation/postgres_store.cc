#include "signer/equivocation/postgres_store.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/postgres/result.h"
#include "platform/postgres/schema.h"
#include "platform/postgres/transaction.h"
#include "platform/status_macros.h"
#include "signer/equivocation/db_error.h"

namespace signer::equivocation {
namespace {

using platform::postgres::Connection;
using platform::postgres::Param;
using platform::postgres::Result;

// Schema v1 (design § 6.2). signer_keys is the per-key row the fee budget and rate limit will
// live in; bigint chain ids and nonces (values >= 2^63 are refused: none is anywhere near).
constexpr absl::string_view kSchemaV1 = R"sql(
CREATE TABLE signer_keys (
  sender           bytea PRIMARY KEY CHECK (octet_length(sender) = 20),
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE signatures (
  chain_id                  bigint NOT NULL,
  sender                    bytea NOT NULL REFERENCES signer_keys (sender),
  nonce                     bigint NOT NULL CHECK (nonce >= 0),
  slot_version              integer NOT NULL CHECK (slot_version >= 1),
  signing_hash              bytea NOT NULL,
  to_address                bytea NOT NULL,
  value                     numeric(78, 0) NOT NULL,
  data                      bytea NOT NULL,
  gas_limit                 bigint NOT NULL,
  max_fee_per_gas           numeric(78, 0) NOT NULL,
  max_priority_fee_per_gas  numeric(78, 0) NOT NULL,
  raw_tx                    bytea NOT NULL,
  tx_hash                   bytea NOT NULL,
  nonce_use                 smallint NOT NULL CHECK (nonce_use IN (1, 3)),
  replaced_tx_hash          bytea,
  budget_charge             numeric(78, 0) NOT NULL,
  signed_at                 timestamptz NOT NULL,
  PRIMARY KEY (chain_id, sender, nonce, slot_version),
  UNIQUE (chain_id, sender, nonce, signing_hash),
  CHECK ((slot_version = 1) = (nonce_use = 1))
);
CREATE INDEX signatures_by_time ON signatures (signed_at);
)sql";
// v2: an index by key and time (the 24 h fee budget summed records until v5's ledger).
constexpr absl::string_view kSchemaV2 = "CREATE INDEX signatures_by_sender_time ON signatures (sender, signed_at);";
// v3: the per-key token bucket of the shared rate limit (NULL tokens: a full bucket).
constexpr absl::string_view kSchemaV3 =
    "ALTER TABLE signer_keys ADD COLUMN rate_tokens double precision, ADD COLUMN rate_updated_at timestamptz;";
// v4: pruning's low watermark per (chain, sender) (record_admin.h).
constexpr absl::string_view kSchemaV4 = R"sql(
CREATE TABLE watermarks (
  chain_id      bigint NOT NULL,
  sender        bytea NOT NULL,
  pruned_below  bigint NOT NULL CHECK (pruned_below >= 0),
  pruned_at     timestamptz NOT NULL,
  PRIMARY KEY (chain_id, sender)
);
)sql";
// v5: the 24 h fee budget sums per-minute buckets (at most 1441 rows per key and check) instead
// of every record of the last 24 h (a check that grew with the key's traffic); seeded from the
// records of the last 25 h.
constexpr absl::string_view kSchemaV5 = R"sql(
CREATE TABLE fee_ledger (
  sender   bytea NOT NULL REFERENCES signer_keys (sender),
  minute   timestamptz NOT NULL,
  charged  numeric(78, 0) NOT NULL,
  PRIMARY KEY (sender, minute)
);
INSERT INTO fee_ledger (sender, minute, charged)
SELECT sender, date_trunc('minute', signed_at), sum(budget_charge) FROM signatures
 WHERE signed_at > now() - interval '25 hours' AND budget_charge > 0 GROUP BY 1, 2;
)sql";
// v6: the 24 h value budget of generic transactions, per-minute buckets like v5's fee ledger: the
// value of each slot's first signature (a fee bump adds none); seeded from the last 25 h.
constexpr absl::string_view kSchemaV6 = R"sql(
CREATE TABLE value_ledger (
  sender   bytea NOT NULL REFERENCES signer_keys (sender),
  minute   timestamptz NOT NULL,
  value    numeric(78, 0) NOT NULL,
  PRIMARY KEY (sender, minute)
);
INSERT INTO value_ledger (sender, minute, value)
SELECT sender, date_trunc('minute', signed_at), sum(value) FROM signatures
 WHERE signed_at > now() - interval '25 hours' AND nonce_use = 1 AND value > 0 GROUP BY 1, 2;
)sql";
constexpr absl::string_view kSchemaName = "signer_equivocation";

// $1 sender, $2 burst, $3 rate per second. No row: the bucket is empty (nothing changed).
constexpr absl::string_view kTakeToken = R"sql(
INSERT INTO signer_keys AS k (sender, rate_tokens, rate_updated_at)
VALUES ($1, $2::double precision - 1, clock_timestamp())
ON CONFLICT (sender) DO UPDATE
   SET rate_tokens = least($2::double precision, coalesce(k.rate_tokens, $2::double precision)
         + $3::double precision * extract(epoch FROM clock_timestamp()
                                               - coalesce(k.rate_updated_at, clock_timestamp()))::double precision) - 1,
       rate_updated_at = clock_timestamp()
 WHERE least($2::double precision, coalesce(k.rate_tokens, $2::double precision)
         + $3::double precision * extract(epoch FROM clock_timestamp()
                                               - coalesce(k.rate_updated_at, clock_timestamp()))::double precision) >= 1
RETURNING rate_tokens)sql";

// Times travel as microseconds since the epoch, exactly (no floating point on either side).
// The record and its charges in the key's minute buckets (fee; value for a slot's first
// signature), in one statement; no row if the record lost a race (ON CONFLICT DO NOTHING:
// nothing charged then).
constexpr absl::string_view kInsert =
    "WITH ins AS (INSERT INTO signatures (chain_id, sender, nonce, slot_version, signing_hash, to_address, value, "
    "data, gas_limit, max_fee_per_gas, max_priority_fee_per_gas, raw_tx, tx_hash, nonce_use, replaced_tx_hash, "
    "budget_charge, signed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
    "timestamptz 'epoch' + $17::bigint * interval '1 microsecond') ON CONFLICT DO NOTHING "
    "RETURNING sender, signed_at, budget_charge, value, nonce_use), "
    "charged AS (INSERT INTO fee_ledger AS l (sender, minute, charged) "
    "SELECT sender, date_trunc('minute', signed_at), budget_charge FROM ins WHERE budget_charge > 0 "
    "ON CONFLICT (sender, minute) DO UPDATE SET charged = l.charged + EXCLUDED.charged), "
    "valued AS (INSERT INTO value_ledger AS v (sender, minute, value) "
    "SELECT sender, date_trunc('minute', signed_at), value FROM ins WHERE nonce_use = 1 AND value > 0 "
    "ON CONFLICT (sender, minute) DO UPDATE SET value = v.value + EXCLUDED.value) "
    "SELECT 1 FROM ins";
constexpr absl::string_view kColumns =
    "SELECT chain_id, sender, nonce, signing_hash, to_address, value, data, gas_limit, max_fee_per_gas, "
    "max_priority_fee_per_gas, raw_tx, tx_hash, nonce_use, replaced_tx_hash, budget_charge, "
    "(extract(epoch FROM signed_at) * 1000000)::bigint, slot_version FROM signatures ";
constexpr absl::string_view kSlotWhere = "WHERE chain_id = $1 AND sender = $2 AND nonce = $3 ORDER BY slot_version";
// Classification in one statement (one snapshot): the slot's records, each row also carrying the
// key's watermark (column 17); a single row of NULL record columns when the slot has none.
constexpr absl::string_view kClassify =
    "SELECT s.chain_id, s.sender, s.nonce, s.signing_hash, s.to_address, s.value, s.data, s.gas_limit, "
    "s.max_fee_per_gas, s.max_priority_fee_per_gas, s.raw_tx, s.tx_hash, s.nonce_use, s.replaced_tx_hash, "
    "s.budget_charge, (extract(epoch FROM s.signed_at) * 1000000)::bigint, s.slot_version, w.pruned_below "
    "FROM (SELECT $1::bigint AS chain_id, $2::bytea AS sender, $3::bigint AS nonce) k "
    "LEFT JOIN signatures s ON s.chain_id = k.chain_id AND s.sender = k.sender AND s.nonce = k.nonce "
    "LEFT JOIN watermarks w ON w.chain_id = k.chain_id AND w.sender = k.sender ORDER BY s.slot_version";
constexpr absl::string_view kSinceWhere =
    "WHERE signed_at > timestamptz 'epoch' + $1::bigint * interval '1 microsecond' "
    "ORDER BY signed_at, chain_id, sender, nonce, slot_version";

absl::Status CheckRange(const SlotKey& key) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (key.chain_id > kMax || key.nonce > kMax) {
    return absl::InvalidArgumentError("anti-equivocation db: chain ids and nonces of 2^63 and above are not supported");
  }
  return absl::OkStatus();
}

Param Int(uint64_t v) { return Param::Int(static_cast<int64_t>(v)); }

std::vector<Param> SlotParams(const SlotKey& key) {
  return {Int(key.chain_id), Param::Bytes(key.sender.bytes()), Int(key.nonce)};
}

std::vector<Param> RecordParams(const Record& r) {
  std::vector<Param> p = SlotParams(r.key);
  p.push_back(Param::Int(r.slot_version));
  p.push_back(Param::Bytes(r.signing_hash.bytes()));
  p.push_back(Param::Bytes(r.to.bytes()));
  p.push_back(Param::Text(r.value.ToDecimal()));
  p.push_back(Param::Bytes(r.data));
  p.push_back(Int(r.gas_limit));
  p.push_back(Param::Text(r.max_fee_per_gas.ToDecimal()));
  p.push_back(Param::Text(r.max_priority_fee_per_gas.ToDecimal()));
  p.push_back(Param::Bytes(r.raw));
  p.push_back(Param::Bytes(r.tx_hash.bytes()));
  p.push_back(Param::Int(static_cast<int>(r.nonce_use)));
  p.push_back(r.replaced_tx_hash.has_value() ? Param::Bytes(r.replaced_tx_hash->bytes()) : Param::Null());
  p.push_back(Param::Text(r.budget_charge.ToDecimal()));
  p.push_back(Param::Int(absl::ToUnixMicros(r.signed_at)));
  return p;
}

absl::Status Malformed() { return absl::DataLossError("anti-equivocation db: malformed row"); }

absl::StatusOr<chain::U256> U256At(const Result& rows, int row, int column) {
  absl::StatusOr<chain::U256> v = chain::U256::FromDecimal(rows.Text(row, column));
  if (!v.ok()) return Malformed();
  return v;
}

template <typename T>
absl::StatusOr<T> FixedAt(const Result& rows, int row, int column) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, DbError(rows.ByteVector(row, column), "read"));
  absl::StatusOr<T> v = T::FromBytes(bytes);
  if (!v.ok()) return Malformed();
  return v;
}

absl::StatusOr<uint64_t> UintAt(const Result& rows, int row, int column) {
  ASSIGN_OR_RETURN(int64_t v, DbError(rows.Int(row, column), "read"));
  return static_cast<uint64_t>(v);
}

absl::StatusOr<Record> ReadRow(const Result& rows, int i) {
  Record r;
  ASSIGN_OR_RETURN(r.key.chain_id, UintAt(rows, i, 0));
  ASSIGN_OR_RETURN(r.key.sender, FixedAt<chain::Address>(rows, i, 1));
  ASSIGN_OR_RETURN(r.key.nonce, UintAt(rows, i, 2));
  ASSIGN_OR_RETURN(r.signing_hash, FixedAt<chain::Hash32>(rows, i, 3));
  ASSIGN_OR_RETURN(r.to, FixedAt<chain::Address>(rows, i, 4));
  ASSIGN_OR_RETURN(r.value, U256At(rows, i, 5));
  ASSIGN_OR_RETURN(r.data, DbError(rows.ByteVector(i, 6), "read"));
  ASSIGN_OR_RETURN(r.gas_limit, UintAt(rows, i, 7));
  ASSIGN_OR_RETURN(r.max_fee_per_gas, U256At(rows, i, 8));
  ASSIGN_OR_RETURN(r.max_priority_fee_per_gas, U256At(rows, i, 9));
  ASSIGN_OR_RETURN(r.raw, DbError(rows.ByteVector(i, 10), "read"));
  ASSIGN_OR_RETURN(r.tx_hash, FixedAt<chain::Hash32>(rows, i, 11));
  ASSIGN_OR_RETURN(uint64_t use, UintAt(rows, i, 12));
  r.nonce_use = static_cast<NonceUse>(use);
  if (!rows.IsNull(i, 13)) {
    ASSIGN_OR_RETURN(r.replaced_tx_hash, FixedAt<chain::Hash32>(rows, i, 13));
  }
  ASSIGN_OR_RETURN(r.budget_charge, U256At(rows, i, 14));
  ASSIGN_OR_RETURN(int64_t micros, DbError(rows.Int(i, 15), "read"));
  r.signed_at = absl::FromUnixMicros(micros);
  ASSIGN_OR_RETURN(uint64_t version, UintAt(rows, i, 16));
  r.slot_version = static_cast<uint32_t>(version);
  return r;
}

absl::StatusOr<std::vector<Record>> ReadRows(const Result& rows) {
  std::vector<Record> out;
  out.reserve(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    ASSIGN_OR_RETURN(Record r, ReadRow(rows, i));
    out.push_back(std::move(r));
  }
  return out;
}

// A commit that may vanish (synchronous_commit = off) would let a restarted signer sign a second
// payload for a nonce whose signature already left.
absl::Status CheckDurableCommits(Connection& conn) {
  ASSIGN_OR_RETURN(Result r, DbError(conn.Execute("SHOW synchronous_commit"), "synchronous_commit"));
  if (r.Text(0, 0) == "off") {
    return absl::FailedPreconditionError(absl::StrCat("anti-equivocation db: ", conn.description(),
                                                      " has synchronous_commit = off; the record needs durable "
                                                      "commits (set it to on for the signer's role or database)"));
  }
  return absl::OkStatus();
}

absl::Status PrefixStartup(const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("anti-equivocation db: ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const platform::postgres::Dsn& dsn,
                                                                   const PostgresStoreOptions& options) {
  std::unique_ptr<PostgresStore> store(new PostgresStore());
  platform::postgres::ConnectOptions connect;
  connect.application_name = "onchain-kms/signer";
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(dsn, connect);
  RETURN_IF_ERROR(PrefixStartup(conn.status()));
  store->write_conn_ = *std::move(conn);
  absl::StatusOr<std::unique_ptr<Connection>> ping = Connection::Open(dsn, connect);
  RETURN_IF_ERROR(PrefixStartup(ping.status()));
  {
    absl::MutexLock lock(&store->ping_mu_);
    store->ping_conn_ = *std::move(ping);
  }
  RETURN_IF_ERROR(PrefixStartup(platform::postgres::ApplySchema(
      *store->write_conn_, kSchemaName, {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5, kSchemaV6})));
  RETURN_IF_ERROR(CheckDurableCommits(*store->write_conn_));
  platform::postgres::PoolOptions pool;
  pool.max_connections = std::max(1, options.pool_size);
  pool.connect = connect;
  absl::StatusOr<std::unique_ptr<platform::postgres::Pool>> readers = platform::postgres::Pool::Create(dsn, pool);
  RETURN_IF_ERROR(PrefixStartup(readers.status()));
  store->read_pool_ = *std::move(readers);
  PostgresStore* s = store.get();
  store->group_commit_ = std::make_unique<GroupCommit>(
      options.max_batch, [s](const auto& batch, auto& results) { return s->WriteBatch(batch, results); });
  return store;
}

PostgresStore::~PostgresStore() { StopGroupCommit(); }

absl::StatusOr<std::vector<Record>> PostgresStore::RecordsFor(const SlotKey& key) {
  RETURN_IF_ERROR(CheckRange(key));
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  ASSIGN_OR_RETURN(Result rows, DbError(conn->Execute(absl::StrCat(kColumns, kSlotWhere), SlotParams(key)), "select"));
  return ReadRows(rows);
}

absl::StatusOr<bool> PostgresStore::TakeToken(const chain::Address& sender, double rate, uint32_t burst) {
  if (burst < 1) return false;
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  ASSIGN_OR_RETURN(Result taken, DbError(conn->Execute(kTakeToken, {Param::Bytes(sender.bytes()), Param::Int(burst),
                                                                    Param::Text(absl::StrCat(rate))}),
                                         "rate limit"));
  return taken.rows() == 1;
}

absl::StatusOr<Verdict> PostgresStore::Classify(const Slot& slot, const Candidate& c) {
  if (!(slot.key() == c.key)) return absl::InternalError("classify: slot does not match the candidate");
  RETURN_IF_ERROR(CheckRange(c.key));
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  ASSIGN_OR_RETURN(Result result, DbError(conn->Execute(kClassify, SlotParams(c.key)), "select"));
  std::vector<Record> rows;
  uint64_t pruned_below = 0;
  for (int i = 0; i < result.rows(); ++i) {
    if (!result.IsNull(i, 17)) {
      ASSIGN_OR_RETURN(pruned_below, UintAt(result, i, 17));
    }
    if (result.IsNull(i, 0)) continue;  // the slot has no record
    ASSIGN_OR_RETURN(Record r, ReadRow(result, i));
    rows.push_back(std::move(r));
  }
  return Decide(rows, c, pruned_below);
}

// Each new key gets its signer_keys row in its own short statement before the batch, so no
// transaction holds key rows while it waits for another replica's (no deadlock between batches).
absl::Status PostgresStore::RegisterKeys(const std::vector<GroupCommit::Pending>& batch) {
  for (const GroupCommit::Pending& p : batch) {
    const chain::Address& sender = p.record.key.sender;
    if (registered_.contains(sender)) continue;
    RETURN_IF_ERROR(write_conn_
                        ->Execute("INSERT INTO signer_keys (sender) VALUES ($1) ON CONFLICT DO NOTHING",
                                  {Param::Bytes(sender.bytes())})
                        .status());
    registered_.insert(sender);
  }
  return absl::OkStatus();
}

namespace {

// Locks the rows of the keys whose records carry a budget, in one global order (no deadlock
// between two replicas' batches): budget checks of one key run one transaction at a time. FOR NO
// KEY UPDATE does not block the foreign-key checks of other inserts.
absl::Status LockBudgetKeys(Connection& conn, const std::vector<GroupCommit::Pending>& batch) {
  std::vector<chain::Address> keys;
  for (const GroupCommit::Pending& p : batch) {
    if (p.record.fee_budget_24h.has_value() || p.record.value_budget_24h.has_value()) {
      keys.push_back(p.record.key.sender);
    }
  }
  std::sort(keys.begin(), keys.end(), [](const chain::Address& a, const chain::Address& b) {
    return std::lexicographical_compare(a.bytes().begin(), a.bytes().end(), b.bytes().begin(), b.bytes().end());
  });
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const chain::Address& key : keys) {
    RETURN_IF_ERROR(
        conn.Execute("SELECT 1 FROM signer_keys WHERE sender = $1 FOR NO KEY UPDATE", {Param::Bytes(key.bytes())})
            .status());
  }
  return absl::OkStatus();
}

// One of a key's 24 h budgets, kept in per-minute buckets: `table`.`column`.
struct Ledger {
  const char* what;   // "fee", "value"
  const char* field;  // the KeyLimits field, the refusal's kBudgetPayload
  absl::string_view sum_query;
};
constexpr Ledger kFeeLedger{
    "fee", "fee_budget_24h_wei",
    "SELECT coalesce(sum(charged), 0)::text FROM fee_ledger WHERE sender = $1 AND minute >= date_trunc('minute', "
    "timestamptz 'epoch' + $2::bigint * interval '1 microsecond')"};
constexpr Ledger kValueLedger{
    "value", "value_budget_24h_wei",
    "SELECT coalesce(sum(value), 0)::text FROM value_ledger WHERE sender = $1 AND minute >= date_trunc('minute', "
    "timestamptz 'epoch' + $2::bigint * interval '1 microsecond')"};

// OK if `amount` fits the key's `budget` given every replica's charges of the 24 h before the
// record (this transaction's earlier inserts included: READ COMMITTED sees them, and the other
// replicas' commits up to the key lock), summed by minute: a charge counts until the end of its
// minute + 24 h, up to one minute longer than SQLite's ledger (conservative).
absl::StatusOr<absl::Status> CheckLedger(Connection& conn, const Record& r, const Ledger& ledger,
                                         const chain::U256& amount, const std::optional<chain::U256>& budget) {
  if (!budget.has_value() || amount.IsZero()) return absl::OkStatus();
  ASSIGN_OR_RETURN(Result sum,
                   conn.Execute(ledger.sum_query, {Param::Bytes(r.key.sender.bytes()),
                                                   Param::Int(absl::ToUnixMicros(r.signed_at - absl::Hours(24)))}));
  ASSIGN_OR_RETURN(chain::U256 committed, U256At(sum, 0, 0));
  absl::StatusOr<chain::U256> total = chain::U256::CheckedAdd(committed, amount);
  if (total.ok() && *total <= *budget) return absl::OkStatus();
  absl::Status refused = absl::ResourceExhaustedError(absl::StrCat(
      ledger.what, " budget exhausted for key ", r.key.sender.Checksummed(),
      " across all signers: ", committed.ToDecimal(), " wei committed in the last 24 h, this transaction adds ",
      amount.ToDecimal(), ", budget ", budget->ToDecimal()));
  refused.SetPayload(kBudgetPayload, absl::Cord(ledger.field));
  return refused;
}

// The record's fee and value charges fit the key's global budgets.
absl::StatusOr<absl::Status> CheckBudget(Connection& conn, const Record& r) {
  ASSIGN_OR_RETURN(absl::Status fee, CheckLedger(conn, r, kFeeLedger, r.budget_charge, r.fee_budget_24h));
  if (!fee.ok()) return fee;
  return CheckLedger(conn, r, kValueLedger, ValueCharge(r), r.value_budget_24h);
}

// The record's outcome: refused (range, budget), lost its race (ABORTED) or inserted.
absl::StatusOr<absl::Status> InsertOne(Connection& conn, const Record& r) {
  if (absl::Status range = CheckRange(r.key); !range.ok()) return range;
  ASSIGN_OR_RETURN(absl::Status budget, CheckBudget(conn, r));
  if (!budget.ok()) return budget;
  ASSIGN_OR_RETURN(Result inserted, conn.Execute(kInsert, RecordParams(r)));
  if (inserted.rows() == 1) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat("anti-equivocation: nonce ", r.key.nonce, " of key ",
                                         r.key.sender.Checksummed(), " on chain ", r.key.chain_id, " (version ",
                                         r.slot_version, ") was recorded meanwhile by another signer"));
}

}  // namespace

// ON CONFLICT DO NOTHING never fails the transaction, so a record that lost its race leaves the
// rest of the batch alone; it is ABORTED and the engine classifies it again. A refused record
// (a budget) stops its sender's later records of the batch with stop_at_refusal (sender_stop.h):
// they are not written. A lost race does not stop them (it is no refusal yet; see signer/README).
absl::Status PostgresStore::InsertAll(const std::vector<GroupCommit::Pending>& batch,
                                      std::vector<absl::Status>& results) {
  RETURN_IF_ERROR(LockBudgetKeys(*write_conn_, batch));
  StoppedInCommit stopped;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Record& r = batch[i].record;
    if (stopped.Stopped(r.stop_at_refusal.get())) {
      results[i] = NotStartedError();
      continue;
    }
    ASSIGN_OR_RETURN(results[i], InsertOne(*write_conn_, r));
    stopped.Note(r.stop_at_refusal.get(), results[i]);
  }
  return absl::OkStatus();
}

// One transaction for the whole batch (synchronous_commit on: durable when COMMIT returns). A
// connection lost before COMMIT is retried from BEGIN (nothing was written); one lost during
// COMMIT is not (it may have committed): the batch fails and nothing is released.
absl::Status PostgresStore::WriteBatch(const std::vector<GroupCommit::Pending>& batch,
                                       std::vector<absl::Status>& results) {
  RETURN_IF_ERROR(DbError(RegisterKeys(batch), "register keys"));
  return DbError(platform::postgres::RunTransaction(*write_conn_, platform::postgres::Isolation::kReadCommitted,
                                                    absl::Now() + absl::Seconds(5),
                                                    [&](Connection&) { return InsertAll(batch, results); }),
                 "commit");
}

absl::Status PostgresStore::ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  ASSIGN_OR_RETURN(
      Result rows,
      DbError(conn->Execute(absl::StrCat(kColumns, kSinceWhere), {Param::Int(absl::ToUnixMicros(since))}), "scan"));
  ASSIGN_OR_RETURN(std::vector<Record> records, ReadRows(rows));
  for (const Record& r : records) fn(r);
  return absl::OkStatus();
}

}  // namespace signer::equivocation

namespace signer::equivocation {
namespace {

// The key's row exists and is locked for this transaction, in the order signing commits take it.
absl::Status LockKey(Connection& conn, const chain::Address& sender) {
  RETURN_IF_ERROR(conn.Execute("INSERT INTO signer_keys (sender) VALUES ($1) ON CONFLICT DO NOTHING",
                               {Param::Bytes(sender.bytes())})
                      .status());
  return conn.Execute("SELECT 1 FROM signer_keys WHERE sender = $1 FOR NO KEY UPDATE", {Param::Bytes(sender.bytes())})
      .status();
}

// Raises the watermark (never lowers it); the watermark now.
absl::StatusOr<uint64_t> RaiseWatermark(Connection& conn, uint64_t chain_id, const chain::Address& sender,
                                        uint64_t below) {
  ASSIGN_OR_RETURN(Result r, conn.Execute("INSERT INTO watermarks (chain_id, sender, pruned_below, pruned_at) "
                                          "VALUES ($1, $2, $3, now()) ON CONFLICT (chain_id, sender) DO UPDATE SET "
                                          "pruned_below = greatest(watermarks.pruned_below, EXCLUDED.pruned_below), "
                                          "pruned_at = now() RETURNING pruned_below",
                                          {Int(chain_id), Param::Bytes(sender.bytes()), Int(below)}));
  return UintAt(r, 0, 0);
}

absl::StatusOr<MergeResult> MergeIn(Connection& conn, const KeyRecords& key) {
  RETURN_IF_ERROR(LockKey(conn, key.sender));
  MergeResult result;
  for (const std::vector<Record>& slot : BySlot(key.records)) {
    ASSIGN_OR_RETURN(Result rows, conn.Execute(absl::StrCat(kColumns, kSlotWhere), SlotParams(slot.front().key)));
    ASSIGN_OR_RETURN(std::vector<Record> stored, ReadRows(rows));
    ASSIGN_OR_RETURN(std::vector<Record> missing, MissingRecords(stored, slot));
    for (const Record& r : missing) {
      ASSIGN_OR_RETURN(Result inserted, conn.Execute(kInsert, RecordParams(r)));
      if (inserted.rows() != 1) return absl::AbortedError("a signer recorded the slot meanwhile");
    }
    result.added += missing.size();
    result.present += slot.size() - missing.size();
  }
  if (key.pruned_below.has_value()) {
    RETURN_IF_ERROR(RaiseWatermark(conn, key.chain_id, key.sender, *key.pruned_below).status());
  }
  return result;
}

}  // namespace

absl::Status PostgresStore::Ping() {
  absl::MutexLock lock(&ping_mu_);
  return DbError(ping_conn_->Execute("SELECT 1").status(), "ping");
}

absl::Status PostgresStore::ForEachRecord(const std::function<void(const Record&)>& fn) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  ASSIGN_OR_RETURN(Result rows, DbError(conn->Execute(absl::StrCat(kColumns,
                                                                   "ORDER BY chain_id, sender, nonce, "
                                                                   "slot_version")),
                                        "export"));
  ASSIGN_OR_RETURN(std::vector<Record> records, ReadRows(rows));
  for (const Record& r : records) fn(r);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Watermark>> PostgresStore::Watermarks() {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  ASSIGN_OR_RETURN(Result rows,
                   DbError(conn->Execute("SELECT chain_id, sender, pruned_below FROM watermarks ORDER BY chain_id, "
                                         "sender"),
                           "watermarks"));
  std::vector<Watermark> out;
  for (int i = 0; i < rows.rows(); ++i) {
    Watermark w;
    ASSIGN_OR_RETURN(w.chain_id, UintAt(rows, i, 0));
    ASSIGN_OR_RETURN(w.sender, FixedAt<chain::Address>(rows, i, 1));
    ASSIGN_OR_RETURN(w.pruned_below, UintAt(rows, i, 2));
    out.push_back(w);
  }
  return out;
}

absl::StatusOr<MergeResult> PostgresStore::Merge(const KeyRecords& key) {
  for (const Record& r : key.records) RETURN_IF_ERROR(CheckRange(r.key));
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  MergeResult result;
  absl::Status s =
      platform::postgres::RunTransaction(*conn, platform::postgres::Isolation::kReadCommitted,
                                         absl::Now() + absl::Seconds(30), [&](Connection& c) -> absl::Status {
                                           ASSIGN_OR_RETURN(result, MergeIn(c, key));
                                           return absl::OkStatus();
                                         });
  if (s.code() == absl::StatusCode::kFailedPrecondition) return s;
  RETURN_IF_ERROR(DbError(s, "import"));
  return result;
}

absl::StatusOr<PruneResult> PostgresStore::Prune(uint64_t chain_id, const chain::Address& sender, uint64_t below,
                                                 absl::Duration keep_recent) {
  RETURN_IF_ERROR(CheckRange(SlotKey{chain_id, sender, below}));
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, DbError(read_pool_->Acquire(), "connect"));
  PruneResult result;
  absl::Status s = platform::postgres::RunTransaction(
      *conn, platform::postgres::Isolation::kReadCommitted, absl::Now() + absl::Seconds(30),
      [&](Connection& c) -> absl::Status {
        RETURN_IF_ERROR(LockKey(c, sender));
        ASSIGN_OR_RETURN(result.pruned_below, RaiseWatermark(c, chain_id, sender, below));
        ASSIGN_OR_RETURN(Result deleted,
                         c.Execute("DELETE FROM signatures WHERE chain_id = $1 AND sender = $2 AND nonce < $3 AND "
                                   "signed_at < now() - $4::bigint * interval '1 microsecond'",
                                   {Int(chain_id), Param::Bytes(sender.bytes()), Int(result.pruned_below),
                                    Param::Int(absl::ToInt64Microseconds(keep_recent))}));
        result.deleted = static_cast<uint64_t>(deleted.affected_rows());
        // Minutes no budget check reaches any more.
        for (const char* table : {"fee_ledger", "value_ledger"}) {
          RETURN_IF_ERROR(c.Execute(absl::StrCat("DELETE FROM ", table,
                                                 " WHERE sender = $1 AND minute < now() - interval '25 hours'"),
                                    {Param::Bytes(sender.bytes())})
                              .status());
        }
        return absl::OkStatus();
      });
  RETURN_IF_ERROR(DbError(s, "prune"));
  return result;
}

}  // namespace signer::equivocation
