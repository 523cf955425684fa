// CloudClient against the Phala Cloud simulator (in-process, real HTTP on loopback) with a fake
// JSON-RPC chain for the simulator's on-chain checks. Also a tiny hostile server that echoes the
// API key back, to prove redaction.
#include "cloudapi/cloud_client.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chain/address.h"
#include "chain/hex.h"
#include "cloudapi/api_error.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/env_encryption.h"
#include "cloudapi/wire.h"
#include "test/cloudsim/test_util.h"

namespace cloudapi {
namespace {

namespace json = boost::json;
using cloudsim::SimConfig;
using cloudsim::testing::FakeChain;
using cloudsim::testing::kApp;
using cloudsim::testing::kDeployer;
using cloudsim::testing::kKms;
using cloudsim::testing::OnchainConfig;
using cloudsim::testing::SimInstance;

std::string Checksummed(const std::string& hex40) { return chain::Address::Parse("0x" + hex40)->Checksummed(); }

chain::Address Addr(const std::string& hex40) { return *chain::Address::Parse("0x" + hex40); }

chain::Hash32 Repeated(char digit) { return *chain::Hash32::FromHex(std::string(64, digit)); }

// Collects CallEvents from any thread.
class Events {
 public:
  void Add(const CallEvent& e) {
    absl::MutexLock lock(&mu_);
    list_.push_back(e);
  }
  std::vector<CallEvent> Take() {
    absl::MutexLock lock(&mu_);
    std::vector<CallEvent> out;
    out.swap(list_);
    return out;
  }

 private:
  absl::Mutex mu_;
  std::vector<CallEvent> list_ ABSL_GUARDED_BY(mu_);
};

CloudClientOptions Options(uint16_t port, const std::string& key, Events* events = nullptr) {
  CloudClientOptions o;
  o.base_url = absl::StrCat("http://127.0.0.1:", port, "/api/v1");
  o.api_key = *ApiKey::FromString(key);
  o.retry.initial_backoff = absl::Milliseconds(20);
  o.retry.max_backoff = absl::Milliseconds(100);
  o.transport.connect_timeout = absl::Seconds(5);
  o.transport.request_timeout = absl::Seconds(10);
  if (events != nullptr) o.observer = [events](const CallEvent& e) { events->Add(e); };
  return o;
}

std::unique_ptr<CloudClient> Client(SimInstance& s, Events* events = nullptr,
                                    const std::string& key = SimInstance::kApiKey) {
  absl::StatusOr<std::unique_ptr<CloudClient>> c = CloudClient::Create(Options(s.port(), key, events));
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

// The ApiErrorInfo of an error status (a failure, and a default value, when there is none).
ApiErrorInfo Info(const absl::Status& status) {
  std::optional<ApiErrorInfo> info = GetApiErrorInfo(status);
  if (!info) {
    ADD_FAILURE() << "no ApiErrorInfo in " << status;
    return {};
  }
  return *info;
}

void AddFault(SimInstance& s, const std::string& rule) {
  ASSERT_EQ(s.Admin("POST", "/faults", rule).status, 200) << rule;
}

// The simulator's log of API requests for a path prefix.
json::array Logged(SimInstance& s, const std::string& prefix) {
  return s.Admin("GET", "/requests?path_prefix=" + prefix).json().at("requests").as_array();
}

ProvisionCvmRequest Provision(const std::string& name, const std::string& kms) {
  ProvisionCvmRequest r;
  r.name = name;
  r.kms = kms;
  r.compose_file.docker_compose_file = "services:\n  app:\n    image: nginx\n";
  r.compose_file.allowed_envs = std::vector<std::string>{"FOO", "BAR"};
  r.compose_file.gateway_enabled = true;
  return r;
}

std::array<uint8_t, 33> SimKmsSigner(SimInstance& s, const std::string& kms_id) {
  std::array<uint8_t, 33> out{};
  const json::value kms = s.Admin("GET", "/kms").json();
  for (const json::value& k : kms.at("kms").as_array()) {
    if (k.at("id").as_string() == kms_id) {
      chain::Bytes raw = *chain::FromHex(std::string(k.at("signer_public_key").as_string()));
      std::copy(raw.begin(), raw.end(), out.begin());
    }
  }
  return out;
}

struct Deployed {
  CvmRef ref;
  chain::Hash32 compose_hash;
  crypto::X25519PublicKey pubkey;
  std::string pubkey_hex;
};

// provision -> (the on-chain deployAppAuth, faked) -> verified pubkey -> encrypt -> commit.
Deployed DeployOnchain(CloudClient& client, SimInstance& s, FakeChain& chain) {
  absl::StatusOr<ProvisionCvmResponse> p = client.ProvisionCvm(Provision("chain-app", "BASE"));
  EXPECT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->app_id.has_value());
  EXPECT_FALSE(p->compose_hash.IsZero());
  EXPECT_TRUE(p->device_id.has_value());
  EXPECT_EQ(p->kms_info->kms_contract_address, Addr(kKms));
  EXPECT_EQ(p->kms_info->chain_id, 31337);
  EXPECT_TRUE(p->kms_info->HasSdkSupportedChain());
  EXPECT_EQ(p->node_id, 1);
  chain.RegisterApp(kKms, kApp, kDeployer);
  chain.AllowHash(kApp, wire::HexOf(p->compose_hash));

  PubkeyVerification verify;
  verify.trusted_signer = SimKmsSigner(s, p->kms_info->id);
  absl::StatusOr<AppEnvEncryptPubkey> key =
      client.GetAppEnvEncryptPubkey(p->kms_info->Ref(), Checksummed(kApp), verify);
  EXPECT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->verified);
  EXPECT_EQ(key->signer, verify.trusted_signer);

