// The rows of one executed statement, owned (the PGresult is cleared on destruction). Rows and
// columns are 0-based. Values arrive in text format: Int parses any integer column, Bytes
// decodes a bytea column (and returns other columns' text as is).
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_RESULT_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_RESULT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct pg_result;

namespace platform::postgres {

class Result {
 public:
  explicit Result(pg_result* result);  // takes ownership

  int rows() const;
  int columns() const;
  // Rows an INSERT/UPDATE/DELETE touched (0 for other commands).
  int64_t affected_rows() const;
  // The command tag ("INSERT 0 1", "COMMIT", "ROLLBACK", ...).
  std::string command_tag() const;

  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;  // "" for NULL
  // INVALID_ARGUMENT for NULL or a value that is not an integer fitting int64.
  absl::StatusOr<int64_t> Int(int row, int column) const;
  // "" for NULL; INVALID_ARGUMENT if a bytea value is not in hex output format.
  absl::StatusOr<std::string> Bytes(int row, int column) const;
  absl::StatusOr<std::vector<uint8_t>> ByteVector(int row, int column) const;

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_RESULT_H_
