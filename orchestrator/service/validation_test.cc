#include "orchestrator/service/validation.h"

#include <string>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orchestrator::service {
namespace {

using ::testing::HasSubstr;

constexpr char kKms[] = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
constexpr char kKey[] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

ValidationContext Ctx() {
  ValidationContext c;
  cloudapi::KmsInfo phala;
  phala.id = "kms-phala";
  phala.slug = "phala";
  cloudapi::KmsInfo base;
  base.id = "kms-base";
  base.slug = "base";
  base.chain_id = 31337;
  base.kms_contract_address = *chain::Address::Parse("0x5fbdb2315678afecb367f032d93f642f64180aa3");
  c.kms = {phala, base};
  c.chains = {31337};
  c.default_signer_key = *chain::Address::Parse(kKey);
  return c;
}

v1::DeployCvmRequest Deploy() {
  v1::DeployCvmRequest r;
  r.set_request_id("r-1");
  r.set_name("my-app-1");
  r.set_kms_type(v1::KMS_TYPE_BASE);
  r.mutable_compose()->set_docker_compose_file("services: {}\n");
  v1::EnvVar* e = r.add_env_vars();
  e->set_key("A");
  e->set_value("secret-a");
  return r;
}

std::string Error(const v1::DeployCvmRequest& r) {
  std::optional<chain::Address> key;
  absl::StatusOr<v1::DeployCvmRequest> out = ValidateDeploy(r, Ctx(), &key);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), ::testing::Not(HasSubstr("secret-a")));
  return std::string(out.status().message());
}

TEST(ValidationTest, GoodDeployIsNormalized) {
  v1::DeployCvmRequest r = Deploy();
  r.set_kms_contract_address(absl::AsciiStrToLower(kKms));
  r.set_device_id("AB" + std::string(62, 'c'));
  std::optional<chain::Address> key;
  absl::StatusOr<v1::DeployCvmRequest> out = ValidateDeploy(r, Ctx(), &key);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kms_contract_address(), kKms);
  EXPECT_EQ(out->device_id(), "0xab" + std::string(62, 'c'));
  ASSERT_TRUE(key.has_value()) << "the default signer key";
  EXPECT_EQ(key->Checksummed(), kKey);
}

TEST(ValidationTest, DeployErrorsNameTheField) {
  v1::DeployCvmRequest r = Deploy();
  r.clear_request_id();
  EXPECT_THAT(Error(r), HasSubstr("request_id: required"));
  r = Deploy();
  r.set_request_id("has space");
  EXPECT_THAT(Error(r), HasSubstr("request_id:"));
  r = Deploy();
  r.set_name("a--bc");
  EXPECT_THAT(Error(r), HasSubstr("name:"));
  r = Deploy();
  r.clear_compose();
  EXPECT_THAT(Error(r), HasSubstr("compose: required"));
  r = Deploy();
  r.mutable_compose()->set_pre_launch_script(std::string(200 * 1024, 'x'));
  EXPECT_THAT(Error(r), HasSubstr("200 KiB"));
  r = Deploy();
  r.set_kms_id("nope");
  EXPECT_THAT(Error(r), HasSubstr("kms_id: unknown KMS"));
  r = Deploy();
  r.set_kms_id("kms-phala");
  EXPECT_THAT(Error(r), HasSubstr("off-chain"));
  r = Deploy();
  r.set_kms_contract_address("0x0000000000000000000000000000000000000001");
  EXPECT_THAT(Error(r), HasSubstr("kms_contract_address: unknown"));
  r = Deploy();
  r.set_kms_contract_address("0x5FbDB2315678afecb367f032d93F642f64180aA3");  // bad checksum
  EXPECT_THAT(Error(r), HasSubstr("kms_contract_address"));
  r = Deploy();
  r.set_device_id("0x12");
  EXPECT_THAT(Error(r), HasSubstr("device_id"));
  r = Deploy();
  r.mutable_compose()->add_allowed_envs("B");
  EXPECT_THAT(Error(r), HasSubstr("env_vars[0].key: A is not in compose.allowed_envs"));
  r = Deploy();
  r.add_env_vars()->set_key("A");
  EXPECT_THAT(Error(r), HasSubstr("env_vars[1].key: duplicate key A"));
  r = Deploy();
  r.mutable_env_vars(0)->set_value(std::string(64 * 1024 + 1, 'v'));
  EXPECT_THAT(Error(r), HasSubstr("env_vars[0].value"));
  r = Deploy();
  r.mutable_env_vars(0)->set_value("\xff\xfe");
  EXPECT_THAT(Error(r), HasSubstr("UTF-8"));
  r = Deploy();
  r.set_kms_type(v1::KMS_TYPE_PHALA);
  r.set_nonce(3);
  EXPECT_THAT(Error(r), HasSubstr("app_id: required with nonce"));
}