  CommitCvmProvisionRequest commit;
  commit.app_id = Addr(kApp);
  commit.compose_hash = p->compose_hash;
  commit.encrypted_env = *EncryptEnvVars({{"FOO", "1"}, {"BAR", "two=2"}}, key->public_key_hex);
  commit.kms_id = p->kms_info->Ref();
  commit.contract_address = Addr(kApp);
  commit.deployer_address = Addr(kDeployer);
  absl::StatusOr<CommitCvmProvisionResponse> c = client.CommitCvmProvision(commit);
  EXPECT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->app_id, Addr(kApp));
  EXPECT_EQ(c->name, "chain-app");
  EXPECT_EQ(c->app_auth_contract_address, Addr(kApp));
  EXPECT_EQ(c->encrypted_env_pubkey, key->public_key_hex);

  // Again: the SDK's isAppIdConflictError.
  absl::Status again = client.CommitCvmProvision(commit).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_TRUE(IsAppIdConflict(again));
  EXPECT_TRUE(absl::StartsWith(again.message(), "commit cvm provision: HTTP 409 ERR-03-007: ")) << again;

  return {*CvmRef::Uuid(*c->vm_uuid), p->compose_hash, key->public_key, key->public_key_hex};
}

TEST(CloudClient, AuthAndKms) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  std::unique_ptr<CloudClient> client = Client(s);
  absl::StatusOr<CurrentUser> me = client->GetCurrentUser();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->username, "cloudsim");
  EXPECT_EQ(me->workspace_id, "ws_cloudsim");
  EXPECT_EQ(me->credits_balance, "100.00");

  ListKmsRequest onchain;
  onchain.is_onchain = true;
  absl::StatusOr<KmsList> list = client->ListKms(onchain);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->items.size(), 2u);
  for (const KmsInfo& k : list->items) {
    EXPECT_EQ(k.chain_id, 31337);
    EXPECT_EQ(k.kms_contract_address, Addr(kKms));
  }
  EXPECT_EQ(client->ListKms()->total, 3);
  absl::StatusOr<KmsInfo> base = client->GetKmsInfo("base");
  ASSERT_TRUE(base.ok()) << base.status();
  EXPECT_EQ(base->id, "kms-base-sim");
  EXPECT_EQ(base->Ref(), "base");

  // What went on the wire: the SDK's query string and headers.
  json::array log = Logged(s, "/api/v1/kms");
  ASSERT_GE(log.size(), 1u);
  EXPECT_EQ(log[0].at("query").as_string(), "is_onchain=true");
  EXPECT_EQ(log[0].at("headers").at("x-phala-version").as_string(), "2026-01-21");
  EXPECT_EQ(log[0].at("headers").at("accept").as_string(), "*/*");
  EXPECT_EQ(log[0].at("auth").as_string(), "valid");

  // Everything above went over one keep-alive connection.
  EXPECT_EQ(client->transport_stats().connections_opened, 1u);
  EXPECT_EQ(client->transport_stats().connections_reused, 3u);
}

