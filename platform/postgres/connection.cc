#include "platform/postgres/connection.h"

#include <poll.h>
#include <postgresql/libpq-fe.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/postgres/error.h"
#include "platform/status_macros.h"

namespace platform::postgres {
namespace {

// A program prepares a fixed set of statements; past this many, something builds SQL text on the
// fly, and the cache starts over rather than grow without bound.
constexpr size_t kMaxPrepared = 256;

// libpq prints NOTICEs (e.g. "relation already exists, skipping") to stderr; they are not errors.
void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

// Our defaults first: a keyword the DSN sets again comes later and wins.
std::vector<std::pair<std::string, std::string>> ConnectParams(const Dsn& dsn, const ConnectOptions& options) {
  const int64_t seconds =
      std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(options.connect_timeout, absl::Seconds(1))));
  std::vector<std::pair<std::string, std::string>> params = {
      {"connect_timeout", absl::StrCat(seconds)},
      {"application_name", options.application_name},
      {"client_encoding", "UTF8"},
      // A peer that vanished without closing (host loss, partition) is noticed in about 20 s.
      {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},
      {"keepalives_count", "2"},
  };
  params.insert(params.end(), dsn.options().begin(), dsn.options().end());
  return params;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const Dsn& dsn, const ConnectOptions& options) {
  const std::vector<std::pair<std::string, std::string>> params = ConnectParams(dsn, options);
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : params) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/0);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    absl::Status error = ConnectError(conn, dsn);
    PQfinish(conn);
    return error;
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return std::unique_ptr<Connection>(new Connection(dsn, conn));
}

Connection::Connection(Dsn dsn, pg_conn* conn)
    : dsn_(std::move(dsn)), description_(absl::StrCat("postgres ", dsn_.description())), conn_(conn) {}

Connection::~Connection() { PQfinish(conn_); }

// Reads what the server sent while we were idle, so a connection it closed (a shutdown or
// pg_terminate_backend sends FATAL 57P01, then EOF) is noticed before anything is sent on it.
// libpq's socket is non-blocking; the EOF shows only on the read after the message, hence the loop.
bool Connection::Alive() {
  for (int i = 0; i < 4 && PQstatus(conn_) == CONNECTION_OK; ++i) {
    pollfd fd = {PQsocket(conn_), POLLIN, 0};
    if (::poll(&fd, 1, 0) != 1) break;
    if (PQconsumeInput(conn_) != 1) break;
  }
  return PQstatus(conn_) == CONNECTION_OK;
}

absl::Status Connection::EnsureConnected() {
  if (Alive()) return absl::OkStatus();
  if (in_transaction_) {
    return absl::UnavailableError(
        absl::StrCat(description_, ": the connection was lost inside a transaction, which the server rolled back"));
  }
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) return ConnectError(conn_, dsn_);
  prepared_.clear();
  allocated_ = 0;
  for (const std::string& channel : std::vector<std::string>(channels_)) RETURN_IF_ERROR(Listen(channel));
  return absl::OkStatus();
}

absl::StatusOr<Result> Connection::Checked(pg_result* result, absl::string_view what) {
  const ExecStatusType status = PQresultStatus(result);
  if (result != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) return Result(result);
  absl::Status error = CommandError(conn_, result, absl::StrCat(description_, ": ", what));
  PQclear(result);
  return error;
}

absl::Status Connection::Exec(absl::string_view sql) {
  RETURN_IF_ERROR(EnsureConnected());
  return Checked(PQexec(conn_, std::string(sql).c_str()), "exec").status();
}

absl::StatusOr<std::string> Connection::PreparedName(absl::string_view sql) {
  if (auto it = prepared_.find(sql); it != prepared_.end()) return it->second;
  // Counted by names given out, not cached: one dropped after an error still exists server-side.
  if (allocated_ >= kMaxPrepared) {
    RETURN_IF_ERROR(Exec("DEALLOCATE ALL"));
    prepared_.clear();
    allocated_ = 0;
  }
  ++allocated_;
  std::string name = absl::StrCat("okms_", next_statement_++);
  RETURN_IF_ERROR(Checked(PQprepare(conn_, name.c_str(), std::string(sql).c_str(), 0, nullptr), "prepare").status());
  prepared_.emplace(std::string(sql), name);
  return name;
}

absl::StatusOr<Result> Connection::Execute(absl::string_view sql, absl::Span<const Param> params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (p.format() == Param::Format::kText && p.value().find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(description_, ": parameter $", i + 1, ": text with a NUL byte"));
    }
    values.push_back(p.format() == Param::Format::kNull ? nullptr : p.value().c_str());
    lengths.push_back(static_cast<int>(p.value().size()));
    formats.push_back(p.format() == Param::Format::kBinary ? 1 : 0);
  }
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(const std::string name, PreparedName(sql));
  absl::StatusOr<Result> result =
      Checked(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                             formats.data(), /*resultFormat=*/0),
              "execute");
  // A statement the server no longer knows (or whose plan went stale after a schema change by
  // another process) is prepared again next time.
  if (!result.ok() && result.status().code() == absl::StatusCode::kInternal) prepared_.erase(std::string(sql));
  return result;
}

absl::Status Connection::Listen(absl::string_view channel) {
  RETURN_IF_ERROR(EnsureConnected());
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (quoted == nullptr) return absl::InvalidArgumentError(absl::StrCat(description_, ": bad channel name"));
  const std::string sql = absl::StrCat("LISTEN ", quoted);
  PQfreemem(quoted);
  RETURN_IF_ERROR(Exec(sql));
  if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end()) channels_.emplace_back(channel);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Notification>> Connection::WaitForNotification(absl::Time deadline) {
  RETURN_IF_ERROR(EnsureConnected());
  for (;;) {
    if (PQconsumeInput(conn_) != 1) return CommandError(conn_, nullptr, absl::StrCat(description_, ": wait"));
    if (PGnotify* n = PQnotifies(conn_); n != nullptr) {
      Notification out{n->relname, n->extra != nullptr ? n->extra : ""};
      PQfreemem(n);
      return out;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd fd = {PQsocket(conn_), POLLIN, 0};
    const int64_t ms = std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 60'000);
    ::poll(&fd, 1, static_cast<int>(ms));
  }
}

}  // namespace platform::postgres
