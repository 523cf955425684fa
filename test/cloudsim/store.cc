#include "test/cloudsim/store.h"

#include <sqlite3.h>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cloudsim {
namespace {

namespace json = boost::json;

// A prepared statement; binds by position, steps, reads columns.
class Stmt {
 public:
  Stmt(sqlite3* db, absl::string_view sql) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK) {
      stmt_ = nullptr;
      error_ = sqlite3_errmsg(db);
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  const std::string& error() const { return error_; }
  Stmt& Bind(int i, absl::string_view s) {
    if (stmt_) sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW / SQLITE_DONE / error.
  int Step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col)) : "";
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

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

std::string NowIso() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
}

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
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open sqlite db ", path, ": ", msg));
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Store> store(new Store(db));
  absl::MutexLock lock(&store->mu_);
  for (absl::string_view sql : {absl::string_view("PRAGMA journal_mode=WAL;"),
                                absl::string_view("PRAGMA synchronous=NORMAL;"), kSchema}) {
    absl::Status s = store->Exec(sql);
    if (!s.ok()) return s;
  }
  return store;
}

Store::~Store() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

absl::Status Store::Exec(absl::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

std::optional<std::string> Store::GetMeta(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "SELECT value FROM meta WHERE key = ?");
  st.Bind(1, key);
  if (st.Step() == SQLITE_ROW) return st.Text(0);
  return std::nullopt;
}

absl::Status Store::SetMeta(absl::string_view key, absl::string_view value) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "INSERT INTO meta (key, value) VALUES (?, ?) "
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  st.Bind(1, key).Bind(2, value);
  if (st.Step() != SQLITE_DONE)
    return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  return absl::OkStatus();
}

absl::Status Store::UpsertKms(absl::string_view id, const json::object& data) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "INSERT INTO kms (id, data) VALUES (?, ?) "
          "ON CONFLICT(id) DO UPDATE SET data = excluded.data");
  st.Bind(1, id).Bind(2, json::serialize(data));
  if (st.Step() != SQLITE_DONE)
    return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  return absl::OkStatus();
}

std::vector<Row> Store::ListKms() {
  absl::MutexLock lock(&mu_);
  std::vector<Row> out;
  Stmt st(db_, "SELECT seq, data FROM kms ORDER BY seq");
  while (st.Step() == SQLITE_ROW) out.push_back({st.Int(0), ParseObject(st.Text(1))});
  return out;
}

int64_t Store::InsertProvision(absl::string_view compose_hash, const json::object& data) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "INSERT INTO provisions (compose_hash, data) VALUES (?, ?)");
  st.Bind(1, compose_hash).Bind(2, json::serialize(data));
  st.Step();
  return sqlite3_last_insert_rowid(db_);
}

std::optional<Row> Store::FindOpenProvision(absl::string_view compose_hash) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "SELECT id, data FROM provisions WHERE compose_hash = ? AND committed = 0 "
          "ORDER BY id DESC LIMIT 1");
  st.Bind(1, compose_hash);
  if (st.Step() == SQLITE_ROW) return Row{st.Int(0), ParseObject(st.Text(1))};
  return std::nullopt;
}

void Store::MarkProvisionCommitted(int64_t id) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "UPDATE provisions SET committed = 1 WHERE id = ?");
  st.Bind(1, id).Step();
}

namespace {
std::string Col(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}
}  // namespace

int64_t Store::InsertCvm(const json::object& data) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "INSERT INTO cvms (vm_uuid, app_id, instance_id, name, data) VALUES (?, ?, ?, ?, ?)");
  st.Bind(1, Col(data, "vm_uuid")).Bind(2, Col(data, "app_id")).Bind(3, Col(data, "instance_id"));
  st.Bind(4, Col(data, "name")).Bind(5, json::serialize(data));
  st.Step();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateCvm(int64_t id, const json::object& data) {
  absl::MutexLock lock(&mu_);
  Stmt st(
      db_,
      "UPDATE cvms SET vm_uuid = ?, app_id = ?, instance_id = ?, name = ?, data = ? WHERE id = ?");
  st.Bind(1, Col(data, "vm_uuid")).Bind(2, Col(data, "app_id")).Bind(3, Col(data, "instance_id"));
  st.Bind(4, Col(data, "name")).Bind(5, json::serialize(data)).Bind(6, id);
  st.Step();
}