TEST(CloudClient, ErrorsMapToStatusCodes) {
  SimInstance s(SimConfig{});
  std::unique_ptr<CloudClient> client = Client(s);
  absl::Status nf = client->GetKmsInfo("nope").status();
  EXPECT_EQ(nf.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(nf.message(), "get kms info: HTTP 404 ERR-02-011: KMS 'nope' not found");
  EXPECT_EQ(Info(nf).error_code, "ERR-02-011");

  ListKmsRequest big;
  big.page_size = 1000;
  absl::Status invalid = client->ListKms(big).status();
  EXPECT_EQ(invalid.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Info(invalid).field, "page_size");
  EXPECT_TRUE(absl::StrContains(invalid.message(), "HTTP 422: validation failed: page_size: ")) << invalid;

  absl::Status missing = client->GetCvmInfo(*CvmRef::AppId(std::string(40, 'e'))).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Info(missing).error_code, "ERR-03-001");

  // Refused before sending, as the SDK does.
  EXPECT_EQ(client->ProvisionCvm(Provision("bad--name", "PHALA")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GetAppEnvEncryptPubkey("base", "0x1234").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CloudClient, BadApiKeyIsUnauthenticatedAndNotRetried) {
  SimInstance s(SimConfig{});
  Events events;
  std::unique_ptr<CloudClient> client = Client(s, &events, "phak_wrong_key");
  absl::Status st = client->GetCurrentUser().status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(), "get current user: HTTP 401: Invalid API key");
  EXPECT_EQ(events.Take().size(), 1u);
}

TEST(CloudClient, OnchainDeployEnvAndComposeUpdates) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  std::unique_ptr<CloudClient> client = Client(s);
  Deployed d = DeployOnchain(*client, s, chain);

  // Reads.
  absl::StatusOr<CvmInfo> info = client->GetCvmInfo(d.ref);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->kms_type, "base");
  EXPECT_EQ(info->kms_info->dstack_app_address, Addr(kApp));
  EXPECT_EQ(info->kms_info->chain_id, 31337);
  EXPECT_EQ(info->compose_hash, d.compose_hash);
  EXPECT_EQ(client->GetCvmInfo(*CvmRef::AppId("0x" + Checksummed(kApp).substr(2)))->id, info->id);
  absl::StatusOr<AppCompose> compose = client->GetCvmComposeFile(d.ref);
  ASSERT_TRUE(compose.ok()) << compose.status();
  EXPECT_EQ(*ComposeHash(compose->ToJson(), ComposeHashForm::kIndented), wire::HexOf(d.compose_hash));
  json::value insp = s.Admin("GET", "/cvms/" + info->id).json();
  EXPECT_EQ(json::serialize(insp.at("env").at("values")), R"({"FOO":"1","BAR":"two=2"})");

  // Env update with the same keys: applied at once.
  UpdateCvmEnvsRequest envs;
  envs.encrypted_env = *EncryptEnvVars({{"FOO", "x"}}, d.pubkey_hex);
  envs.env_keys = std::vector<std::string>{"FOO", "BAR"};
  absl::StatusOr<UpdateResult> same = client->UpdateCvmEnvs(d.ref, envs);
  ASSERT_TRUE(same.ok()) << same.status();
  ASSERT_TRUE(std::holds_alternative<UpdateAccepted>(*same));
  EXPECT_EQ(std::get<UpdateAccepted>(*same).status, "in_progress");
  EXPECT_EQ(std::get<UpdateAccepted>(*same).allowed_envs_changed, false);

  // New keys: 465 comes back as a value.
  envs.encrypted_env = *EncryptEnvVars({{"NEW", "n"}}, d.pubkey_hex);
  envs.env_keys = std::vector<std::string>{"FOO", "BAR", "NEW"};
  absl::StatusOr<UpdateResult> pre = client->UpdateCvmEnvs(d.ref, envs);
  ASSERT_TRUE(pre.ok()) << pre.status();
  ASSERT_TRUE(std::holds_alternative<PreconditionRequired>(*pre));
  const PreconditionRequired p = std::get<PreconditionRequired>(*pre);
  EXPECT_EQ(p.error_code, "ERR-01-005");
  EXPECT_EQ(p.app_id, Addr(kApp));
  EXPECT_TRUE(p.device_id.has_value());
  EXPECT_EQ(p.kms_info.id, "kms-base-sim");
  EXPECT_NE(p.compose_hash, d.compose_hash);

  // A bad proof: the phase-2 failures are errors, not values.
  envs.compose_hash = p.compose_hash;
  envs.transaction_hash = Repeated('d');
  absl::Status bad = client->UpdateCvmEnvs(d.ref, envs).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Info(bad).http_status, 467);
  EXPECT_EQ(Info(bad).error_code, "ERR-01-007");

  // addComposeHash mined (faked), then the same call with the proof in the body.
  chain.AddComposeHashTx(std::string(64, 'a'), kApp, wire::HexOf(p.compose_hash));
  chain.AllowHash(kApp, wire::HexOf(p.compose_hash));
  envs.transaction_hash = Repeated('a');
  absl::StatusOr<UpdateResult> done = client->UpdateCvmEnvs(d.ref, envs);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(std::holds_alternative<UpdateAccepted>(*done));
  EXPECT_EQ(std::get<UpdateAccepted>(*done).allowed_envs_changed, true);
  EXPECT_EQ(client->GetCvmInfo(d.ref)->compose_hash, p.compose_hash);

  // Docker compose: 465, then the proof in the X- headers.
  UpdateDockerComposeRequest dc;
  dc.docker_compose_file = "services:\n  app:\n    image: nginx:1.27\n";
  absl::StatusOr<UpdateResult> dpre = client->UpdateDockerCompose(d.ref, dc);
  ASSERT_TRUE(dpre.ok()) << dpre.status();
  ASSERT_TRUE(std::holds_alternative<PreconditionRequired>(*dpre));
  const chain::Hash32 dh = std::get<PreconditionRequired>(*dpre).compose_hash;
  chain.AddComposeHashTx(std::string(64, 'e'), kApp, wire::HexOf(dh));
  chain.AllowHash(kApp, wire::HexOf(dh));
  dc.compose_hash = dh;
  dc.transaction_hash = Repeated('e');
  absl::StatusOr<UpdateResult> ddone = client->UpdateDockerCompose(d.ref, dc);
  ASSERT_TRUE(ddone.ok()) << ddone.status();
  ASSERT_TRUE(std::holds_alternative<UpdateAccepted>(*ddone));
  EXPECT_FALSE(std::get<UpdateAccepted>(*ddone).allowed_envs_changed.has_value());
  json::array dlog = Logged(s, "/api/v1/cvms/" + info->id + "/docker-compose");
  ASSERT_EQ(dlog.size(), 2u);
  EXPECT_EQ(dlog[1].at("headers").at("content-type").as_string(), "text/yaml");
  EXPECT_EQ(dlog[1].at("headers").at("x-compose-hash").as_string(), wire::HexOf(dh));
  EXPECT_EQ(dlog[1].at("headers").at("x-transaction-hash").as_string(), "0x" + std::string(64, 'e'));
  EXPECT_EQ(dlog[1].at("body").as_string(), dc.docker_compose_file);

  // The compose-file API: provision says whether the hash is registered, commit applies it.
  absl::StatusOr<AppCompose> current = client->GetCvmComposeFile(d.ref);
  ASSERT_TRUE(current.ok());
  ProvisionComposeFileUpdateRequest up;
  up.app_compose = *current;
  up.app_compose.public_logs = false;
  up.update_env_vars = false;
  absl::StatusOr<ComposeFileUpdateProvision> prov = client->ProvisionComposeFileUpdate(d.ref, up);
  ASSERT_TRUE(prov.ok()) << prov.status();
  EXPECT_FALSE(prov->compose_hash_registered);
  EXPECT_EQ(prov->app_id, Addr(kApp));
  EXPECT_EQ(prov->kms_info->slug, "base");
  EXPECT_EQ(*ComposeHash(up.app_compose.ToJson(), ComposeHashForm::kIndented), wire::HexOf(prov->compose_hash));
  CommitComposeFileUpdateRequest cc;
  cc.compose_hash = prov->compose_hash;
  cc.encrypted_env = *EncryptEnvVars({{"FOO", "cf"}}, d.pubkey_hex);
  absl::Status not_allowed = client->CommitComposeFileUpdate(d.ref, cc).status();
  EXPECT_EQ(Info(not_allowed).http_status, 468);
  chain.AllowHash(kApp, wire::HexOf(prov->compose_hash));
  absl::StatusOr<CommitComposeFileUpdateResponse> committed = client->CommitComposeFileUpdate(d.ref, cc);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_TRUE(committed->correlation_id.has_value());
  EXPECT_EQ(client->GetCvmInfo(d.ref)->public_logs, false);
  EXPECT_EQ(json::serialize(s.Admin("GET", "/cvms/" + info->id).json().at("env").at("values")), R"({"FOO":"cf"})");
}

