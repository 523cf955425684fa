// Ownership through the real processes (anvil, simulator, signer, orchestrator on a PostgreSQL
// journal, whose resource_owners table the test reads and changes directly): a deploy records its
// app and CVM for its caller; an update of a CVM whose app another tenant owns is accepted (the
// CVM is the caller's) but fails at get_cvm with the one NOT_FOUND, before anything is sent or
// signed; an update of a CVM another tenant owns is refused at submit. Without an `access`
// section the caller (uid:<n>) is its own tenant.
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"
#include "platform/postgres/connection.h"

namespace orchestrator::e2e {
namespace {

using platform::postgres::Param;

class OwnershipE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() { StartStack({.postgres = true}); }

  // tenant of (kind, resource), "" when none.
  static std::string Owner(platform::postgres::Connection& db, const std::string& kind, const std::string& resource) {
    const Param p[] = {Param::Text(kind), Param::Text(resource)};
    absl::StatusOr<platform::postgres::Result> r =
        db.Execute("SELECT tenant, source FROM resource_owners WHERE kind = $1 AND resource = $2", p);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->rows() == 1 ? absl::StrCat(r->Text(0, 0), " ", r->Text(0, 1)) : "";
  }
};

TEST_F(OwnershipE2eTest, TheDeployOwnsItsCvmAndAppAndAnotherTenantsAppStopsAnUpdateBeforeAnythingIsSent) {
  grpc::ClientContext ctx;
  v1::Operation op;
  grpc::Status s = stack_->stub().DeployCvm(&ctx, stack_->DeployRequest("own-1", "own-app"), &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<v1::Operation> deployed = stack_->WaitFor(op.id());
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  ASSERT_EQ(deployed->state(), v1::OPERATION_STATE_SUCCEEDED) << deployed->DebugString();
  const v1::DeployResult& d = deployed->deploy();
  const std::string me = absl::StrCat("uid:", ::getuid());
  const std::string app_hex = absl::AsciiStrToLower(d.app_id().substr(2));
  const std::string app = absl::StrCat(d.chain_id(), ":0x", app_hex);

  absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> db = stack_->ConnectJournal();
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string source = absl::StrCat(me, " deploy:", op.id());
  EXPECT_EQ(Owner(**db, "app", app), source);
  EXPECT_EQ(Owner(**db, "cvm", absl::AsciiStrToLower(d.cvm_id())), source);
  EXPECT_EQ(Owner(**db, "cvm", "app_" + app_hex), source) << "the CVM under its app id too";

  // Another tenant owns the app now (as after an admin's adopt).
  const Param p[] = {Param::Text(app)};
  ASSERT_TRUE(
      (*db)->Execute("UPDATE resource_owners SET tenant = 'team-x' WHERE kind = 'app' AND resource = $1", p).ok());
  const int hashes = *stack_->CountComposeHashAdded(d.app_id());
  const int patches = stack_->CountSimRequests("PATCH", "/api/v1/cvms/" + d.cvm_id() + "/docker-compose");
  v1::UpdateDockerComposeRequest u;
  u.set_request_id("own-2");
  u.set_cvm_id(d.cvm_id());
  u.set_docker_compose_file("services:\n  app:\n    image: nginx:1.27\n");
  grpc::ClientContext uctx;
  s = stack_->stub().UpdateDockerCompose(&uctx, u, &op);
  ASSERT_TRUE(s.ok()) << "the CVM is the caller's: " << s.error_message();
  absl::StatusOr<v1::Operation> refused = stack_->WaitFor(op.id());
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(refused->error().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(refused->error().step(), "get_cvm");
  EXPECT_EQ(refused->error().message(),
            absl::StrCat("cvm_id: no CVM ", d.cvm_id(), " in your scope (an admin can adopt it)"));
  EXPECT_EQ(*stack_->CountComposeHashAdded(d.app_id()), hashes) << "nothing signed";
  EXPECT_EQ(stack_->CountSimRequests("PATCH", "/api/v1/cvms/" + d.cvm_id() + "/docker-compose"), patches)
      << "nothing sent";

  // The CVM itself another tenant's: refused at submit with the same message, nothing journaled.
  ASSERT_TRUE((*db)->Exec("UPDATE resource_owners SET tenant = 'team-x' WHERE kind = 'cvm'").ok());
  u.set_request_id("own-3");
  grpc::ClientContext u3;
  s = stack_->stub().UpdateDockerCompose(&u3, u, &op);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), refused->error().message());
  absl::StatusOr<platform::postgres::Result> n =
      (*db)->Execute("SELECT count(*) FROM operations WHERE request_id = 'own-3'");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n->Int(0, 0), 0);
}

}  // namespace
}  // namespace orchestrator::e2e
