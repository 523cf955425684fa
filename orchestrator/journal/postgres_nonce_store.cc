#include "orchestrator/journal/postgres_nonce_store.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chain/onchain/tx_request.h"
#include "orchestrator/journal/error_context.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/result.h"
#include "platform/postgres/schema.h"
#include "platform/postgres/transaction.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {
namespace {

using chain::onchain::SignedTx;
using chain::onchain::SlotView;
using chain::onchain::TxEnvelope;
using chain::onchain::TxJournal;
using chain::onchain::TxRequest;
using platform::postgres::Connection;
using platform::postgres::Param;
using platform::postgres::Result;

// design § 3.3's nonce tables. No foreign key to operations: finished operations are deleted
// after their retention while their slots must stay (a slot's nonce is never reused).
constexpr absl::string_view kSchemaV1 = R"sql(
CREATE TABLE nonce_senders (
  chain_id  bigint NOT NULL,
  sender    text NOT NULL,
  PRIMARY KEY (chain_id, sender)
);
CREATE TABLE nonce_slots (
  chain_id        bigint NOT NULL,
  sender          text NOT NULL,
  nonce           bigint NOT NULL CHECK (nonce >= 0),
  request_id      text NOT NULL,
  operation_id    text NOT NULL,
  step            text NOT NULL,
  state           smallint NOT NULL CHECK (state BETWEEN 1 AND 5),
  reserved_at     timestamptz NOT NULL DEFAULT now(),
  last_signed_at  timestamptz,
  last_bump_at    timestamptz,
  closed_at       timestamptz,
  PRIMARY KEY (chain_id, sender, nonce),
  FOREIGN KEY (chain_id, sender) REFERENCES nonce_senders
);
CREATE INDEX nonce_slots_open ON nonce_slots (chain_id, sender, nonce) WHERE state IN (1, 2);
CREATE INDEX nonce_slots_by_step ON nonce_slots (operation_id, step, nonce DESC);
CREATE TABLE nonce_requests (
  chain_id     bigint NOT NULL,
  sender       text NOT NULL,
  nonce        bigint NOT NULL,
  request_key  text NOT NULL,
  envelope     text NOT NULL,
  outcome      smallint NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, sender, nonce, request_key),
  FOREIGN KEY (chain_id, sender, nonce) REFERENCES nonce_slots ON DELETE CASCADE
);
CREATE TABLE nonce_versions (
  chain_id         bigint NOT NULL,
  sender           text NOT NULL,
  nonce            bigint NOT NULL,
  tx_hash          bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  raw              bytea NOT NULL,
  max_fee_per_gas  numeric(78, 0) NOT NULL,
  signed_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, sender, nonce, tx_hash),
  FOREIGN KEY (chain_id, sender, nonce) REFERENCES nonce_slots ON DELETE CASCADE
);
)sql";

// Durations on the database clock, in microseconds (-1: never). clock_timestamp(), not now():
// inside a hold now() is when the hold's transaction began, before the lock was granted, so a
// bump another replica made while we waited would look like it happened in the future.
constexpr absl::string_view kSlotsSelect =
    "SELECT s.nonce, s.state, s.request_id, "
    "greatest(0, (extract(epoch FROM clock_timestamp() - coalesce(s.last_signed_at, s.reserved_at)) * "
    "1000000)::bigint), "
    "CASE WHEN s.last_bump_at IS NULL THEN -1 "
    "ELSE greatest(0, (extract(epoch FROM clock_timestamp() - s.last_bump_at) * 1000000)::bigint) END "
    "FROM nonce_slots s WHERE ";
constexpr absl::string_view kVersionsSelect =
    "SELECT v.nonce, v.raw FROM nonce_versions v JOIN nonce_slots s USING (chain_id, sender, nonce) WHERE ";
constexpr absl::string_view kRequestsSelect =
    "SELECT r.nonce, r.envelope FROM nonce_requests r JOIN nonce_slots s USING (chain_id, sender, nonce) WHERE ";
constexpr absl::string_view kOpenFilter = "s.chain_id = $1 AND s.sender = $2 AND s.state IN (1, 2)";
constexpr absl::string_view kOneFilter = "s.chain_id = $1 AND s.sender = $2 AND s.nonce = $3";

constexpr absl::string_view kAddSender =
    "INSERT INTO nonce_senders (chain_id, sender) VALUES ($1, $2) ON CONFLICT DO NOTHING";