TEST(CloudClient, PubkeySignatureFromAnotherKmsIsRefused) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  std::unique_ptr<CloudClient> client = Client(s);
  PubkeyVerification verify;
  verify.trusted_signer = SimKmsSigner(s, "kms-ethereum-sim");  // not the base KMS's key
  absl::Status st = client->GetAppEnvEncryptPubkey("base", kApp, verify).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  // Without a trusted key: the signer is recovered and returned for the caller to check.
  absl::StatusOr<AppEnvEncryptPubkey> k = client->GetAppEnvEncryptPubkey("base", kApp);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_FALSE(k->verified);
  EXPECT_EQ(k->signer, SimKmsSigner(s, "kms-base-sim"));
}

// --- Retries -------------------------------------------------------------------------------------

TEST(CloudClientRetry, A503OnGetIsRetried) {
  SimInstance s(SimConfig{});
  Events events;
  std::unique_ptr<CloudClient> client = Client(s, &events);
  AddFault(s, R"({"kind":"error","status":503,"path_prefix":"/auth/me","times":1})");
  ASSERT_TRUE(client->GetCurrentUser().ok());
  std::vector<CallEvent> ev = events.Take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].http_status, 503);
  EXPECT_TRUE(ev[0].retry_in.has_value());
  EXPECT_EQ(ev[1].http_status, 200);
  EXPECT_EQ(ev[1].attempt, 2);

  // A 502 on a GET too; a 500 on a POST is not retried.
  AddFault(s, R"({"kind":"error","status":502,"path_prefix":"/kms","times":1})");
  ASSERT_TRUE(client->ListKms().ok());
  EXPECT_EQ(events.Take().size(), 2u);
  AddFault(s, R"({"kind":"error","status":500,"path_prefix":"/cvms/provision","times":1})");
  absl::Status st = client->ProvisionCvm(Provision("five-hundred", "PHALA")).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(events.Take().size(), 1u);
}

