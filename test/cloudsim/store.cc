#include "test/cloudsim/store.h"

#include <functional>
#include <initializer_list>
#include <variant>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "platform/sqlite/schema.h"
#include "platform/status_macros.h"

namespace cloudsim {
namespace {

namespace json = boost::json;

using platform::sqlite::Statement;

// A parameter for ?1, ?2, ...: text or an integer.
using Value = std::variant<absl::string_view, int64_t>;

// Prepares `sql`, binds `values` in order, steps to the end and hands each row to `row`.
absl::Status Run(platform::sqlite::Database& db, absl::string_view sql, std::initializer_list<Value> values,
                 const std::function<void(const Statement&)>& row = nullptr) {
  ASSIGN_OR_RETURN(Statement st, db.Prepare(sql));
  int index = 0;
  for (const Value& v : values) {
    ++index;
    if (const auto* text = std::get_if<absl::string_view>(&v)) {
      st.BindText(index, *text);
    } else {
      st.BindInt(index, std::get<int64_t>(v));
    }
  }
  for (;;) {
    ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) return absl::OkStatus();
    if (row) row(st);
  }
}

json::object ParseObject(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

json::value ParseValue(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  return ec ? json::value(s) : v;
}

std::string NowIso() { return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()); }

constexpr absl::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kms (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
  data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS provisions (id INTEGER PRIMARY KEY AUTOINCREMENT,
  compose_hash TEXT NOT NULL, committed INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS provisions_hash ON provisions (compose_hash, committed);
CREATE TABLE IF NOT EXISTS cvms (id INTEGER PRIMARY KEY AUTOINCREMENT, vm_uuid TEXT UNIQUE,
  app_id TEXT, instance_id TEXT, name TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cvms_app ON cvms (app_id);
CREATE INDEX IF NOT EXISTS cvms_name ON cvms (name);
CREATE TABLE IF NOT EXISTS app_keys (app_id TEXT PRIMARY KEY, private_hex TEXT NOT NULL,
  public_hex TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS compose_history (id INTEGER PRIMARY KEY AUTOINCREMENT,
  cvm_id INTEGER NOT NULL, compose_hash TEXT NOT NULL, tx_hash TEXT, source TEXT,
  applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_updates (id INTEGER PRIMARY KEY AUTOINCREMENT,
  cvm_id INTEGER NOT NULL, compose_hash TEXT NOT NULL, token TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS env_records (id INTEGER PRIMARY KEY AUTOINCREMENT,
  cvm_id INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL,
  method TEXT, path TEXT, query TEXT, status INTEGER, fault TEXT, auth TEXT, headers TEXT,
  body TEXT, duration_ms INTEGER);
)sql";

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  // A test tool: commits need not survive a power loss, so WAL commits sync at checkpoints.
  platform::sqlite::OpenOptions options;
  options.synchronous = platform::sqlite::Synchronous::kNormal;
  ASSIGN_OR_RETURN(std::unique_ptr<platform::sqlite::Database> db, platform::sqlite::Database::Open(path, options));
  RETURN_IF_ERROR(platform::sqlite::ApplySchema(*db, {kSchema}));
  return std::unique_ptr<Store>(new Store(std::move(db)));
}

Store::~Store() {
  absl::MutexLock lock(&mu_);
  db_.reset();
}

std::optional<std::string> Store::GetMeta(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> out;
  (void)Run(*db_, "SELECT value FROM meta WHERE key = ?", {key}, [&](const Statement& st) { out = st.ColumnText(0); });
  return out;
}

absl::Status Store::SetMeta(absl::string_view key, absl::string_view value) {
  absl::MutexLock lock(&mu_);
  return Run(*db_, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
             {key, value});
}

absl::Status Store::UpsertKms(absl::string_view id, const json::object& data) {
  absl::MutexLock lock(&mu_);
  return Run(*db_, "INSERT INTO kms (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
             {id, json::serialize(data)});
}

namespace {
// Reads (id, data) rows.
std::function<void(const Statement&)> CollectRows(std::vector<Row>& out) {
  return [&out](const Statement& st) { out.push_back({st.ColumnInt(0), ParseObject(st.ColumnText(1))}); };
}
std::function<void(const Statement&)> FirstRow(std::optional<Row>& out) {
  return [&out](const Statement& st) {
    if (!out.has_value()) out = Row{st.ColumnInt(0), ParseObject(st.ColumnText(1))};
  };
}
}  // namespace

std::vector<Row> Store::ListKms() {
  absl::MutexLock lock(&mu_);
  std::vector<Row> out;
  (void)Run(*db_, "SELECT seq, data FROM kms ORDER BY seq", {}, CollectRows(out));
  return out;
}

int64_t Store::InsertProvision(absl::string_view compose_hash, const json::object& data) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "INSERT INTO provisions (compose_hash, data) VALUES (?, ?)", {compose_hash, json::serialize(data)});
  return db_->last_insert_rowid();
}

std::optional<Row> Store::FindOpenProvision(absl::string_view compose_hash) {
  absl::MutexLock lock(&mu_);
  std::optional<Row> out;
  (void)Run(*db_, "SELECT id, data FROM provisions WHERE compose_hash = ? AND committed = 0 ORDER BY id DESC LIMIT 1",
            {compose_hash}, FirstRow(out));
  return out;
}

void Store::MarkProvisionCommitted(int64_t id) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "UPDATE provisions SET committed = 1 WHERE id = ?", {id});
}

namespace {
std::string Col(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}
}  // namespace

int64_t Store::InsertCvm(const json::object& data) {
  absl::MutexLock lock(&mu_);
  (void)Run(
      *db_, "INSERT INTO cvms (vm_uuid, app_id, instance_id, name, data) VALUES (?, ?, ?, ?, ?)",
      {Col(data, "vm_uuid"), Col(data, "app_id"), Col(data, "instance_id"), Col(data, "name"), json::serialize(data)});
  return db_->last_insert_rowid();
}

void Store::UpdateCvm(int64_t id, const json::object& data) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "UPDATE cvms SET vm_uuid = ?, app_id = ?, instance_id = ?, name = ?, data = ? WHERE id = ?",
            {Col(data, "vm_uuid"), Col(data, "app_id"), Col(data, "instance_id"), Col(data, "name"),
             json::serialize(data), id});
}