constexpr absl::string_view kLockSender =
    "SELECT 1 FROM nonce_senders WHERE chain_id = $1 AND sender = $2 FOR NO KEY UPDATE";
constexpr absl::string_view kFloor =
    "SELECT max(nonce) + 1 FROM nonce_slots WHERE chain_id = $1 AND sender = $2 AND state IN (1, 2, 3, 5)";
// A first request reserves the slot (new, or VOID) and records itself in one statement.
#define NONCE_SLOT_RESERVED                                                                         \
  " ON CONFLICT (chain_id, sender, nonce) DO UPDATE SET request_id = EXCLUDED.request_id,"          \
  " operation_id = EXCLUDED.operation_id, step = EXCLUDED.step, state = 1, reserved_at = now(),"    \
  " last_signed_at = NULL, last_bump_at = NULL, closed_at = NULL WHERE nonce_slots.state = 4"       \
  " RETURNING chain_id, sender, nonce) "                                                            \
  "INSERT INTO nonce_requests (chain_id, sender, nonce, request_key, envelope) "                    \
  "SELECT chain_id, sender, nonce, $7, $8 FROM slot "                                               \
  "ON CONFLICT (chain_id, sender, nonce, request_key) DO UPDATE SET envelope = EXCLUDED.envelope, " \
  "outcome = 0, created_at = now() RETURNING nonce"
constexpr absl::string_view kReserve =
    "WITH slot AS ("
    " INSERT INTO nonce_slots (chain_id, sender, nonce, request_id, operation_id, step, state)"
    " VALUES ($1, $2, $3, $4, $5, $6, 1)" NONCE_SLOT_RESERVED;
// The same, only while the replica holds the operation: $9 replica, $10 epoch, $11 boot id (the
// journal's fence, design § 3.4), with a share lock on the operation row so that a claim and the
// reservation are strictly ordered.
constexpr absl::string_view kReserveFenced =
    "WITH lease AS (SELECT o.id FROM operations o WHERE o.id = $5 AND o.owner = $9::text AND o.lease_epoch = "
    "$10::bigint AND EXISTS (SELECT 1 FROM replicas r WHERE r.id = $9::text AND r.boot_id = $11::text AND "
    "r.expires > now()) FOR SHARE), "
    "slot AS ("
    " INSERT INTO nonce_slots (chain_id, sender, nonce, request_id, operation_id, step, state)"
    " SELECT $1::bigint, $2::text, $3::bigint, $4::text, id, $6::text, 1 FROM lease" NONCE_SLOT_RESERVED;
#undef NONCE_SLOT_RESERVED
constexpr absl::string_view kRecordBump =
    "INSERT INTO nonce_requests (chain_id, sender, nonce, request_key, envelope) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT DO NOTHING";
constexpr absl::string_view kRefuseRequest =
    "UPDATE nonce_requests SET outcome = 2 "
    "WHERE chain_id = $1 AND sender = $2 AND nonce = $3 AND request_key = $4 AND outcome = 0";
constexpr absl::string_view kVoidSlot =
    "UPDATE nonce_slots SET state = 4, closed_at = now() "
    "WHERE chain_id = $1 AND sender = $2 AND nonce = $3 AND state = 1"
    " AND NOT EXISTS (SELECT 1 FROM nonce_versions v WHERE v.chain_id = $1 AND v.sender = $2 AND v.nonce = $3)"
    " AND NOT EXISTS (SELECT 1 FROM nonce_requests r"
    " WHERE r.chain_id = $1 AND r.sender = $2 AND r.nonce = $3 AND r.outcome = 0)";
constexpr absl::string_view kMarkBump =
    "UPDATE nonce_slots SET last_bump_at = now() WHERE chain_id = $1 AND sender = $2 AND nonce = $3";
constexpr absl::string_view kAddVersion =
    "INSERT INTO nonce_versions (chain_id, sender, nonce, tx_hash, raw, max_fee_per_gas) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
constexpr absl::string_view kCoverRequest =
    "UPDATE nonce_requests SET outcome = 1 WHERE chain_id = $1 AND sender = $2 AND nonce = $3 AND request_key = $4";
// The stuck clock restarts only with a new version.
constexpr absl::string_view kSlotSigned =
    "UPDATE nonce_slots SET state = 2, last_signed_at = now() "
    "WHERE chain_id = $1 AND sender = $2 AND nonce = $3 AND (state = 1 OR (state = 2 AND $4::boolean))";