TEST(CloudClientRetry, RateLimitedPostWaitsForRetryAfter) {
  SimInstance s(SimConfig{});
  Events events;
  std::unique_ptr<CloudClient> client = Client(s, &events);
  AddFault(s, R"({"kind":"rate_limit","retry_after":1,"path_prefix":"/cvms/provision","method":"POST","times":1})");
  absl::StatusOr<ProvisionCvmResponse> p = client->ProvisionCvm(Provision("limited-app", "PHALA"));
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<CallEvent> ev = events.Take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].http_status, 429);
  ASSERT_TRUE(ev[0].retry_in.has_value());
  EXPECT_GE(*ev[0].retry_in, absl::Seconds(1));
  // The second attempt started no earlier than Retry-After after the first one's answer.
  EXPECT_GE(ev[1].started - (ev[0].started + ev[0].elapsed), absl::Seconds(1));
  EXPECT_EQ(ev[1].http_status, 200);
  EXPECT_EQ(Logged(s, "/api/v1/cvms/provision").size(), 2u);

  // A 503 on a PATCH (not processed) is retried as well.
  AddFault(s, R"({"kind":"error","status":503,"path_prefix":"/cvms/","method":"PATCH","times":1})");
  UpdateCvmEnvsRequest envs;
  envs.encrypted_env = "00";
  absl::Status nf = client->UpdateCvmEnvs(CvmRef::Id("no-such-cvm"), envs).status();
  EXPECT_EQ(nf.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(events.Take().size(), 2u);
}

