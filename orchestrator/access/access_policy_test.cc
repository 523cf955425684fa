#include "orchestrator/access/access_policy.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace orchestrator::access {
namespace {

namespace v1 = onchainkms::orchestrator::v1;
using ::testing::HasSubstr;

constexpr char kKeyA[] = "0x1111111111111111111111111111111111111111";
constexpr char kKeyB[] = "0x2222222222222222222222222222222222222222";
constexpr char kKeyDefault[] = "0x3333333333333333333333333333333333333333";

chain::Address Addr(const char* hex) { return *chain::Address::Parse(hex); }

v1::OrchestratorConfig Config(const std::string& access_text) {
  v1::OrchestratorConfig c;
  std::string text = "chains { chain_id: 31337 } chains { chain_id: 8453 } " + access_text;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

absl::StatusOr<AccessPolicy> Compile(const std::string& access_text) {
  return AccessPolicy::Compile(Config(access_text), Addr(kKeyDefault));
}

const std::string kTwoTenants = absl::StrCat(R"(access {
  admins: "cert:ops"
  auditors: "token:audit"
  tenants { name: "alpha" members: ["token:a-ci", "uid:1000"] viewers: "token:a-view"
            signer_keys { address: ")",
                                             kKeyA, R"(" } }
  tenants { name: "beta" members: "token:b-ci"
            signer_keys { address: ")",
                                             kKeyB, R"(" chain_ids: 8453 } }
})");

TEST(AccessPolicyTest, ResolvesRolesAndTenants) {
  absl::StatusOr<AccessPolicy> p = Compile(kTwoTenants);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->configured());
  EXPECT_EQ(p->CompatibilityWarning(), "");

  Principal a = p->Resolve(platform::Caller(platform::Caller::BearerToken{"a-ci", "ipv4:1.2.3.4:5"}));
  EXPECT_EQ(a.role, Role::kMember);
  EXPECT_EQ(a.tenant, "alpha");
  EXPECT_EQ(a.rule, "access.tenants[0].members[0]");
  EXPECT_EQ(p->Resolve(platform::Caller(platform::Caller::UnixPeer{1000, 1000, 7})).tenant, "alpha");
  EXPECT_EQ(p->ResolveKey("token:a-view").role, Role::kViewer);
  EXPECT_EQ(p->ResolveKey("token:a-view").tenant, "alpha");
  EXPECT_EQ(p->ResolveKey("cert:ops").role, Role::kAdmin);
  EXPECT_EQ(p->ResolveKey("token:audit").role, Role::kAuditor);
  EXPECT_EQ(p->ResolveKey("token:b-ci").tenant, "beta");
  Principal stranger = p->ResolveKey("token:nobody");
  EXPECT_EQ(stranger.role, Role::kNone);

  EXPECT_EQ(p->TenantOfCaller("uid:1000"), "alpha");
  EXPECT_EQ(p->TenantOfCaller("token:a-view"), "");  // viewers submit nothing
  EXPECT_EQ(p->TenantOfCaller("cert:ops"), "");
  EXPECT_EQ(p->TenantOfCaller("token:gone"), "");
  EXPECT_EQ(p->CallersOf("alpha"), (std::vector<std::string>{"token:a-ci", "uid:1000"}));
  EXPECT_EQ(p->CallersOf("beta"), (std::vector<std::string>{"token:b-ci"}));
  EXPECT_TRUE(p->CallersOf("gamma").empty());
  EXPECT_TRUE(p->CallersOf("").empty());
}

// The policy of kTwoTenants and one principal of each role.
class TwoTenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<AccessPolicy> compiled = Compile(kTwoTenants);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    p.emplace(*std::move(compiled));
    a = p->ResolveKey("token:a-ci");
    viewer = p->ResolveKey("token:a-view");
    b = p->ResolveKey("token:b-ci");
    admin = p->ResolveKey("cert:ops");
    auditor = p->ResolveKey("token:audit");
    stranger = p->ResolveKey("token:nobody");
  }

  std::optional<AccessPolicy> p;
  Principal a, viewer, b, admin, auditor, stranger;
};