std::optional<Row> Store::FindCvm(absl::string_view column, absl::string_view value) {
  // `column` is chosen by the caller from a fixed set, never from a request.
  if (column != "vm_uuid" && column != "app_id" && column != "instance_id" && column != "name") {
    return std::nullopt;
  }
  absl::MutexLock lock(&mu_);
  std::optional<Row> out;
  (void)Run(*db_, absl::StrCat("SELECT id, data FROM cvms WHERE ", column, " = ? ORDER BY id LIMIT 1"), {value},
            FirstRow(out));
  return out;
}

std::optional<Row> Store::GetCvm(int64_t id) {
  absl::MutexLock lock(&mu_);
  std::optional<Row> out;
  (void)Run(*db_, "SELECT id, data FROM cvms WHERE id = ?", {id}, FirstRow(out));
  return out;
}

std::vector<Row> Store::ListCvms() {
  absl::MutexLock lock(&mu_);
  std::vector<Row> out;
  (void)Run(*db_, "SELECT id, data FROM cvms ORDER BY id", {}, CollectRows(out));
  return out;
}

std::optional<std::pair<std::string, std::string>> Store::GetAppKeyLocked(absl::string_view app_id) {
  std::optional<std::pair<std::string, std::string>> out;
  (void)Run(*db_, "SELECT private_hex, public_hex FROM app_keys WHERE app_id = ?", {app_id},
            [&](const Statement& st) { out = std::make_pair(st.ColumnText(0), st.ColumnText(1)); });
  return out;
}

std::optional<std::pair<std::string, std::string>> Store::GetAppKey(absl::string_view app_id) {
  absl::MutexLock lock(&mu_);
  return GetAppKeyLocked(app_id);
}

std::pair<std::string, std::string> Store::PutAppKeyIfAbsent(absl::string_view app_id, absl::string_view private_hex,
                                                             absl::string_view public_hex) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "INSERT OR IGNORE INTO app_keys (app_id, private_hex, public_hex, created_at) VALUES (?, ?, ?, ?)",
            {app_id, private_hex, public_hex, NowIso()});
  return GetAppKeyLocked(app_id).value_or(std::pair<std::string, std::string>());
}

void Store::AddComposeHistory(int64_t cvm_id, absl::string_view compose_hash, absl::string_view tx_hash,
                              absl::string_view source) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_,
            "INSERT INTO compose_history (cvm_id, compose_hash, tx_hash, source, applied_at) "
            "VALUES (?, ?, ?, ?, ?)",
            {cvm_id, compose_hash, tx_hash, source, NowIso()});
}

json::array Store::ComposeHistory(int64_t cvm_id) {
  absl::MutexLock lock(&mu_);
  json::array out;
  (void)Run(*db_, "SELECT compose_hash, tx_hash, source, applied_at FROM compose_history WHERE cvm_id = ? ORDER BY id",
            {cvm_id}, [&](const Statement& st) {
              json::object o;
              o["compose_hash"] = st.ColumnText(0);
              std::string tx = st.ColumnText(1);
              o["transaction_hash"] = tx.empty() ? json::value(nullptr) : json::value(tx);
              o["source"] = st.ColumnText(2);
              o["applied_at"] = st.ColumnText(3);
              out.push_back(std::move(o));
            });
  return out;
}