constexpr absl::string_view kMined =
    "UPDATE nonce_slots SET state = 3, closed_at = now() "
    "WHERE chain_id = $1 AND sender = $2 AND state = 2 AND nonce < $3";
constexpr absl::string_view kUnmined =
    "UPDATE nonce_slots SET state = 2, closed_at = NULL "
    "WHERE chain_id = $1 AND sender = $2 AND state = 3 AND nonce >= $3 "
    "AND closed_at <= now() - $4 * interval '1 millisecond'";
constexpr absl::string_view kConflicted =
    "UPDATE nonce_slots SET state = 5, closed_at = now() WHERE chain_id = $1 AND sender = $2 AND nonce = $3";
constexpr absl::string_view kNewestOfStep =
    "SELECT chain_id, sender, nonce FROM nonce_slots WHERE operation_id = $1 AND step = $2 "
    "ORDER BY nonce DESC LIMIT 1";

Param ChainParam(uint64_t chain_id) { return Param::Int(static_cast<int64_t>(chain_id)); }
Param SenderParam(const chain::Address& a) { return Param::Text(a.Checksummed()); }
Param NonceParam(uint64_t nonce) { return Param::Int(static_cast<int64_t>(nonce)); }

absl::Duration Micros(int64_t us) { return us < 0 ? absl::InfiniteDuration() : absl::Microseconds(us); }

// "<operation id>/<step>[/...]" -> its first two parts.
std::pair<std::string, std::string> Owner(absl::string_view request_id) {
  std::vector<std::string> parts = absl::StrSplit(request_id, absl::MaxSplits('/', 2));
  return {parts[0], parts.size() > 1 ? parts[1] : ""};
}

// The slots `filter` selects (on the s alias), with their versions and pending requests.
absl::StatusOr<std::vector<SlotView>> ReadSlots(Connection& conn, absl::string_view filter,
                                                absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(const Result slots, conn.Execute(absl::StrCat(kSlotsSelect, filter, " ORDER BY s.nonce"), params));
  std::vector<SlotView> out;
  std::map<int64_t, size_t> index;
  for (int i = 0; i < slots.rows(); ++i) {
    SlotView v;
    ASSIGN_OR_RETURN(const int64_t nonce, slots.Int(i, 0));
    ASSIGN_OR_RETURN(const int64_t state, slots.Int(i, 1));
    ASSIGN_OR_RETURN(const int64_t since_signed, slots.Int(i, 3));
    ASSIGN_OR_RETURN(const int64_t since_bump, slots.Int(i, 4));
    v.nonce = static_cast<uint64_t>(nonce);
    v.state = static_cast<SlotView::State>(state);
    v.request_id = slots.Text(i, 2);
    v.since_signed = Micros(since_signed);
    v.since_bump_attempt = Micros(since_bump);
    index[nonce] = out.size();
    out.push_back(std::move(v));
  }
  ASSIGN_OR_RETURN(
      const Result versions,
      conn.Execute(absl::StrCat(kVersionsSelect, filter, " ORDER BY v.nonce, v.max_fee_per_gas, v.signed_at"), params));
  std::map<int64_t, std::vector<chain::Bytes>> raws;
  for (int i = 0; i < versions.rows(); ++i) {
    ASSIGN_OR_RETURN(const int64_t nonce, versions.Int(i, 0));
    ASSIGN_OR_RETURN(std::vector<uint8_t> raw, versions.ByteVector(i, 1));
    raws[nonce].push_back(std::move(raw));
  }
  for (auto& [nonce, list] : raws) {
    absl::StatusOr<TxJournal> j = TxJournal::FromVersions(std::move(list));
    if (!j.ok()) return absl::DataLossError(absl::StrCat("nonce ", nonce, ": ", j.status().message()));
    if (auto it = index.find(nonce); it != index.end()) out[it->second].versions = std::move(j->versions);
  }
  ASSIGN_OR_RETURN(
      const Result requests,
      conn.Execute(absl::StrCat(kRequestsSelect, filter, " AND r.outcome = 0 ORDER BY r.nonce, r.request_key"),
                   params));
  for (int i = 0; i < requests.rows(); ++i) {
    ASSIGN_OR_RETURN(const int64_t nonce, requests.Int(i, 0));
    absl::StatusOr<TxRequest> r = chain::onchain::DecodeTxRequest(requests.Text(i, 1));
    if (!r.ok()) return absl::DataLossError(absl::StrCat("nonce ", nonce, ": ", r.status().message()));
    if (auto it = index.find(nonce); it != index.end()) out[it->second].pending.push_back(*std::move(r));
  }
  return out;
}

}  // namespace