TEST_F(TwoTenantsTest, VisibilityAndActing) {
  EXPECT_TRUE(p->MaySee(a, "uid:1000"));  // a teammate's operation
  EXPECT_TRUE(p->MaySee(viewer, "token:a-ci"));
  EXPECT_FALSE(p->MaySee(b, "token:a-ci"));
  EXPECT_FALSE(p->MaySee(a, "token:b-ci"));
  EXPECT_FALSE(p->MaySee(a, "cert:ops"));  // an admin's own operation belongs to no tenant
  EXPECT_TRUE(p->MaySee(admin, "token:b-ci"));
  EXPECT_TRUE(p->MaySee(auditor, "token:a-ci"));
  EXPECT_FALSE(p->MaySee(stranger, "token:nobody"));

  EXPECT_TRUE(p->CheckKnown(a).ok());
  absl::Status s = p->CheckKnown(stranger);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("token:nobody"));
  EXPECT_THAT(s.message(), HasSubstr("`access`"));

  EXPECT_TRUE(p->CheckMayAct(a).ok());
  EXPECT_TRUE(p->CheckMayAct(admin).ok());
  s = p->CheckMayAct(viewer);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("access.tenants[0].viewers[0]"));
  s = p->CheckMayAct(auditor);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("access.auditors[0]"));
  EXPECT_EQ(p->CheckMayAct(stranger).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(TwoTenantsTest, SignerKeyGrants) {
  EXPECT_TRUE(p->CheckSignerKey(a, Addr(kKeyA), 31337).ok());
  EXPECT_TRUE(p->CheckSignerKey(a, Addr(kKeyA), 8453).ok());  // no chain_ids: every chain
  absl::Status s = p->CheckSignerKey(b, Addr(kKeyA), 31337);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not granted to tenant beta (access.tenants[1].signer_keys)"));
  EXPECT_TRUE(p->CheckSignerKey(b, Addr(kKeyB), 8453).ok());
  s = p->CheckSignerKey(b, Addr(kKeyB), 31337);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("only on chains 8453, not 31337"));
  // With an access section the default key is not implied: it must be granted.
  s = p->CheckSignerKey(a, Addr(kKeyDefault), 31337);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);

  EXPECT_TRUE(p->CheckSignerKey(admin, Addr(kKeyDefault), 31337).ok());
  EXPECT_TRUE(p->CheckSignerKey(admin, Addr(kKeyA), 31337).ok());
  EXPECT_TRUE(p->CheckSignerKey(admin, Addr(kKeyB), 8453).ok());
  EXPECT_EQ(p->CheckSignerKey(admin, Addr(kKeyB), 31337).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(p->CheckSignerKey(admin, Addr("0x4444444444444444444444444444444444444444"), 31337).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(p->CheckSignerKey(p->ResolveKey("token:a-view"), Addr(kKeyA), 31337).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(p->CheckSignerKey(p->ResolveKey("token:audit"), Addr(kKeyA), 31337).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, WithoutAccessSectionEachIdentityIsItsOwnTenant) {
  absl::StatusOr<AccessPolicy> p = Compile("");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->configured());
  EXPECT_THAT(p->CompatibilityWarning(), HasSubstr("access {"));
  Principal u = p->ResolveKey("uid:1000");
  EXPECT_EQ(u.role, Role::kMember);
  EXPECT_EQ(u.tenant, "uid:1000");
  EXPECT_TRUE(p->CheckKnown(u).ok());
  EXPECT_TRUE(p->CheckMayAct(u).ok());
  EXPECT_TRUE(p->MaySee(u, "uid:1000"));
  EXPECT_FALSE(p->MaySee(u, "uid:1001"));
  EXPECT_EQ(p->TenantOfCaller("uid:1001"), "uid:1001");
  EXPECT_EQ(p->CallersOf("uid:1000"), (std::vector<std::string>{"uid:1000"}));
  EXPECT_TRUE(p->CheckSignerKey(u, Addr(kKeyDefault), 31337).ok());
  absl::Status s = p->CheckSignerKey(u, Addr(kKeyA), 31337);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("default_signer_key_address"));

  // No default key: no key at all.
  absl::StatusOr<AccessPolicy> none = AccessPolicy::Compile(Config(""), std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->CheckSignerKey(u, Addr(kKeyDefault), 31337).code(), absl::StatusCode::kPermissionDenied);
}

struct BadConfig {
  std::string access;
  std::string message;
};

class AccessPolicyInvalidTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(AccessPolicyInvalidTest, NamesTheField) {
  absl::StatusOr<AccessPolicy> p = Compile(GetParam().access);
  ASSERT_FALSE(p.ok()) << GetParam().access;
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, AccessPolicyInvalidTest,
    ::testing::Values(
        BadConfig{"access {}", "access: names no identity"},
        BadConfig{R"(access { admins: "ci" })", "access.admins[0]: \"ci\" is not a caller identity"},
        BadConfig{R"(access { admins: "uid:01" })", "access.admins[0]"},
        BadConfig{R"(access { admins: "uid:" })", "access.admins[0]"},
        BadConfig{R"(access { auditors: "token:" })", "access.auditors[0]"},
        BadConfig{R"(access { auditors: "token:a b" })", "access.auditors[0]"},
        BadConfig{R"(access { admins: "token:x" auditors: "token:x" })",
                  "access.auditors[0]: \"token:x\" is already access.admins[0]"},
        BadConfig{R"(access { tenants { name: "a" members: "uid:1" } tenants { name: "b" viewers: "uid:1" } })",
                  "access.tenants[1].viewers[0]: \"uid:1\" is already access.tenants[0].members[0]"},
        BadConfig{R"(access { tenants { name: "a" members: ["uid:1", "uid:1"] } })",
                  "access.tenants[0].members[1]: \"uid:1\" is already access.tenants[0].members[0]"},
        BadConfig{R"(access { tenants { name: "A" members: "uid:1" } })", "access.tenants[0].name"},
        BadConfig{R"(access { tenants { name: "" members: "uid:1" } })", "access.tenants[0].name"},
        BadConfig{R"(access { tenants { name: "-a" members: "uid:1" } })", "access.tenants[0].name"},
        BadConfig{R"(access { tenants { name: "a" members: "uid:1" } tenants { name: "a" members: "uid:2" } })",
                  "access.tenants[1].name: \"a\" is already access.tenants[0]"},
        BadConfig{R"(access { tenants { name: "a" members: "uid:1" signer_keys { address: "0x12" } } })",
                  "access.tenants[0].signer_keys[0].address"},
        BadConfig{R"(access { tenants { name: "a" members: "uid:1" signer_keys { } } })",
                  "access.tenants[0].signer_keys[0].address"},
        BadConfig{absl::StrCat(R"(access { tenants { name: "a" members: "uid:1" signer_keys { address: ")", kKeyA,
                               R"(" } signer_keys { address: ")", kKeyA, R"(" } } })"),
                  "access.tenants[0].signer_keys[1].address: key granted twice"},
        BadConfig{absl::StrCat(R"(access { tenants { name: "b" members: "uid:1" signer_keys { address: ")", kKeyA,
                               R"(" chain_ids: [8453, 1] } } })"),
                  "access.tenants[0].signer_keys[0].chain_ids[1]: chain 1 is not one of `chains`"}));

TEST(AccessPolicyTest, LongestTenantNameAccepted) {
  std::string name(63, 'a');
  EXPECT_TRUE(Compile(absl::StrCat(R"(access { tenants { name: ")", name, R"(" members: "uid:1" } })")).ok());
  EXPECT_FALSE(Compile(absl::StrCat(R"(access { tenants { name: ")", name, R"(a" members: "uid:1" } })")).ok());
}

}  // namespace
}  // namespace orchestrator::access