std::optional<Row> Store::FindCvm(absl::string_view column, absl::string_view value) {
  // `column` is chosen by the caller from a fixed set, never from a request.
  if (column != "vm_uuid" && column != "app_id" && column != "instance_id" && column != "name") {
    return std::nullopt;
  }
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          absl::StrCat("SELECT id, data FROM cvms WHERE ", column, " = ? ORDER BY id LIMIT 1"));
  st.Bind(1, value);
  if (st.Step() == SQLITE_ROW) return Row{st.Int(0), ParseObject(st.Text(1))};
  return std::nullopt;
}

std::optional<Row> Store::GetCvm(int64_t id) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "SELECT id, data FROM cvms WHERE id = ?");
  st.Bind(1, id);
  if (st.Step() == SQLITE_ROW) return Row{st.Int(0), ParseObject(st.Text(1))};
  return std::nullopt;
}

std::vector<Row> Store::ListCvms() {
  absl::MutexLock lock(&mu_);
  std::vector<Row> out;
  Stmt st(db_, "SELECT id, data FROM cvms ORDER BY id");
  while (st.Step() == SQLITE_ROW) out.push_back({st.Int(0), ParseObject(st.Text(1))});
  return out;
}

std::optional<std::pair<std::string, std::string>> Store::GetAppKey(absl::string_view app_id) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "SELECT private_hex, public_hex FROM app_keys WHERE app_id = ?");
  st.Bind(1, app_id);
  if (st.Step() == SQLITE_ROW) return std::make_pair(st.Text(0), st.Text(1));
  return std::nullopt;
}

std::pair<std::string, std::string> Store::PutAppKeyIfAbsent(absl::string_view app_id,
                                                             absl::string_view private_hex,
                                                             absl::string_view public_hex) {
  absl::MutexLock lock(&mu_);
  {
    Stmt ins(db_,
             "INSERT OR IGNORE INTO app_keys (app_id, private_hex, public_hex, created_at) "
             "VALUES (?, ?, ?, ?)");
    ins.Bind(1, app_id).Bind(2, private_hex).Bind(3, public_hex).Bind(4, NowIso()).Step();
  }
  Stmt st(db_, "SELECT private_hex, public_hex FROM app_keys WHERE app_id = ?");
  st.Bind(1, app_id);
  st.Step();
  return {st.Text(0), st.Text(1)};
}

void Store::AddComposeHistory(int64_t cvm_id, absl::string_view compose_hash,
                              absl::string_view tx_hash, absl::string_view source) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "INSERT INTO compose_history (cvm_id, compose_hash, tx_hash, source, applied_at) "
          "VALUES (?, ?, ?, ?, ?)");
  st.Bind(1, cvm_id)
      .Bind(2, compose_hash)
      .Bind(3, tx_hash)
      .Bind(4, source)
      .Bind(5, NowIso())
      .Step();
}

json::array Store::ComposeHistory(int64_t cvm_id) {
  absl::MutexLock lock(&mu_);
  json::array out;
  Stmt st(db_,
          "SELECT compose_hash, tx_hash, source, applied_at FROM compose_history "
          "WHERE cvm_id = ? ORDER BY id");
  st.Bind(1, cvm_id);
  while (st.Step() == SQLITE_ROW) {
    json::object o;
    o["compose_hash"] = st.Text(0);
    std::string tx = st.Text(1);
    o["transaction_hash"] = tx.empty() ? json::value(nullptr) : json::value(tx);
    o["source"] = st.Text(2);
    o["applied_at"] = st.Text(3);
    out.push_back(std::move(o));
  }
  return out;
}

int64_t Store::InsertPending(int64_t cvm_id, absl::string_view compose_hash,
                             absl::string_view token, const json::object& data) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "INSERT INTO pending_updates (cvm_id, compose_hash, token, data, created_at) "
          "VALUES (?, ?, ?, ?, ?)");
  st.Bind(1, cvm_id)
      .Bind(2, compose_hash)
      .Bind(3, token)
      .Bind(4, json::serialize(data))
      .Bind(5, NowIso());
  st.Step();
  return sqlite3_last_insert_rowid(db_);
}