// The sender's row lock, in a transaction on a connection of its own; rolled back (released) on
// destruction. Reads run on that connection, so a hold whose connection died fails at once.
class PostgresNonceStore::PgHold final : public chain::onchain::SenderHold {
 public:
  PgHold(PostgresNonceStore& store, platform::postgres::Pool::Lease lease, uint64_t chain_id,
         const chain::Address& sender)
      : store_(store), lease_(std::move(lease)), chain_id_(chain_id), sender_(sender) {}

  absl::Status Lock(absl::Duration lock_timeout) {
    absl::StatusOr<platform::postgres::Transaction> txn = platform::postgres::Transaction::Begin(*lease_);
    if (!txn.ok()) return txn.status();
    txn_.emplace(*std::move(txn));
    RETURN_IF_ERROR(
        lease_->Exec(absl::StrCat("SET LOCAL lock_timeout = '", absl::ToInt64Milliseconds(lock_timeout), "ms'")));
    const Param params[] = {ChainParam(chain_id_), SenderParam(sender_)};
    return lease_->Execute(kLockSender, params).status();
  }

  absl::StatusOr<std::vector<SlotView>> Open() override {
    const Param params[] = {ChainParam(chain_id_), SenderParam(sender_)};
    return Context(ReadSlots(*lease_, kOpenFilter, params), "nonces: open slots");
  }

  absl::StatusOr<std::optional<uint64_t>> Floor() override {
    const Param params[] = {ChainParam(chain_id_), SenderParam(sender_)};
    absl::StatusOr<Result> r = lease_->Execute(kFloor, params);
    if (!r.ok()) return Context(r.status(), "nonces: floor");
    if (r->IsNull(0, 0)) return std::optional<uint64_t>();
    ASSIGN_OR_RETURN(const int64_t floor, r->Int(0, 0));
    return std::optional<uint64_t>(static_cast<uint64_t>(floor));
  }

  absl::Status Record(const TxRequest& request, bool first) override {
    const TxEnvelope& e = request.envelope;
    const std::string encoded = chain::onchain::EncodeTxRequest(request);
    if (!first) {
      const Param params[] = {ChainParam(chain_id_), SenderParam(sender_), NonceParam(e.nonce),
                              Param::Text(chain::onchain::RequestKey(e)), Param::Text(encoded)};
      return store_.Run("record a fee bump request", kRecordBump, params).status();
    }
    const auto [operation_id, step] = Owner(e.request_id);
    std::optional<OperationFence> fence;
    if (store_.fence_) {
      ASSIGN_OR_RETURN(fence, store_.fence_(operation_id));
    }
    const Param params[] = {ChainParam(chain_id_),
                            SenderParam(sender_),
                            NonceParam(e.nonce),
                            Param::Text(e.request_id),
                            Param::Text(operation_id),
                            Param::Text(step),
                            Param::Text(chain::onchain::RequestKey(e)),
                            Param::Text(encoded),
                            Param::Text(fence.has_value() ? fence->replica_id : ""),
                            Param::Int(fence.has_value() ? fence->lease_epoch : 0),
                            Param::Text(fence.has_value() ? fence->boot_id : "")};
    ASSIGN_OR_RETURN(const Result r, fence.has_value()
                                         ? store_.Run("reserve a nonce", kReserveFenced, params)
                                         : store_.Run("reserve a nonce", kReserve, absl::MakeConstSpan(params, 8)));
    if (r.rows() == 0 && fence.has_value()) RETURN_IF_ERROR(store_.FenceRefusal(operation_id, *fence));
    if (r.rows() == 0) {
      // Transient (nonce_store.h): a dead holder's late request; the next hold chooses past it.
      return absl::UnavailableError(absl::StrCat("nonces: nonce ", e.nonce, " of ", sender_.Checksummed(), " on chain ",
                                                 chain_id_, " is reserved by another request"));
    }
    return absl::OkStatus();
  }

  absl::Status Refused(const TxEnvelope& envelope) override {
    const Param params[] = {ChainParam(chain_id_), SenderParam(sender_), NonceParam(envelope.nonce),
                            Param::Text(chain::onchain::RequestKey(envelope))};
    RETURN_IF_ERROR(store_.Run("close a refused request", kRefuseRequest, params).status());
    return store_.Run("release a refused nonce", kVoidSlot, absl::Span<const Param>(params, 3)).status();
  }