TEST(CloudClientRetry, RetryAfterBeyondTheCapEndsTheCall) {
  SimInstance s(SimConfig{});
  Events events;
  CloudClientOptions o = Options(s.port(), SimInstance::kApiKey, &events);
  o.retry.max_retry_after = absl::Seconds(2);
  std::unique_ptr<CloudClient> client = *CloudClient::Create(std::move(o));
  AddFault(s, R"({"kind":"rate_limit","retry_after":3600,"path_prefix":"/auth/me","times":1})");
  absl::Status st = client->GetCurrentUser().status();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Info(st).retry_after, absl::Hours(1));
  EXPECT_TRUE(absl::StrContains(st.message(), "(retry after 1h)")) << st;
  EXPECT_EQ(events.Take().size(), 1u);
}

TEST(CloudClientRetry, DroppedConnectionRetriesAGetButNotAPost) {
  SimInstance s(SimConfig{});
  Events events;
  std::unique_ptr<CloudClient> client = Client(s, &events);
  ASSERT_TRUE(client->GetCurrentUser().ok());  // a pooled keep-alive connection now exists
  events.Take();

  AddFault(s, R"({"kind":"drop","path_prefix":"/kms","method":"GET","times":1})");
  ASSERT_TRUE(client->ListKms().ok());
  std::vector<CallEvent> ev = events.Take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].http_status, 0);
  EXPECT_EQ(ev[0].error.code(), absl::StatusCode::kUnavailable);

  AddFault(s, R"({"kind":"drop","path_prefix":"/cvms/provision","method":"POST","times":1})");
  absl::Status st = client->ProvisionCvm(Provision("dropped-app", "PHALA")).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(st.message(), "may have been applied")) << st;
  EXPECT_EQ(events.Take().size(), 1u);
  json::array log = Logged(s, "/api/v1/cvms/provision");
  ASSERT_EQ(log.size(), 1u);  // the server saw it exactly once
  EXPECT_EQ(log[0].at("status").as_int64(), 0);

  // The client recovers on a fresh connection.
  EXPECT_TRUE(client->GetCurrentUser().ok());
}