std::optional<Row> Store::FindPending(int64_t cvm_id, absl::string_view column,
                                      absl::string_view value) {
  if (column != "compose_hash" && column != "token") return std::nullopt;
  absl::MutexLock lock(&mu_);
  Stmt st(db_, absl::StrCat("SELECT id, data FROM pending_updates WHERE cvm_id = ? AND ", column,
                            " = ? AND done = 0 ORDER BY id DESC LIMIT 1"));
  st.Bind(1, cvm_id).Bind(2, value);
  if (st.Step() == SQLITE_ROW) return Row{st.Int(0), ParseObject(st.Text(1))};
  return std::nullopt;
}

void Store::MarkPendingDone(int64_t id) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "UPDATE pending_updates SET done = 1 WHERE id = ?");
  st.Bind(1, id).Step();
}

json::array Store::ListPending(int64_t cvm_id) {
  absl::MutexLock lock(&mu_);
  json::array out;
  Stmt st(db_,
          "SELECT compose_hash, token, done, data, created_at FROM pending_updates "
          "WHERE cvm_id = ? ORDER BY id");
  st.Bind(1, cvm_id);
  while (st.Step() == SQLITE_ROW) {
    json::object o;
    o["compose_hash"] = st.Text(0);
    o["commit_token"] = st.Text(1);
    o["done"] = st.Int(2) != 0;
    json::object d = ParseObject(st.Text(3));
    if (const json::value* k = d.if_contains("kind")) o["kind"] = *k;
    o["created_at"] = st.Text(4);
    out.push_back(std::move(o));
  }
  return out;
}

void Store::AddEnvRecord(int64_t cvm_id, const json::object& record) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_, "INSERT INTO env_records (cvm_id, data) VALUES (?, ?)");
  st.Bind(1, cvm_id).Bind(2, json::serialize(record)).Step();
}

json::array Store::EnvRecords(int64_t cvm_id) {
  absl::MutexLock lock(&mu_);
  json::array out;
  Stmt st(db_, "SELECT data FROM env_records WHERE cvm_id = ? ORDER BY id");
  st.Bind(1, cvm_id);
  while (st.Step() == SQLITE_ROW) out.push_back(ParseObject(st.Text(0)));
  return out;
}

void Store::LogRequest(const RequestLogEntry& e) {
  absl::MutexLock lock(&mu_);
  Stmt st(db_,
          "INSERT INTO requests (ts, method, path, query, status, fault, auth, headers, body, "
          "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  st.Bind(1, NowIso()).Bind(2, e.method).Bind(3, e.path).Bind(4, e.query).Bind(5, e.status);
  st.Bind(6, e.fault).Bind(7, e.auth).Bind(8, json::serialize(e.headers));
  st.Bind(9, json::serialize(e.body)).Bind(10, e.duration_ms);
  st.Step();
}

json::array Store::Requests(int64_t since_seq, absl::string_view path_prefix, int64_t limit) {
  absl::MutexLock lock(&mu_);
  json::array out;
  Stmt st(db_,
          "SELECT seq, ts, method, path, query, status, fault, auth, headers, body, duration_ms "
          "FROM requests WHERE seq > ? AND substr(path, 1, ?) = ? ORDER BY seq LIMIT ?");
  st.Bind(1, since_seq)
      .Bind(2, static_cast<int64_t>(path_prefix.size()))
      .Bind(3, path_prefix)
      .Bind(4, limit);
  while (st.Step() == SQLITE_ROW) {
    json::object o;
    o["seq"] = st.Int(0);
    o["ts"] = st.Text(1);
    o["method"] = st.Text(2);
    o["path"] = st.Text(3);
    o["query"] = st.Text(4);
    o["status"] = st.Int(5);
    std::string fault = st.Text(6);
    o["fault"] = fault.empty() ? json::value(nullptr) : json::value(fault);
    o["auth"] = st.Text(7);
    o["headers"] = ParseObject(st.Text(8));
    o["body"] = ParseValue(st.Text(9));
    o["duration_ms"] = st.Int(10);
    out.push_back(std::move(o));
  }
  return out;
}

void Store::ClearRequests() {
  absl::MutexLock lock(&mu_);
  (void)Exec("DELETE FROM requests;");
}

}  // namespace cloudsim
