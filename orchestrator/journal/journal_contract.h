// Test-only: the Journal contract (journal.h) as one parameterized suite, run against every
// backend. A backend's test binary instantiates it with a factory of fresh stores:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JournalContractTest, ::testing::Values(&NewSqliteStore));
//
// The cases themselves are in journal_contract.cc; backend-specific ones (the SQLite file lock,
// a PostgreSQL schema that is too new) stay in the backend's own test file.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_CONTRACT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_CONTRACT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "orchestrator/journal/journal.h"

namespace orchestrator::journal {

// One empty store (a file, a database) for one test. Open may be called again after the previous
// journal was destroyed: the new one sees the same data, as after a restart.
class JournalStore {
 public:
  virtual ~JournalStore() = default;
  virtual absl::StatusOr<std::unique_ptr<Journal>> Open() = 0;
};

using JournalStoreFactory = std::unique_ptr<JournalStore> (*)();

class JournalContractTest : public ::testing::TestWithParam<JournalStoreFactory> {
 protected:
  void SetUp() override;
  // A journal on this test's store; the test fails if it cannot be opened.
  std::unique_ptr<Journal> OpenJournal();

  std::unique_ptr<JournalStore> store_;
};

// A record as the contract cases use it (caller "uid:1000", owner "me", bytes with a NUL).
OperationRecord TestRecord(const std::string& id, const std::string& request_id, int64_t time_us, int kind = 1,
                           int state = 1);

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_CONTRACT_H_