TEST(CloudClientRetry, ConnectFailureIsRetriedForAnyMethodThenReported) {
  uint16_t dead_port;
  {
    SimInstance s(SimConfig{});
    dead_port = s.port();
  }  // nothing listens there any more
  Events events;
  CloudClientOptions o = Options(dead_port, "phak_k", &events);
  o.retry.max_attempts = 3;
  std::unique_ptr<CloudClient> client = *CloudClient::Create(std::move(o));
  absl::Status st = client->ProvisionCvm(Provision("nowhere-app", "PHALA")).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(st.message(), "connect failed")) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "(after 3 attempts)")) << st;
  EXPECT_FALSE(absl::StrContains(st.message(), "may have been applied"));
  EXPECT_EQ(events.Take().size(), 3u);
}

// --- Secrets ------------------------------------------------------------------------------------

TEST(CloudClientSecrets, TheApiKeyNeverAppearsInErrorsOrEvents) {
  const std::string key = "phak_Sup3rSecretKeyValue";
  // A hostile server that echoes the key it received in every kind of answer.
  auto handler = [](const cloudsim::HttpRequest& req) {
    const std::string* k = req.Header("x-api-key");
    const std::string echoed = k ? *k : "";
    cloudsim::HttpResponse r;
    if (absl::EndsWith(req.path, "/auth/me")) {
      r.status = 401;
      r.body = absl::StrCat(R"({"detail":"Invalid API key )", echoed, R"("})");
    } else if (absl::EndsWith(req.path, "/kms")) {
      r.status = 500;
      r.content_type = "text/plain";
      r.body = "internal error while checking key=" + echoed;
    } else if (absl::StrContains(req.path, "/pubkey/")) {
      r.status = 422;
      r.body = absl::StrCat(R"({"detail":[{"loc":["header",")", echoed, R"("],"msg":"bad )", echoed, R"("}]})");
    } else if (absl::EndsWith(req.path, "/envs")) {
      r.status = 465;
      r.body =
          absl::StrCat(R"({"detail":{"error_code":"ERR-01-005","message":"register, )", echoed,
                       R"(","details":[{"field":"compose_hash","value":")", std::string(64, 'a'), R"("},)",
                       R"({"field":"app_id","value":")", std::string(40, '1'),
                       R"("},)"
                       R"({"field":"kms_info","value":{"id":"k","slug":null,"url":"u","version":"v","chain_id":null,)"
                       R"("kms_contract_address":null,"gateway_app_id":null}}]}})");
    } else {
      r.status = 409;
      r.body = absl::StrCat(R"({"detail":{"error_code":")", echoed, R"(","message":")", echoed, R"("}})");
    }
    return r;
  };
  absl::StatusOr<std::unique_ptr<cloudsim::HttpServer>> server =
      cloudsim::HttpServer::Start(cloudsim::ServerOptions{}, handler);
  ASSERT_TRUE(server.ok()) << server.status();
  Events events;
  std::unique_ptr<CloudClient> client = *CloudClient::Create(Options((*server)->port(), key, &events));

  std::vector<absl::Status> errors = {
      client->GetCurrentUser().status(),
      client->ListKms().status(),
      client->GetAppEnvEncryptPubkey("base", kApp).status(),
      client->GetKmsInfo("x").status(),
  };
  for (const absl::Status& st : errors) {
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(absl::StrContains(st.message(), key)) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), "[REDACTED]")) << st;
    ApiErrorInfo info = Info(st);
    EXPECT_FALSE(absl::StrContains(info.error_code, key));
    EXPECT_FALSE(absl::StrContains(info.field, key));
    st.ForEachPayload([&](absl::string_view, const absl::Cord& payload) {
      EXPECT_FALSE(absl::StrContains(std::string(payload), key));
    });
  }
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(errors[1].code(), absl::StatusCode::kInternal);

  UpdateCvmEnvsRequest envs;
  envs.encrypted_env = "00";
  absl::StatusOr<UpdateResult> pre = client->UpdateCvmEnvs(CvmRef::Id("x"), envs);
  ASSERT_TRUE(pre.ok()) << pre.status();
  ASSERT_TRUE(std::holds_alternative<PreconditionRequired>(*pre));
  EXPECT_EQ(std::get<PreconditionRequired>(*pre).message, "register, [REDACTED]");

  for (const CallEvent& e : events.Take()) {
    EXPECT_FALSE(absl::StrContains(e.error.message(), key));
    EXPECT_FALSE(absl::StrContains(e.path, key));
  }
  (*server)->Stop();
}

