// The simulator's durable state: one SQLite file (//platform/sqlite: WAL, one process per file),
// so a restarted simulator still knows its KMS signing keys, provisions, CVMs, app key pairs,
// applied compose hashes, pending two-phase updates, the decrypted env values (test inspection)
// and the log of received requests.
//
// Rows are small key columns plus a JSON document; the simulator owns the document shapes.
// Thread-safe: every call takes the store's mutex.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_STORE_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "platform/sqlite/database.h"

namespace cloudsim {

struct Row {
  int64_t id = 0;
  boost::json::object data;
};

struct RequestLogEntry {
  std::string method;
  std::string path;
  std::string query;
  int status = 0;               // 0 = connection dropped without a response
  std::string fault;            // "" or the fault kind that fired
  std::string auth;             // "valid" | "invalid" | "missing" | "none" (not an API route)
  boost::json::object headers;  // selected headers, never X-API-Key
  boost::json::value body;      // parsed JSON, or the raw text (truncated), or null
  int64_t duration_ms = 0;
};

class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::optional<std::string> GetMeta(absl::string_view key);
  absl::Status SetMeta(absl::string_view key, absl::string_view value);

  // KMS entries, keyed by id; `data` is the KmsInfo plus simulator fields.
  absl::Status UpsertKms(absl::string_view id, const boost::json::object& data);
  std::vector<Row> ListKms();  // Row::id = insertion order; data["id"] is the KMS id

  int64_t InsertProvision(absl::string_view compose_hash, const boost::json::object& data);
  // The newest not yet committed provision with this compose hash.
  std::optional<Row> FindOpenProvision(absl::string_view compose_hash);
  void MarkProvisionCommitted(int64_t id);

  // CVMs. Unique keys are kept in columns for lookups.
  int64_t InsertCvm(const boost::json::object& data);
  void UpdateCvm(int64_t id, const boost::json::object& data);
  std::optional<Row> FindCvm(absl::string_view column, absl::string_view value);
  std::optional<Row> GetCvm(int64_t id);
  std::vector<Row> ListCvms();

  // X25519 key pair per app id (40 lower-case hex). Returns {private_hex, public_hex}.
  std::optional<std::pair<std::string, std::string>> GetAppKey(absl::string_view app_id);
  // Inserts unless present; returns what is stored afterwards.
  std::pair<std::string, std::string> PutAppKeyIfAbsent(absl::string_view app_id, absl::string_view private_hex,
                                                        absl::string_view public_hex);

  void AddComposeHistory(int64_t cvm_id, absl::string_view compose_hash, absl::string_view tx_hash,
                         absl::string_view source);
  boost::json::array ComposeHistory(int64_t cvm_id);

  // Two-phase updates waiting for on-chain registration.
  int64_t InsertPending(int64_t cvm_id, absl::string_view compose_hash, absl::string_view token,
                        const boost::json::object& data);
  std::optional<Row> FindPending(int64_t cvm_id, absl::string_view column, absl::string_view value);
  void MarkPendingDone(int64_t id);
  boost::json::array ListPending(int64_t cvm_id);

  // Test inspection: what the simulator decrypted from an encrypted_env it received.
  void AddEnvRecord(int64_t cvm_id, const boost::json::object& record);
  boost::json::array EnvRecords(int64_t cvm_id);

  void LogRequest(const RequestLogEntry& e);
  boost::json::array Requests(int64_t since_seq, absl::string_view path_prefix, int64_t limit);
  void ClearRequests();

 private:
  explicit Store(std::unique_ptr<platform::sqlite::Database> db) : db_(std::move(db)) {}
  std::optional<std::pair<std::string, std::string>> GetAppKeyLocked(absl::string_view app_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<platform::sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_STORE_H_