TEST(ValidationTest, OnChainNeedsASignerKey) {
  ValidationContext c = Ctx();
  c.default_signer_key.reset();
  std::optional<chain::Address> key;
  absl::StatusOr<v1::DeployCvmRequest> out = ValidateDeploy(Deploy(), c, &key);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("signer_key_address: required"));
  v1::DeployCvmRequest phala = Deploy();
  phala.set_kms_type(v1::KMS_TYPE_PHALA);
  EXPECT_TRUE(ValidateDeploy(phala, c, &key).ok());
  EXPECT_FALSE(key.has_value()) << "the PHALA KMS signs nothing";
  v1::DeployCvmRequest own = Deploy();
  own.set_signer_key_address(absl::AsciiStrToLower(kKms));
  absl::StatusOr<v1::DeployCvmRequest> with_own = ValidateDeploy(own, c, &key);
  ASSERT_TRUE(with_own.ok()) << with_own.status();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->Checksummed(), kKms) << "the request's own key, parsed";
  EXPECT_EQ(with_own->signer_key_address(), kKms) << "normalized to EIP-55 in the request too";
}

TEST(ValidationTest, AddComposeHash) {
  v1::AddComposeHashRequest r;
  r.set_request_id("x");
  r.set_compose_hash(std::string(64, 'A'));
  std::optional<chain::Address> key;
  EXPECT_THAT(std::string(ValidateAddComposeHash(r, Ctx(), &key).status().message()), HasSubstr("target"));
  r.mutable_app()->set_chain_id(8453);
  r.mutable_app()->set_app_contract_address(kKms);
  EXPECT_THAT(std::string(ValidateAddComposeHash(r, Ctx(), &key).status().message()),
              HasSubstr("app.chain_id: chain 8453 is not configured"));
  r.mutable_app()->set_chain_id(31337);
  absl::StatusOr<v1::AddComposeHashRequest> ok = ValidateAddComposeHash(r, Ctx(), &key);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->compose_hash(), "0x" + std::string(64, 'a'));
  r.set_compose_hash(std::string(64, '0'));
  EXPECT_THAT(std::string(ValidateAddComposeHash(r, Ctx(), &key).status().message()),
              HasSubstr("compose_hash: must not be zero"));
}

TEST(ValidationTest, DigestIgnoresEnvValuesAndRequestIdButNotTheRest) {
  v1::DeployCvmRequest a = Deploy();
  v1::DeployCvmRequest b = Deploy();
  b.set_request_id("other");
  b.mutable_env_vars(0)->set_value("another secret");
  EXPECT_EQ(RequestDigest(v1::OPERATION_KIND_DEPLOY_CVM, a), RequestDigest(v1::OPERATION_KIND_DEPLOY_CVM, b));
  b.set_name("my-app-2");
  EXPECT_NE(RequestDigest(v1::OPERATION_KIND_DEPLOY_CVM, a), RequestDigest(v1::OPERATION_KIND_DEPLOY_CVM, b));
  const std::string stripped = StrippedRequest(a);
  EXPECT_THAT(stripped, ::testing::Not(HasSubstr("secret-a")));
  v1::DeployCvmRequest back;
  ASSERT_TRUE(back.ParseFromString(stripped));
  EXPECT_EQ(back.env_vars(0).key(), "A");
  EXPECT_TRUE(back.env_vars(0).value().empty());
}

TEST(ValidateReadinessWait, TimeoutWithinADayAndOnlyWhenEnabled) {
  v1::DeployCvmRequest r = Deploy();
  r.mutable_wait_until_running()->set_enabled(true);
  std::optional<chain::Address> key;
  EXPECT_TRUE(ValidateDeploy(r, Ctx(), &key).ok());  // no timeout: the default
  r.mutable_wait_until_running()->mutable_timeout()->set_seconds(24 * 3600);
  EXPECT_TRUE(ValidateDeploy(r, Ctx(), &key).ok());
  r.mutable_wait_until_running()->mutable_timeout()->set_nanos(1);
  EXPECT_EQ(Error(r), "wait_until_running.timeout: at most 24h");
  r.mutable_wait_until_running()->mutable_timeout()->set_seconds(-5);
  r.mutable_wait_until_running()->mutable_timeout()->set_nanos(0);
  EXPECT_EQ(Error(r), "wait_until_running.timeout: must not be negative");
  r.mutable_wait_until_running()->mutable_timeout()->set_seconds(60);
  r.mutable_wait_until_running()->set_enabled(false);
  EXPECT_EQ(Error(r), "wait_until_running.timeout: only with enabled: true");

  v1::UpdateDockerComposeRequest u;
  u.set_request_id("r-2");
  u.set_cvm_id("my-app-1");
  u.set_docker_compose_file("services: {}\n");
  u.mutable_wait_until_running()->set_enabled(true);
  u.mutable_wait_until_running()->mutable_timeout()->set_seconds(25 * 3600);
  absl::Status s = ValidateUpdateDockerCompose(u, Ctx(), &key).status();
  EXPECT_EQ(s.message(), "wait_until_running.timeout: at most 24h");
}