// --- Configuration and concurrency --------------------------------------------------------------

TEST(CloudClientConfig, PlainHttpOnlyForLoopbackAndAKeyIsRequired) {
  CloudClientOptions o;
  o.api_key = *ApiKey::FromString("phak_k");
  o.base_url = "http://cloud-api.example.com/api/v1";
  CloudClientOptions plain;
  plain.api_key = o.api_key.Clone();
  plain.base_url = o.base_url;
  EXPECT_EQ(CloudClient::Create(std::move(plain)).status().code(), absl::StatusCode::kInvalidArgument);
  CloudClientOptions insecure;
  insecure.api_key = o.api_key.Clone();
  insecure.base_url = o.base_url;
  insecure.allow_insecure_http = true;
  EXPECT_TRUE(CloudClient::Create(std::move(insecure)).ok());
  for (const char* url :
       {"http://localhost:1/api/v1", "http://127.0.0.2/x", "http://[::1]:8/", "https://cloud-api.phala.com/api/v1"}) {
    CloudClientOptions c;
    c.api_key = o.api_key.Clone();
    c.base_url = url;
    absl::StatusOr<std::unique_ptr<CloudClient>> client = CloudClient::Create(std::move(c));
    EXPECT_TRUE(client.ok()) << url << " " << client.status();
  }
  for (const char* url : {"ftp://x/", "https://user:pw@host/", "https://host/?k=v", "not a url"}) {
    CloudClientOptions c;
    c.api_key = o.api_key.Clone();
    c.base_url = url;
    EXPECT_EQ(CloudClient::Create(std::move(c)).status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
  CloudClientOptions no_key;
  no_key.base_url = "https://cloud-api.phala.com/api/v1";
  EXPECT_EQ(CloudClient::Create(std::move(no_key)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CloudClientConfig, FromTheSdkEnvironmentVariables) {
  SimInstance s(SimConfig{});
  unsetenv("PHALA_CLOUD_API_KEY_FILE");
  setenv("PHALA_CLOUD_API_KEY", SimInstance::kApiKey, 1);
  setenv("PHALA_CLOUD_API_PREFIX", absl::StrCat("http://127.0.0.1:", s.port(), "/api/v1/").c_str(), 1);
  absl::StatusOr<CloudClientOptions> o = CloudClientOptions::FromEnvironment();
  ASSERT_TRUE(o.ok()) << o.status();
  std::unique_ptr<CloudClient> client = *CloudClient::Create(std::move(*o));
  EXPECT_TRUE(client->GetCurrentUser().ok());
  // The key is read once and removed from the environment (no child or /proc reader sees it).
  EXPECT_EQ(getenv("PHALA_CLOUD_API_KEY"), nullptr);
  unsetenv("PHALA_CLOUD_API_PREFIX");
  setenv("PHALA_CLOUD_API_KEY", SimInstance::kApiKey, 1);
  absl::StatusOr<CloudClientOptions> d = CloudClientOptions::FromEnvironment();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->base_url, "https://cloud-api.phala.com/api/v1");
  EXPECT_EQ(CloudClientOptions::FromEnvironment().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CloudClientConcurrency, OneClientManyThreads) {
  SimInstance s(SimConfig{});
  std::unique_ptr<CloudClient> client = Client(s);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (client->GetCurrentUser().ok() && client->GetKmsInfo("phala").ok()) ok++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  platform::http::Client::Stats st = client->transport_stats();
  EXPECT_EQ(st.requests, 40u);
  EXPECT_LE(st.connections_opened, 8u);  // pooled, not one per request
}

}  // namespace
}  // namespace cloudapi