  absl::Status MarkBumpAttempt(uint64_t nonce) override {
    const Param params[] = {ChainParam(chain_id_), SenderParam(sender_), NonceParam(nonce)};
    return store_.Run("mark a fee bump", kMarkBump, params).status();
  }

 private:
  PostgresNonceStore& store_;
  platform::postgres::Pool::Lease lease_;               // destroyed after txn_
  std::optional<platform::postgres::Transaction> txn_;  // rolled back first
  const uint64_t chain_id_;
  const chain::Address sender_;
};

absl::StatusOr<std::unique_ptr<PostgresNonceStore>> PostgresNonceStore::Open(const platform::postgres::Dsn& dsn,
                                                                             const PostgresNonceStoreOptions& options) {
  platform::postgres::PoolOptions pool_options;
  pool_options.max_connections = std::max(options.pool_size, 2);
  pool_options.connect.application_name = "onchain-kms-orchestrator-nonces";
  ASSIGN_OR_RETURN(std::unique_ptr<platform::postgres::Pool> pool, platform::postgres::Pool::Create(dsn, pool_options));
  {
    ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, pool->Acquire(absl::Now() + options.acquire_timeout));
    RETURN_IF_ERROR(Context(platform::postgres::ApplySchema(*conn, kSchemaName, {kSchemaV1}), "nonces: schema"));
  }
  return std::unique_ptr<PostgresNonceStore>(new PostgresNonceStore(std::move(pool), options));
}

absl::StatusOr<platform::postgres::Pool::Lease> PostgresNonceStore::Acquire(absl::string_view what) {
  absl::StatusOr<platform::postgres::Pool::Lease> conn = pool_->Acquire(absl::Now() + options_.acquire_timeout);
  if (!conn.ok()) return Context(absl::UnavailableError(conn.status().message()), absl::StrCat("nonces: ", what));
  return conn;
}

absl::StatusOr<Result> PostgresNonceStore::Run(absl::string_view what, absl::string_view sql,
                                               absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, Acquire(what));
  return Context(conn->Execute(sql, params), absl::StrCat("nonces: ", what));
}

absl::StatusOr<std::unique_ptr<chain::onchain::SenderHold>> PostgresNonceStore::Hold(
    uint64_t chain_id, const chain::Address& sender, const chain::jsonrpc::CallOptions& opts) {
  (void)opts;  // the wait is bounded by lock_timeout
  const Param params[] = {ChainParam(chain_id), SenderParam(sender)};
  RETURN_IF_ERROR(Run("add a sender", kAddSender, params).status());
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, Acquire("hold a sender"));
  auto hold = std::make_unique<PgHold>(*this, std::move(conn), chain_id, sender);
  if (absl::Status s = hold->Lock(options_.lock_timeout); !s.ok()) {
    return Context(s, absl::StrCat("nonces: hold ", sender.Checksummed(), " on chain ", chain_id));
  }
  return std::unique_ptr<chain::onchain::SenderHold>(std::move(hold));
}

absl::StatusOr<std::vector<SlotView>> PostgresNonceStore::Open(uint64_t chain_id, const chain::Address& sender) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, Acquire("open slots"));
  const Param params[] = {ChainParam(chain_id), SenderParam(sender)};
  return Context(ReadSlots(*conn, kOpenFilter, params), "nonces: open slots");
}

absl::Status PostgresNonceStore::FenceRefusal(absl::string_view operation_id, const OperationFence& fence) {
  const Param params[] = {Param::Text(operation_id), Param::Text(fence.replica_id), Param::Int(fence.lease_epoch),
                          Param::Text(fence.boot_id)};
  ASSIGN_OR_RETURN(const Result held, Run("reserve a nonce",
                                          "SELECT EXISTS (SELECT 1 FROM replicas r WHERE r.id = $2 AND r.boot_id = "
                                          "$4 AND r.expires > now()) FROM operations WHERE id = $1 AND owner = $2 "
                                          "AND lease_epoch = $3::bigint",
                                          params));
  if (held.rows() == 0) {
    return LeaseLostError(absl::StrCat("operation ", operation_id, " was taken over by another replica"));
  }
  if (held.Text(0, 0) != "t") {
    return absl::UnavailableError(
        absl::StrCat("nonces: the lease of replica '", fence.replica_id, "' is not live; nothing reserved"));
  }
  return absl::OkStatus();  // held: the slot was taken by another request
}

