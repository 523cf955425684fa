// BackfillOwners on a real SqliteJournal holding deploy operations as a version before ownership
// journaled them (no tenant in their state): their apps and CVMs are recorded for the tenant of
// their caller, once however often it runs; operations that carry their tenant, callers that are
// no tenant's member, and resources another tenant owns meanwhile are left alone.
#include "orchestrator/flows/owner_backfill.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "orchestrator/flows/common.h"
#include "orchestrator/journal/sqlite_journal.h"

namespace orchestrator::flows {
namespace {

constexpr char kApp1[] = "0x00000000000000000000000000000000000000A1";
constexpr char kApp2[] = "0x00000000000000000000000000000000000000A2";
constexpr char kPhalaApp[] = "00000000000000000000000000000000000000b3";

// A deploy operation as journaled: `tenant` empty as before ownership.
journal::OperationRecord Deploy(const std::string& id, const std::string& caller, const std::string& cvm,
                                const std::string& onchain_app, const std::string& phala_app,
                                const std::string& tenant = "") {
  v1::Operation op;
  op.set_id(id);
  op.set_cvm_id(cvm);
  state::FlowState st;
  st.set_tenant(tenant);
  if (!onchain_app.empty()) {
    st.mutable_app_auth()->set_chain_id(31337);
    st.mutable_app_auth()->set_app_id(onchain_app);
  }
  st.mutable_provision()->set_app_id(phala_app);
  journal::OperationRecord r;
  r.id = id;
  r.caller = caller;
  r.request_id = id;
  r.kind = v1::OPERATION_KIND_DEPLOY_CVM;
  r.state = v1::OPERATION_STATE_SUCCEEDED;
  r.cvm_id = cvm;
  r.create_time = absl::FromUnixSeconds(1000);
  r.update_time = absl::FromUnixSeconds(2000);
  r.operation = op.SerializeAsString();
  r.internal = st.SerializeAsString();
  return r;
}

class OwnerBackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/backfillXXXXXX");
    dir_ = ::mkdtemp(tmpl.data());
    journal_ = *journal::SqliteJournal::Open(dir_ + "/j.sqlite");
  }
  void TearDown() override {
    journal_.reset();
    (void)::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }
  std::string Tenant(const char* kind, const std::string& resource) {
    std::optional<journal::ResourceOwner> o = *journal_->FindOwner(kind, resource);
    return o.has_value() ? absl::StrCat(o->tenant, " ", o->source) : "";
  }

  std::string dir_;
  std::unique_ptr<journal::SqliteJournal> journal_;
};

// uid:1 is team-a's member, uid:0 an admin (no tenant).
std::string TenantOf(const std::string& caller) { return caller == "uid:1" ? "team-a" : ""; }

TEST_F(OwnerBackfillTest, RecordsWhatOldDeploysCreatedForTheirCallersTenant) {
  ASSERT_TRUE(journal_->Create(Deploy("op_1", "uid:1", "AAAA0000BBBB1111CCCC2222DDDD3333", kApp1, "")).ok());
  ASSERT_TRUE(journal_->Create(Deploy("op_2", "uid:1", "", "", kPhalaApp)).ok());  // stopped before commit
  ASSERT_TRUE(journal_->Create(Deploy("op_3", "uid:0", "cvm-3", kApp2, "")).ok());
  ASSERT_TRUE(journal_->Create(Deploy("op_4", "uid:1", "cvm-4", "", "", "team-b")).ok());  // recorded its own
  for (int run = 0; run < 2; ++run) {
    absl::StatusOr<BackfillCounts> c = BackfillOwners(*journal_, TenantOf);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->operations, 3);
    EXPECT_EQ(c->recorded, 4);
    EXPECT_EQ(c->conflicts, 0);
  }
  EXPECT_EQ(Tenant(journal::kResourceApp, "31337:0x00000000000000000000000000000000000000a1"), "team-a deploy:op_1");
  EXPECT_EQ(Tenant(journal::kResourceCvm, "aaaa0000bbbb1111cccc2222dddd3333"), "team-a deploy:op_1");
  EXPECT_EQ(Tenant(journal::kResourceCvm, "app_00000000000000000000000000000000000000a1"), "team-a deploy:op_1");
  EXPECT_EQ(Tenant(journal::kResourceApp, kPhalaApp), "team-a deploy:op_2");
  EXPECT_EQ(Tenant(journal::kResourceApp, "31337:0x00000000000000000000000000000000000000a2"), "") << "an admin's";
  EXPECT_EQ(Tenant(journal::kResourceCvm, "cvm-3"), "");
  EXPECT_EQ(Tenant(journal::kResourceCvm, "cvm-4"), "") << "a new deploy records its own";
}

TEST_F(OwnerBackfillTest, AResourceAnotherTenantOwnsKeepsItsOwner) {
  ASSERT_TRUE(journal_->Create(Deploy("op_1", "uid:1", "cvm-1", kApp1, "")).ok());
  ASSERT_TRUE(
      journal_->AdoptResource({journal::kResourceCvm, "cvm-1", "team-b", "adopt:uid:0", absl::FromUnixSeconds(5)})
          .ok());
  absl::StatusOr<BackfillCounts> c = BackfillOwners(*journal_, TenantOf);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->conflicts, 1);
  EXPECT_EQ(c->recorded, 2);
  EXPECT_EQ(Tenant(journal::kResourceCvm, "cvm-1"), "team-b adopt:uid:0");
}

}  // namespace
}  // namespace orchestrator::flows