// ---- UpdateAppContract / GetAppState ----

v1::UpdateAppContractRequest AppChange() {
  v1::UpdateAppContractRequest r;
  r.set_request_id("r-9");
  r.mutable_app()->set_chain_id(31337);
  r.mutable_app()->set_app_contract_address(absl::AsciiStrToLower(kKms));
  r.mutable_add_device()->set_device_id("AB" + std::string(62, 'c'));
  return r;
}

std::string AppChangeError(const v1::UpdateAppContractRequest& r) {
  std::optional<chain::Address> key;
  absl::StatusOr<v1::UpdateAppContractRequest> out = ValidateUpdateAppContract(r, Ctx(), &key);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(out.status().message());
}

TEST(ValidationTest, UpdateAppContractIsNormalized) {
  std::optional<chain::Address> key;
  absl::StatusOr<v1::UpdateAppContractRequest> out = ValidateUpdateAppContract(AppChange(), Ctx(), &key);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->app().app_contract_address(), kKms);
  EXPECT_EQ(out->add_device().device_id(), "0xab" + std::string(62, 'c'));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->Checksummed(), kKey);
}

TEST(ValidationTest, UpdateAppContractNamesTheBadField) {
  v1::UpdateAppContractRequest r = AppChange();
  r.clear_change();
  EXPECT_THAT(AppChangeError(r), HasSubstr("change: required"));
  r = AppChange();
  r.mutable_add_device()->set_device_id(std::string(64, '0'));
  EXPECT_THAT(AppChangeError(r), HasSubstr("add_device.device_id: must not be zero"));
  r = AppChange();
  r.mutable_remove_device()->set_node_id(0);
  EXPECT_THAT(AppChangeError(r), HasSubstr("remove_device.node_id: must not be 0"));
  r = AppChange();
  r.mutable_remove_device();
  EXPECT_THAT(AppChangeError(r), HasSubstr("remove_device.device: required"));
  r = AppChange();
  r.mutable_transfer_ownership()->set_confirm(true);
  EXPECT_THAT(AppChangeError(r), HasSubstr("transfer_ownership.new_owner: required"));
  r.mutable_transfer_ownership()->set_new_owner("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  r.mutable_transfer_ownership()->set_confirm(false);
  EXPECT_THAT(AppChangeError(r), HasSubstr("transfer_ownership.confirm: must be true"));
  r = AppChange();
  r.mutable_disable_upgrades();
  EXPECT_THAT(AppChangeError(r), HasSubstr("disable_upgrades.confirm: must be true"));
  r.mutable_disable_upgrades()->set_confirm(true);
  std::optional<chain::Address> key;
  EXPECT_TRUE(ValidateUpdateAppContract(r, Ctx(), &key).ok());
  r.mutable_app()->set_chain_id(1);
  EXPECT_THAT(AppChangeError(r), HasSubstr("app.chain_id: chain 1 is not configured"));
  r.clear_target();
  EXPECT_THAT(AppChangeError(r), HasSubstr("target: required"));
}

TEST(ValidationTest, GetAppStateNormalizesAndLimitsTheQueries) {
  v1::GetAppStateRequest r;
  r.set_cvm_id("my-app-1");
  r.add_device_ids("CD" + std::string(62, '1'));
  absl::StatusOr<v1::GetAppStateRequest> out = ValidateGetAppState(r, Ctx());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->device_ids(0), "0xcd" + std::string(62, '1'));
  r.add_compose_hashes("xyz");
  EXPECT_THAT(std::string(ValidateGetAppState(r, Ctx()).status().message()),
              HasSubstr("compose_hashes[0]: want 32 bytes"));
  r.clear_compose_hashes();
  for (int i = 0; i < 101; ++i) r.add_device_ids(std::string(64, 'a'));
  EXPECT_THAT(std::string(ValidateGetAppState(r, Ctx()).status().message()), HasSubstr("device_ids: at most 100"));
}

}  // namespace
}  // namespace orchestrator::service