int64_t Store::InsertPending(int64_t cvm_id, absl::string_view compose_hash, absl::string_view token,
                             const json::object& data) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "INSERT INTO pending_updates (cvm_id, compose_hash, token, data, created_at) VALUES (?, ?, ?, ?, ?)",
            {cvm_id, compose_hash, token, json::serialize(data), NowIso()});
  return db_->last_insert_rowid();
}

std::optional<Row> Store::FindPending(int64_t cvm_id, absl::string_view column, absl::string_view value) {
  if (column != "compose_hash" && column != "token") return std::nullopt;
  absl::MutexLock lock(&mu_);
  std::optional<Row> out;
  (void)Run(*db_,
            absl::StrCat("SELECT id, data FROM pending_updates WHERE cvm_id = ? AND ", column,
                         " = ? AND done = 0 ORDER BY id DESC LIMIT 1"),
            {cvm_id, value}, FirstRow(out));
  return out;
}

void Store::MarkPendingDone(int64_t id) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "UPDATE pending_updates SET done = 1 WHERE id = ?", {id});
}

json::array Store::ListPending(int64_t cvm_id) {
  absl::MutexLock lock(&mu_);
  json::array out;
  (void)Run(*db_,
            "SELECT compose_hash, token, done, data, created_at FROM pending_updates WHERE cvm_id = ? ORDER BY id",
            {cvm_id}, [&](const Statement& st) {
              json::object o;
              o["compose_hash"] = st.ColumnText(0);
              o["commit_token"] = st.ColumnText(1);
              o["done"] = st.ColumnInt(2) != 0;
              json::object d = ParseObject(st.ColumnText(3));
              if (const json::value* k = d.if_contains("kind")) o["kind"] = *k;
              o["created_at"] = st.ColumnText(4);
              out.push_back(std::move(o));
            });
  return out;
}

void Store::AddEnvRecord(int64_t cvm_id, const json::object& record) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_, "INSERT INTO env_records (cvm_id, data) VALUES (?, ?)", {cvm_id, json::serialize(record)});
}

json::array Store::EnvRecords(int64_t cvm_id) {
  absl::MutexLock lock(&mu_);
  json::array out;
  (void)Run(*db_, "SELECT data FROM env_records WHERE cvm_id = ? ORDER BY id", {cvm_id},
            [&](const Statement& st) { out.push_back(ParseObject(st.ColumnText(0))); });
  return out;
}

void Store::LogRequest(const RequestLogEntry& e) {
  absl::MutexLock lock(&mu_);
  (void)Run(*db_,
            "INSERT INTO requests (ts, method, path, query, status, fault, auth, headers, body, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {NowIso(), e.method, e.path, e.query, static_cast<int64_t>(e.status), e.fault, e.auth,
             json::serialize(e.headers), json::serialize(e.body), e.duration_ms});
}

namespace {
json::object RequestJson(const Statement& st) {
  json::object o;
  o["seq"] = st.ColumnInt(0);
  o["ts"] = st.ColumnText(1);
  o["method"] = st.ColumnText(2);
  o["path"] = st.ColumnText(3);
  o["query"] = st.ColumnText(4);
  o["status"] = st.ColumnInt(5);
  std::string fault = st.ColumnText(6);
  o["fault"] = fault.empty() ? json::value(nullptr) : json::value(fault);
  o["auth"] = st.ColumnText(7);
  o["headers"] = ParseObject(st.ColumnText(8));
  o["body"] = ParseValue(st.ColumnText(9));
  o["duration_ms"] = st.ColumnInt(10);
  return o;
}
}  // namespace

json::array Store::Requests(int64_t since_seq, absl::string_view path_prefix, int64_t limit) {
  absl::MutexLock lock(&mu_);
  json::array out;
  (void)Run(*db_,
            "SELECT seq, ts, method, path, query, status, fault, auth, headers, body, duration_ms "
            "FROM requests WHERE seq > ? AND substr(path, 1, ?) = ? ORDER BY seq LIMIT ?",
            {since_seq, static_cast<int64_t>(path_prefix.size()), path_prefix, limit},
            [&](const Statement& st) { out.push_back(RequestJson(st)); });
  return out;
}

void Store::ClearRequests() {
  absl::MutexLock lock(&mu_);
  (void)db_->Exec("DELETE FROM requests;");
}

}  // namespace cloudsim