absl::Status PostgresNonceStore::Signed(const TxJournal& journal) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, Acquire("store signed versions"));
  const absl::Status s = platform::postgres::RunTransaction(
      *conn, platform::postgres::Isolation::kReadCommitted, absl::Now() + options_.acquire_timeout,
      [&](Connection& c) -> absl::Status {
        int64_t added = 0;
        for (const SignedTx& v : journal.versions) {
          const Param version[] = {ChainParam(journal.chain_id), SenderParam(journal.from),
                                   NonceParam(journal.nonce),    Param::Bytes(v.hash.bytes()),
                                   Param::Bytes(v.raw),          Param::Text(v.max_fee_per_gas.ToDecimal())};
          ASSIGN_OR_RETURN(const Result r, c.Execute(kAddVersion, version));
          added += r.affected_rows();
          const Param cover[] = {ChainParam(journal.chain_id), SenderParam(journal.from), NonceParam(journal.nonce),
                                 Param::Text(chain::onchain::RequestKey(v))};
          RETURN_IF_ERROR(c.Execute(kCoverRequest, cover).status());
        }
        const Param slot[] = {ChainParam(journal.chain_id), SenderParam(journal.from), NonceParam(journal.nonce),
                              Param::Text(added > 0 ? "true" : "false")};
        return c.Execute(kSlotSigned, slot).status();
      });
  return Context(s, absl::StrCat("nonces: store the signed versions of nonce ", journal.nonce));
}

absl::Status PostgresNonceStore::Chain(uint64_t chain_id, const chain::Address& sender, uint64_t latest_count) {
  const Param params[] = {ChainParam(chain_id), SenderParam(sender), NonceParam(latest_count),
                          Param::Int(absl::ToInt64Milliseconds(options_.reorg_grace))};
  RETURN_IF_ERROR(Run("mark mined slots", kMined, absl::MakeConstSpan(params, 3)).status());
  return Run("reopen slots a reorg took back", kUnmined, params).status();
}

absl::Status PostgresNonceStore::Conflicted(uint64_t chain_id, const chain::Address& sender, uint64_t nonce) {
  const Param params[] = {ChainParam(chain_id), SenderParam(sender), NonceParam(nonce)};
  return Run("mark a conflicted slot", kConflicted, params).status();
}

absl::StatusOr<std::vector<SignedTx>> PostgresNonceStore::Versions(uint64_t chain_id, const chain::Address& sender,
                                                                   uint64_t nonce) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, Acquire("read a slot's versions"));
  const Param one[] = {ChainParam(chain_id), SenderParam(sender), NonceParam(nonce)};
  ASSIGN_OR_RETURN(std::vector<SlotView> slots,
                   Context(ReadSlots(*conn, kOneFilter, one), "nonces: read a slot's versions"));
  return slots.empty() ? std::vector<SignedTx>() : std::move(slots.front().versions);
}

absl::StatusOr<std::optional<StepSlot>> PostgresNonceStore::NewestOfStep(absl::string_view operation_id,
                                                                         absl::string_view step) {
  ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, Acquire("find a step's nonce"));
  const Param key[] = {Param::Text(operation_id), Param::Text(step)};
  absl::StatusOr<Result> found = conn->Execute(kNewestOfStep, key);
  if (!found.ok()) return Context(found.status(), "nonces: find a step's nonce");
  if (found->rows() == 0) return std::optional<StepSlot>();
  StepSlot out;
  ASSIGN_OR_RETURN(const int64_t chain_id, found->Int(0, 0));
  ASSIGN_OR_RETURN(const int64_t nonce, found->Int(0, 2));
  absl::StatusOr<chain::Address> sender = chain::Address::Parse(found->Text(0, 1));
  if (!sender.ok()) return absl::DataLossError(absl::StrCat("nonces: sender of ", operation_id, "/", step));
  out.chain_id = static_cast<uint64_t>(chain_id);
  out.sender = *sender;
  const Param one[] = {Param::Int(chain_id), SenderParam(*sender), Param::Int(nonce)};
  ASSIGN_OR_RETURN(std::vector<SlotView> slots, Context(ReadSlots(*conn, kOneFilter, one), "nonces: read a slot"));
  if (slots.empty()) return std::optional<StepSlot>();
  out.slot = std::move(slots.front());
  return std::optional<StepSlot>(std::move(out));
}

}  // namespace orchestrator::journal
