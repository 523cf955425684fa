// The command table. Each command is one function below: its words, arguments, help texts and
// flags, whether it starts an operation, its request builder and its runner.
#include "orchestrator/kmsctl/commands.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "orchestrator/kmsctl/exit_codes.h"
#include "orchestrator/kmsctl/flag_reader.h"
#include "orchestrator/kmsctl/invocation.h"
#include "orchestrator/kmsctl/output.h"
#include "orchestrator/kmsctl/runner.h"

namespace kmsctl {
namespace {

std::vector<FlagSpec> MutatingFlags() {
  return {
      {"request-id", FlagType::kString, "ID",
       "idempotency key, 1-128 of [A-Za-z0-9._:-] (default: a fresh UUID, printed on stderr); "
       "retrying with the same id never starts a second operation"},
      {"no-wait", FlagType::kBool, "", "return as soon as the operation is accepted"},
      {"timeout", FlagType::kDuration, "DURATION",
       "stop following the operation after this long (exit 12; it goes on)"},
  };
}

std::vector<FlagSpec> WaitRunningFlag() {
  return {{"wait-running", FlagType::kOptionalDuration, "[=DURATION]",
           "end only when the CVM reports running with the new compose hash (step wait_running; "
           "default at most 10m, at most 24h)"}};
}

// --wait-running[=DURATION] into the request's ReadinessWait (left unset without the flag).
template <typename Request>
void ReadWaitRunning(FlagReader& r, Request* request) {
  if (!r.Has("wait-running")) return;
  v1::ReadinessWait* wait = request->mutable_wait_until_running();
  wait->set_enabled(true);
  const std::string text = r.Str("wait-running");
  absl::Duration d;
  if (!text.empty() && absl::ParseDuration(text, &d)) {
    const int64_t nanos = absl::ToInt64Nanoseconds(d);
    wait->mutable_timeout()->set_seconds(nanos / 1000000000);
    wait->mutable_timeout()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
}

std::vector<FlagSpec> EnvFileFlag(const std::string& what) {
  return {{"env-file", FlagType::kString, "FILE",
           what + " from a .env file (KEY=VALUE lines, as the Phala Cloud SDK parses them); '-' reads "
                  "standard input"}};
}

std::vector<FlagSpec> SignerKeyFlag() {
  return {{"signer-key", FlagType::kString, "ADDRESS",
           "signer key that sends the on-chain transaction (default: the orchestrator's)"}};
}

std::vector<FlagSpec> ComposeFlags() {
  return {
      {"compose", FlagType::kString, "FILE", "docker-compose YAML file ('-' = standard input)"},
      {"pre-launch-script", FlagType::kString, "FILE", "shell script run before the containers start"},
      {"app-name", FlagType::kString, "NAME", "app name inside the compose (deploy default: --name)"},
      {"allowed-env", FlagType::kList, "KEY,...", "env var names the CVM accepts (repeatable)"},
      {"kms-enabled", FlagType::kBool, "[=false]", "keys derived by the KMS (API default true)"},
      {"gateway-enabled", FlagType::kBool, "[=false]", "expose the app through the dstack gateway (API default true)"},
      {"public-logs", FlagType::kBool, "[=false]", "make container logs public"},
      {"public-sysinfo", FlagType::kBool, "[=false]", "make system information public"},
      {"public-tcbinfo", FlagType::kBool, "[=false]", "make the TCB info public"},
      {"local-key-provider", FlagType::kBool, "[=false]", "use a local key provider instead of the KMS"},
      {"key-provider-id", FlagType::kString, "ID", "key provider id (with --local-key-provider)"},
      {"no-instance-id", FlagType::kBool, "[=false]", "do not bind the app's keys to the instance id"},
      {"secure-time", FlagType::kBool, "[=false]", "require a secure time source before start"},
      {"storage-fs", FlagType::kString, "ext4|zfs", "file system of the data disk"},
      {"feature", FlagType::kList, "NAME,...", "legacy feature flags (manifest version 1; repeatable)"},
      {"manifest-version", FlagType::kUint, "N", "app-compose manifest version (API default 2)"},
      {"runner", FlagType::kString, "NAME", "runner (default docker-compose)"},
  };
}

template <typename... Lists>
std::vector<FlagSpec> Concat(Lists... lists) {
  std::vector<FlagSpec> out;
  (out.insert(out.end(), lists.begin(), lists.end()), ...);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the builders

void ReadCompose(FlagReader& r, v1::AppCompose* c) {
  if (auto v = r.File("compose")) c->set_docker_compose_file(*v);
  if (auto v = r.File("pre-launch-script")) c->set_pre_launch_script(*v);
  if (r.Has("app-name")) c->set_name(r.Str("app-name"));
  for (const std::string& k : r.List("allowed-env")) c->add_allowed_envs(k);
  if (auto v = r.Bool("kms-enabled")) c->set_kms_enabled(*v);
  if (auto v = r.Bool("gateway-enabled")) c->set_gateway_enabled(*v);
  if (auto v = r.Bool("public-logs")) c->set_public_logs(*v);
  if (auto v = r.Bool("public-sysinfo")) c->set_public_sysinfo(*v);
  if (auto v = r.Bool("public-tcbinfo")) c->set_public_tcbinfo(*v);
  if (auto v = r.Bool("local-key-provider")) c->set_local_key_provider_enabled(*v);
  if (r.Has("key-provider-id")) c->set_key_provider_id(r.Str("key-provider-id"));
  if (auto v = r.Bool("no-instance-id")) c->set_no_instance_id(*v);
  if (auto v = r.Bool("secure-time")) c->set_secure_time(*v);
  if (r.Has("storage-fs")) {
    auto fs = r.Enum<v1::StorageFs>("storage-fs", v1::StorageFs_descriptor(), "STORAGE_FS_");
    if (fs.has_value()) c->set_storage_fs(*fs);
  }
  for (const std::string& f : r.List("feature")) c->add_features(f);
  if (auto v = r.Uint("manifest-version", UINT32_MAX)) c->set_manifest_version(static_cast<uint32_t>(*v));
  if (r.Has("runner")) c->set_runner(r.Str("runner"));
}

std::optional<v1::KmsType> KmsTypeFlag(FlagReader& r, const std::string& name) {
  return r.Enum<v1::KmsType>(name, v1::KmsType_descriptor(), "KMS_TYPE_");
}

// The env vars of --env-file, kept in the invocation (to answer WAITING_FOR_INPUT) and set on
// the request.
template <typename Request>
void ReadEnvFile(FlagReader& r, Invocation* inv, Request* request) {
  inv->env_vars = r.EnvFile("env-file");
  if (!inv->env_vars.has_value()) return;
  for (const v1::EnvVar& v : *inv->env_vars) *request->add_env_vars() = v;
}

using S = v1::Orchestrator::StubInterface;

// ---------------------------------------------------------------------------------------------
// kms list

void BuildKmsList(FlagReader& r, Invocation* inv) {
  if (r.Has("type")) {
    if (auto t = KmsTypeFlag(r, "type")) inv->kms_list.set_kms_type(*t);
  }
  if (auto v = r.Uint("chain-id")) inv->kms_list.set_chain_id(*v);
  inv->kms_list.set_onchain_only(r.Flag("onchain"));
}

int RunKmsList(Session& s) {
  v1::ListKmsInstancesResponse response;
  grpc::Status status = s.Unary(&S::ListKmsInstances, s.invocation().kms_list, &response);
  if (!status.ok()) return s.Fail(status, "listing KMS instances");
  s.Print(response, FormatKmsList(response));
  return kExitOk;
}

CommandSpec KmsListCommand() {
  return {.words = {"kms", "list"},
          .summary = "list the KMS instances the Phala Cloud account can use",
          .usage = "[--type=TYPE] [--chain-id=N] [--onchain]",
          .description =
              "Lists the KMS instances (all pages of the API's GET /kms), filtered; the filters combine\n"
              "with AND. TYPE is the kind of KMS as the orchestrator's config maps chains to it.",
          .flags =
              {
                  {"type", FlagType::kString, "phala|ethereum|base", "only this KMS type"},
                  {"chain-id", FlagType::kUint, "N", "only this chain id"},
                  {"onchain", FlagType::kBool, "", "only on-chain KMS instances"},
              },
          .build = &BuildKmsList,
          .run = &RunKmsList};
}

// ---------------------------------------------------------------------------------------------
// deploy

void BuildDeploy(FlagReader& r, Invocation* inv) {
  r.Require({"name", "compose", "kms"});
  if (r.error()) return;
  v1::DeployCvmRequest& d = inv->deploy;
  d.set_name(r.Str("name"));
  if (auto t = KmsTypeFlag(r, "kms")) d.set_kms_type(*t);
  d.set_kms_id(r.Str("kms-id"));
  d.set_kms_contract_address(r.Str("kms-contract"));
  d.set_instance_type(r.Str("instance-type"));
  if (auto v = r.Uint("vcpu", UINT32_MAX)) d.set_vcpu(static_cast<uint32_t>(*v));
  if (auto v = r.Uint("memory-mb", UINT32_MAX)) d.set_memory_mb(static_cast<uint32_t>(*v));
  if (auto v = r.Uint("disk-size-gb", UINT32_MAX)) d.set_disk_size_gb(static_cast<uint32_t>(*v));
  d.set_image(r.Str("image"));
  if (auto v = r.Uint("node-id")) d.set_node_id(*v);
  d.set_region(r.Str("region"));
  if (auto v = r.Bool("listed")) d.set_listed(*v);
  ReadCompose(r, d.mutable_compose());
  d.set_signer_key_address(r.Str("signer-key"));
  d.set_app_owner_address(r.Str("app-owner"));
  d.set_device_id(r.Str("device-id"));
  d.set_allow_any_device(r.Flag("allow-any-device"));
  d.set_disable_upgrades(r.Flag("disable-upgrades"));
  if (auto v = r.Bool("require-tcb-up-to-date")) d.set_require_tcb_up_to_date(*v);
  if (auto v = r.Uint("nonce")) d.set_nonce(*v);
  d.set_app_id(r.Str("app-id"));
  ReadWaitRunning(r, &d);
  if (r.Has("env-file")) ReadEnvFile(r, inv, &d);
  d.set_request_id(inv->request_id);
}

int RunDeploy(Session& s) { return s.Start(&S::DeployCvm, s.invocation().deploy, "deploy"); }

CommandSpec DeployCommand() {
  return {
      .words = {"deploy"},
      .summary = "deploy a new CVM (on an on-chain KMS: with its AppAuth contract)",
      .usage = "--name=NAME --compose=FILE --kms=TYPE [--env-file=FILE|-] [flags]",
      .description =
          "Starts a DEPLOY_CVM operation and follows it: provision, deploy the app's AppAuth\n"
          "contract through the KMS factory (on-chain KMS, signed by the signer), fetch the app's\n"
          "env-encryption key, encrypt the env vars, commit. Env values are encrypted to the app's\n"
          "key inside the orchestrator and are never printed.",
      .flags = Concat(
          std::vector<FlagSpec>{
              {"name", FlagType::kString, "NAME",
               "CVM name: 5-63 characters, a letter first, letters/digits/hyphens (required)"},
              {"kms", FlagType::kString, "phala|ethereum|base", "KMS type (required)"},
              {"kms-id", FlagType::kString, "ID", "a specific KMS instance (see 'kmsctl kms list')"},
              {"kms-contract", FlagType::kString, "ADDRESS", "the DstackKms contract to use"},
              {"instance-type", FlagType::kString, "TYPE", "e.g. tdx.small (the API's default)"},
              {"vcpu", FlagType::kUint, "N", "vCPUs (default: from the instance type)"},
              {"memory-mb", FlagType::kUint, "N", "memory in MB (default: from the instance type)"},
              {"disk-size-gb", FlagType::kUint, "N", "data disk size in GB"},
              {"image", FlagType::kString, "NAME", "OS image, e.g. dstack-0.5.3"},
              {"node-id", FlagType::kUint, "N", "node (TEE host) to place the CVM on"},
              {"region", FlagType::kString, "REGION", "region preference, e.g. us-west"},
              {"listed", FlagType::kBool, "[=false]", "list the CVM publicly"},
          },
          EnvFileFlag("env vars"), ComposeFlags(), SignerKeyFlag(),
          std::vector<FlagSpec>{
              {"app-owner", FlagType::kString, "ADDRESS", "owner of the AppAuth contract (default: the signer key)"},
              {"device-id", FlagType::kString, "HEX32",
               "device id allowed by the contract (default: the provisioned one)"},
              {"allow-any-device", FlagType::kBool, "", "let the app boot on any device"},
              {"disable-upgrades", FlagType::kBool, "", "make the AppAuth contract non-upgradeable"},
              {"require-tcb-up-to-date", FlagType::kBool, "[=false]",
               "set requireTcbUpToDate (uses the factory's 6-argument overload)"},
              {"nonce", FlagType::kUint, "N", "PHALA KMS: the API's nonce, for a deterministic app id"},
              {"app-id", FlagType::kString, "HEX20", "PHALA KMS: the app id matching --nonce"},
          },
          WaitRunningFlag(), MutatingFlags()),
      .mutating = true,
      .build = &BuildDeploy,
      .run = &RunDeploy};
}

// ---------------------------------------------------------------------------------------------
// envs update

void BuildEnvsUpdate(FlagReader& r, Invocation* inv) {
  r.Require({"env-file"});
  if (r.error()) return;
  v1::UpdateEnvVarsRequest& u = inv->envs_update;
  u.set_cvm_id(r.Arg(0));
  ReadEnvFile(r, inv, &u);
  u.set_signer_key_address(r.Str("signer-key"));
  ReadWaitRunning(r, &u);
  u.set_request_id(inv->request_id);
}

int RunEnvsUpdate(Session& s) { return s.Start(&S::UpdateEnvVars, s.invocation().envs_update, "env update"); }

CommandSpec EnvsUpdateCommand() {
  return {
      .words = {"envs", "update"},
      .args = "CVM",
      .min_args = 1,
      .max_args = 1,
      .summary = "replace a CVM's env vars",
      .usage = "CVM --env-file=FILE|- [--signer-key=ADDRESS]",
      .description =
          "Starts an UPDATE_ENV_VARS operation and follows it. The file holds the complete new set\n"
          "(use /dev/null to remove them all). Same keys: one call. Changed keys: the compose hash\n"
          "changes, so on an on-chain KMS it is registered on chain first (two-phase). CVM is the\n"
          "CVM id, app id, instance id or name.",
      .flags = Concat(EnvFileFlag("the new env vars (required)"), SignerKeyFlag(), WaitRunningFlag(), MutatingFlags()),
      .mutating = true,
      .build = &BuildEnvsUpdate,
      .run = &RunEnvsUpdate};
}

// ---------------------------------------------------------------------------------------------
// compose update

void BuildComposeUpdate(FlagReader& r, Invocation* inv) {
  r.Require({"compose"});
  if (r.error()) return;
  v1::UpdateDockerComposeRequest& u = inv->compose_update;
  u.set_cvm_id(r.Arg(0));
  if (auto v = r.File("compose")) u.set_docker_compose_file(*v);
  u.set_signer_key_address(r.Str("signer-key"));
  ReadWaitRunning(r, &u);
  u.set_request_id(inv->request_id);
}

int RunComposeUpdate(Session& s) {
  return s.Start(&S::UpdateDockerCompose, s.invocation().compose_update, "docker-compose update");
}

CommandSpec ComposeUpdateCommand() {
  return {.words = {"compose", "update"},
          .args = "CVM",
          .min_args = 1,
          .max_args = 1,
          .summary = "replace a CVM's docker-compose file",
          .usage = "CVM --compose=FILE|- [--signer-key=ADDRESS]",
          .description =
              "Starts an UPDATE_DOCKER_COMPOSE operation and follows it; on an on-chain KMS the new\n"
              "compose hash is registered on chain first (two-phase).",
          .flags = Concat(std::vector<FlagSpec>{{"compose", FlagType::kString, "FILE",
                                                 "the new docker-compose YAML ('-' = standard input; required)"}},
                          SignerKeyFlag(), WaitRunningFlag(), MutatingFlags()),
          .mutating = true,
          .build = &BuildComposeUpdate,
          .run = &RunComposeUpdate};
}

// ---------------------------------------------------------------------------------------------
// compose-file update

void BuildComposeFileUpdate(FlagReader& r, Invocation* inv) {
  v1::UpdateComposeFileRequest& u = inv->compose_file_update;
  u.set_cvm_id(r.Arg(0));
  ReadCompose(r, u.mutable_compose());
  for (const std::string& field : r.List("update-mask")) {
    if (v1::AppCompose::descriptor()->FindFieldByName(field) == nullptr) {
      r.Fail(Usage(absl::StrCat("--update-mask: '", field, "' is not a field of AppCompose")));
    }
    u.mutable_update_mask()->add_paths(field);
  }
  if (r.Has("env-file")) {
    u.set_update_env_vars(true);
    ReadEnvFile(r, inv, &u);
  }
  if (!r.error() && u.update_mask().paths().empty() && !u.update_env_vars() && u.compose().ByteSizeLong() == 0) {
    r.Fail(
        Usage("kmsctl compose-file update: nothing to change (give compose flags, --update-mask or "
              "--env-file)"));
  }
  u.set_signer_key_address(r.Str("signer-key"));
  ReadWaitRunning(r, &u);
  u.set_request_id(inv->request_id);
}

int RunComposeFileUpdate(Session& s) {
  return s.Start(&S::UpdateComposeFile, s.invocation().compose_file_update, "compose-file update");
}

CommandSpec ComposeFileUpdateCommand() {
  return {
      .words = {"compose-file", "update"},
      .args = "CVM",
      .min_args = 1,
      .max_args = 1,
      .summary = "change fields of a CVM's app compose (the compose-file API)",
      .usage = "CVM [compose flags] [--update-mask=FIELD,...] [--env-file=FILE|-]",
      .description =
          "Starts an UPDATE_COMPOSE_FILE operation and follows it: get the app compose, apply the\n"
          "changes, provision the update, register the new hash on chain unless it is already,\n"
          "commit. Without --update-mask, every compose flag given replaces its field; with it,\n"
          "exactly the listed AppCompose fields (proto names, e.g. docker_compose_file,\n"
          "allowed_envs) are replaced, and a listed field without a flag is cleared. --env-file also\n"
          "replaces the env vars in the same commit.",
      .flags = Concat(ComposeFlags(),
                      std::vector<FlagSpec>{
                          {"update-mask", FlagType::kList, "FIELD,...", "AppCompose fields to replace (repeatable)"}},
                      EnvFileFlag("also replace the env vars"), SignerKeyFlag(), WaitRunningFlag(), MutatingFlags()),
      .mutating = true,
      .build = &BuildComposeFileUpdate,
      .run = &RunComposeFileUpdate};
}

// ---------------------------------------------------------------------------------------------
// compose-hash add

void BuildComposeHashAdd(FlagReader& r, Invocation* inv) {
  v1::AddComposeHashRequest& a = inv->compose_hash_add;
  a.set_compose_hash(r.Arg(0));
  const bool by_cvm = r.Has("cvm");
  const bool by_app = r.Has("chain-id") || r.Has("app-contract");
  if (by_cvm == by_app) {
    r.Fail(Usage("kmsctl compose-hash add: give either --cvm or --chain-id with --app-contract"));
    return;
  }
  if (by_cvm) {
    a.set_cvm_id(r.Str("cvm"));
  } else {
    r.Require({"chain-id", "app-contract"});
    if (auto v = r.Uint("chain-id")) a.mutable_app()->set_chain_id(*v);
    a.mutable_app()->set_app_contract_address(r.Str("app-contract"));
  }
  a.set_signer_key_address(r.Str("signer-key"));
  a.set_request_id(inv->request_id);
}

int RunComposeHashAdd(Session& s) {
  return s.Start(&S::AddComposeHash, s.invocation().compose_hash_add, "compose-hash registration");
}

CommandSpec ComposeHashAddCommand() {
  return {.words = {"compose-hash", "add"},
          .args = "HASH",
          .min_args = 1,
          .max_args = 1,
          .summary = "allow a compose hash on an app's contract (addComposeHash)",
          .usage = "HASH (--cvm=CVM | --chain-id=N --app-contract=ADDRESS) [--signer-key=ADDRESS]",
          .description =
              "Starts an ADD_COMPOSE_HASH operation and follows it. If the hash is already allowed, the\n"
              "earlier registration is reported and nothing is sent. HASH is 64 hex digits, 0x optional.",
          .flags = Concat(
              std::vector<FlagSpec>{
                  {"cvm", FlagType::kString, "CVM", "the app of this CVM"},
                  {"chain-id", FlagType::kUint, "N", "chain of the app contract (with --app-contract)"},
                  {"app-contract", FlagType::kString, "ADDRESS", "the app's DstackApp contract"},
              },
              SignerKeyFlag(), MutatingFlags()),
          .mutating = true,
          .build = &BuildComposeHashAdd,
          .run = &RunComposeHashAdd};
}

// ---------------------------------------------------------------------------------------------
// app state | devices add|rm|allow-any | transfer-ownership | accept-ownership | disable-upgrades

std::vector<FlagSpec> AppTargetFlags() {
  return {
      {"cvm", FlagType::kString, "CVM", "the app of this CVM"},
      {"chain-id", FlagType::kUint, "N", "chain of the app contract (with --app-contract)"},
      {"app-contract", FlagType::kString, "ADDRESS", "the app's DstackApp contract"},
  };
}

std::vector<FlagSpec> YesFlag(const std::string& why) {
  return {{"yes", FlagType::kBool, "", "confirm: " + why + " (required)"}};
}

// --cvm, or --chain-id with --app-contract, into the request's `target`.
template <typename Request>
void ReadAppTarget(FlagReader& r, Request* request, const std::string& command) {
  const bool by_cvm = r.Has("cvm");
  const bool by_app = r.Has("chain-id") || r.Has("app-contract");
  if (by_cvm == by_app) {
    r.Fail(Usage(absl::StrCat("kmsctl ", command, ": give either --cvm or --chain-id with --app-contract")));
    return;
  }
  if (by_cvm) {
    request->set_cvm_id(r.Str("cvm"));
    return;
  }
  r.Require({"chain-id", "app-contract"});
  if (auto v = r.Uint("chain-id")) request->mutable_app()->set_chain_id(*v);
  request->mutable_app()->set_app_contract_address(r.Str("app-contract"));
}

// The one-way changes: refused before anything is sent unless --yes is given.
void RequireYes(FlagReader& r, const std::string& command, const std::string& what) {
  if (r.error() || r.Flag("yes")) return;
  r.Fail(Usage(
      absl::StrCat("kmsctl ", command, ": ", what, " cannot be undone; add --yes to confirm (nothing was sent)")));
}

// The part every app change shares: target, signer key, request id.
void ReadAppChange(FlagReader& r, Invocation* inv, const std::string& command) {
  v1::UpdateAppContractRequest& u = inv->app_change;
  ReadAppTarget(r, &u, command);
  u.set_signer_key_address(r.Str("signer-key"));
  u.set_request_id(inv->request_id);
}

void BuildAppState(FlagReader& r, Invocation* inv) {
  v1::GetAppStateRequest& g = inv->app_state;
  ReadAppTarget(r, &g, "app state");
  for (const std::string& d : r.List("device")) g.add_device_ids(d);
  for (const std::string& h : r.List("compose-hash")) g.add_compose_hashes(h);
}

int RunAppState(Session& s) {
  v1::AppState response;
  grpc::Status status = s.Unary(&S::GetAppState, s.invocation().app_state, &response);
  if (!status.ok()) return s.Fail(status, "reading the app's state");
  s.Print(response, FormatAppState(response));
  return kExitOk;
}

CommandSpec AppStateCommand() {
  return {.words = {"app", "state"},
          .summary = "show an app contract's governance state on chain",
          .usage = "(--cvm=CVM | --chain-id=N --app-contract=ADDRESS) [--device=HEX32,...] [--compose-hash=HEX32,...]",
          .description =
              "Reads the app's DstackApp contract at one block (GetAppState): owner and whether the signer\n"
              "holds its key, pending owner (two-step contracts), allow-any-device, requireTcbUpToDate,\n"
              "whether upgrades are disabled, version, implementation, and for each --device and\n"
              "--compose-hash whether it is allowed. Nothing is sent.",
          .flags = Concat(AppTargetFlags(),
                          std::vector<FlagSpec>{
                              {"device", FlagType::kList, "HEX32,...", "device ids to check (repeatable)"},
                              {"compose-hash", FlagType::kList, "HEX32,...", "compose hashes to check (repeatable)"},
                          }),
          .build = &BuildAppState,
          .run = &RunAppState};
}

int RunAppChange(Session& s) {
  return s.Start(&S::UpdateAppContract, s.invocation().app_change, "app contract change");
}

// DEVICE argument or --node.
template <typename Device>
void ReadDevice(FlagReader& r, Device* d, const std::string& command) {
  const bool by_id = !r.Arg(0).empty();
  if (by_id == r.Has("node")) {
    r.Fail(Usage(absl::StrCat("kmsctl ", command, ": give either a DEVICE id or --node")));
    return;
  }
  if (by_id) {
    d->set_device_id(r.Arg(0));
  } else if (auto v = r.Uint("node")) {
    d->set_node_id(*v);
  }
}

void BuildAppDevicesAdd(FlagReader& r, Invocation* inv) {
  ReadDevice(r, inv->app_change.mutable_add_device(), "app devices add");
  ReadAppChange(r, inv, "app devices add");
}

void BuildAppDevicesRm(FlagReader& r, Invocation* inv) {
  ReadDevice(r, inv->app_change.mutable_remove_device(), "app devices rm");
  ReadAppChange(r, inv, "app devices rm");
}

void BuildAppDevicesAllowAny(FlagReader& r, Invocation* inv) {
  const std::string v = r.Arg(0);
  if (v != "true" && v != "false") {
    r.Fail(Usage("kmsctl app devices allow-any: the argument is true or false"));
    return;
  }
  inv->app_change.mutable_set_allow_any_device()->set_allow_any_device(v == "true");
  ReadAppChange(r, inv, "app devices allow-any");
}

void BuildAppTransferOwnership(FlagReader& r, Invocation* inv) {
  r.Require({"new-owner"});
  RequireYes(r, "app transfer-ownership", "a transfer that took effect");
  if (r.error()) return;
  v1::TransferOwnership* t = inv->app_change.mutable_transfer_ownership();
  t->set_new_owner(r.Str("new-owner"));
  t->set_confirm(true);
  ReadAppChange(r, inv, "app transfer-ownership");
}

void BuildAppAcceptOwnership(FlagReader& r, Invocation* inv) {
  inv->app_change.mutable_accept_ownership();
  ReadAppChange(r, inv, "app accept-ownership");
}

void BuildAppDisableUpgrades(FlagReader& r, Invocation* inv) {
  RequireYes(r, "app disable-upgrades", "disabling upgrades");
  if (r.error()) return;
  inv->app_change.mutable_disable_upgrades()->set_confirm(true);
  ReadAppChange(r, inv, "app disable-upgrades");
}

// One UPDATE_APP_CONTRACT command; `extra` are its own flags.
CommandSpec AppChangeCommand(std::vector<std::string> words, std::string args, int max_args, std::string summary,
                             std::string usage, std::string description, std::vector<FlagSpec> extra,
                             void (*build)(FlagReader&, Invocation*)) {
  const int min_args = !args.empty() && args[0] == '[' ? 0 : max_args;  // "[DEVICE]": or --node
  return {.words = std::move(words),
          .args = std::move(args),
          .min_args = min_args,
          .max_args = max_args,
          .summary = std::move(summary),
          .usage = std::move(usage) + " (--cvm=CVM | --chain-id=N --app-contract=ADDRESS) [--signer-key=ADDRESS]",
          .description = std::move(description) +
                         "\nStarts an UPDATE_APP_CONTRACT operation and follows it; a change already in effect on\n"
                         "chain sends nothing. The transaction is sent from --signer-key (default: the\n"
                         "orchestrator's), which must be the contract's owner.",
          .flags = Concat(std::move(extra), AppTargetFlags(), SignerKeyFlag(), MutatingFlags()),
          .mutating = true,
          .build = build,
          .run = &RunAppChange};
}

std::vector<CommandSpec> AppChangeCommands() {
  const FlagSpec node{"node", FlagType::kUint, "N", "the device of this node (see ListNodes) instead of DEVICE"};
  return {
      AppChangeCommand({"app", "devices", "add"}, "[DEVICE]", 1, "allow the app on a TEE device (addDevice)",
                       "[DEVICE | --node=N]", "DEVICE is the device id, 64 hex digits, 0x optional.", {node},
                       &BuildAppDevicesAdd),
      AppChangeCommand({"app", "devices", "rm"}, "[DEVICE]", 1, "disallow a TEE device (removeDevice)",
                       "[DEVICE | --node=N]", "DEVICE is the device id, 64 hex digits, 0x optional.", {node},
                       &BuildAppDevicesRm),
      AppChangeCommand({"app", "devices", "allow-any"}, "true|false", 1,
                       "let the app boot on any device, or only on allowed ones (setAllowAnyDevice)", "true|false",
                       "true: any device; false: only the devices allowed by 'kmsctl app devices add'.", {},
                       &BuildAppDevicesAllowAny),
      AppChangeCommand(
          {"app", "transfer-ownership"}, "", 0, "hand the app contract to a new owner (transferOwnership)",
          "--new-owner=ADDRESS --yes",
          "On one-step contracts the new owner takes over at once and this cannot be undone from\n"
          "here; on two-step ones it becomes the pending owner until it accepts. The signer's\n"
          "policy refuses it unless a rule names the new owner.",
          Concat(std::vector<FlagSpec>{{"new-owner", FlagType::kString, "ADDRESS", "the new owner (required)"}},
                 YesFlag("the transfer cannot be undone by this key")),
          &BuildAppTransferOwnership),
      AppChangeCommand({"app", "accept-ownership"}, "", 0, "accept a pending ownership transfer (two-step contracts)",
                       "", "Sent from the pending owner, which must be --signer-key (or the default key).", {},
                       &BuildAppAcceptOwnership),
      AppChangeCommand({"app", "disable-upgrades"}, "", 0, "make the app contract non-upgradeable for good", "--yes",
                       "One-way: afterwards the contract's implementation can never be changed. The signer's\n"
                       "policy refuses it unless a rule names the app contract.",
                       YesFlag("it cannot be undone"), &BuildAppDisableUpgrades),
  };
}

// ---------------------------------------------------------------------------------------------
// adopt

void BuildAdopt(FlagReader& r, Invocation* inv) {
  v1::AdoptResourceRequest& a = inv->adopt;
  const int targets =
      (r.Has("cvm") ? 1 : 0) + (r.Has("chain-id") || r.Has("app-contract") ? 1 : 0) + (r.Has("phala-app-id") ? 1 : 0);
  if (targets != 1) {
    r.Fail(Usage("kmsctl adopt: give one of --cvm, --chain-id with --app-contract, or --phala-app-id"));
    return;
  }
  r.Require({"tenant"});
  if (r.Has("cvm")) {
    a.set_cvm_id(r.Str("cvm"));
  } else if (r.Has("phala-app-id")) {
    a.set_phala_app_id(r.Str("phala-app-id"));
  } else {
    r.Require({"chain-id", "app-contract"});
    if (auto v = r.Uint("chain-id")) a.mutable_app()->set_chain_id(*v);
    a.mutable_app()->set_app_contract_address(r.Str("app-contract"));
  }
  a.set_tenant(r.Str("tenant"));
}

std::string OwnerText(const v1::ResourceOwner& o) {
  return absl::StrCat(o.tenant().empty() ? "no tenant (admins only)" : absl::StrCat("tenant ", o.tenant()), " (",
                      o.source(), ")");
}

int RunAdopt(Session& s) {
  v1::AdoptResourceResponse response;
  grpc::Status status = s.Unary(&S::AdoptResource, s.invocation().adopt, &response);
  if (!status.ok()) return s.Fail(status, "adopting");
  s.Print(response,
          absl::StrCat(response.kind(), " ", response.resource(), ": now ", OwnerText(response.owner()), "; before: ",
                       response.has_previous_owner() ? OwnerText(response.previous_owner()) : "nobody", "\n"));
  return kExitOk;
}

CommandSpec AdoptCommand() {
  return {.words = {"adopt"},
          .summary = "admin: put a CVM or an app into a tenant's scope (or move it to another)",
          .usage = "(--cvm=CVM | --chain-id=N --app-contract=ADDRESS | --phala-app-id=ID) --tenant=NAME",
          .description =
              "Admins only (the orchestrator's access.admins). Updates and compose-hash registrations on a\n"
              "CVM or app are allowed to members of the tenant that owns it; a deploy's CVM and app belong\n"
              "to the deploying tenant, anything created elsewhere to nobody until adopted. A CVM and its\n"
              "app are separate: an update of a CVM whose app another tenant owns is refused, so adopt\n"
              "both. Prints the resource as ownership keeps it, its owner now and before. Repeating it\n"
              "is harmless.",
          .flags =
              {
                  {"cvm", FlagType::kString, "CVM", "a CVM, named as in the update commands"},
                  {"chain-id", FlagType::kUint, "N", "chain of the app contract (with --app-contract)"},
                  {"app-contract", FlagType::kString, "ADDRESS", "an app's DstackApp contract (on-chain KMS)"},
                  {"phala-app-id", FlagType::kString, "ID", "an app id on the PHALA KMS (40 hex)"},
                  {"tenant", FlagType::kString, "NAME", "the tenant that owns it from now on (access.tenants)"},
              },
          .build = &BuildAdopt,
          .run = &RunAdopt};
}

// ---------------------------------------------------------------------------------------------
// ops list

void BuildOpsList(FlagReader& r, Invocation* inv) {
  v1::ListOperationsRequest& l = inv->ops_list;
  if (r.Has("kind")) {
    auto k = r.Enum<v1::OperationKind>("kind", v1::OperationKind_descriptor(), "OPERATION_KIND_");
    if (k.has_value()) l.set_kind(*k);
  }
  if (r.Has("state")) {
    auto st = r.Enum<v1::OperationState>("state", v1::OperationState_descriptor(), "OPERATION_STATE_");
    if (st.has_value()) l.set_state(*st);
  }
  l.set_cvm_id(r.Str("cvm"));
  if (auto v = r.Uint("page-size", UINT32_MAX)) l.set_page_size(static_cast<uint32_t>(*v));
  l.set_page_token(r.Str("page-token"));
  inv->ops_list_all = r.Flag("all");
  if (inv->ops_list_all && r.Has("page-token")) r.Fail(Usage("--all and --page-token exclude each other"));
}

// One page, or with `all` every page merged into `*out`; `items` gives a response's repeated field.
template <typename Request, typename Response, typename Items>
grpc::Status ListPages(Session& s, Session::template Method<Request, Response> method, Request request, bool all,
                       Items items, Response* out) {
  for (;;) {
    Response page;
    grpc::Status status = s.Unary(method, request, &page);
    if (!status.ok()) return status;
    for (auto& item : *items(page)) *items(*out)->Add() = std::move(item);
    out->set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty()) return status;
    request.set_page_token(page.next_page_token());
  }
}

int RunOpsList(Session& s) {
  v1::ListOperationsResponse all;
  grpc::Status status = ListPages(
      s, &S::ListOperations, s.invocation().ops_list, s.invocation().ops_list_all,
      [](v1::ListOperationsResponse& r) { return r.mutable_operations(); }, &all);
  if (!status.ok()) return s.Fail(status, "listing operations");
  s.Print(all, FormatOperationList(all));
  return kExitOk;
}

CommandSpec OpsListCommand() {
  return {.words = {"ops", "list"},
          .summary = "list operations, newest first",
          .usage = "[--kind=KIND] [--state=STATE] [--cvm=CVM] [--page-size=N] [--page-token=T | --all]",
          .description =
              "KIND: deploy-cvm, update-env-vars, update-docker-compose, update-compose-file,\n"
              "add-compose-hash. STATE: pending, running, waiting-for-input, waiting-for-owner,\n"
              "succeeded, failed, cancelled.",
          .flags =
              {
                  {"kind", FlagType::kString, "KIND", "only this kind"},
                  {"state", FlagType::kString, "STATE", "only this state"},
                  {"cvm", FlagType::kString, "CVM", "only operations on this CVM id"},
                  {"page-size", FlagType::kUint, "N", "operations per page (default 50, at most 500)"},
                  {"page-token", FlagType::kString, "TOKEN", "the next page of an earlier listing"},
                  {"all", FlagType::kBool, "", "fetch every page"},
              },
          .build = &BuildOpsList,
          .run = &RunOpsList};
}

// ---------------------------------------------------------------------------------------------
// ops get | watch | cancel | supply-envs

void BuildOperationId(FlagReader& r, Invocation* inv) { inv->operation_id = r.Arg(0); }

// GetOperation or CancelOperation of the operation named on the command line.
template <typename Request>
int RunOperationCall(Session& s, Session::Method<Request, v1::Operation> method, const std::string& what) {
  Request request;
  request.set_operation_id(s.invocation().operation_id);
  v1::Operation op;
  grpc::Status status = s.Unary(method, request, &op);
  if (!status.ok()) return s.Fail(status, what + " " + s.invocation().operation_id);
  s.Print(op, FormatOperation(op));
  return kExitOk;
}

int RunOpsGet(Session& s) { return RunOperationCall(s, &S::GetOperation, "getting operation"); }
int RunOpsCancel(Session& s) { return RunOperationCall(s, &S::CancelOperation, "cancelling operation"); }
int RunOpsWatch(Session& s) { return s.Watch(s.invocation().operation_id); }

void BuildOpsSupplyEnvs(FlagReader& r, Invocation* inv) {
  r.Require({"env-file"});
  if (r.error()) return;
  inv->operation_id = r.Arg(0);
  inv->supply_envs.set_operation_id(r.Arg(0));
  ReadEnvFile(r, inv, &inv->supply_envs);
  inv->supply_envs.set_request_id(inv->request_id);
}

int RunOpsSupplyEnvs(Session& s) {
  return s.Start(&S::SupplyEnvVars, s.invocation().supply_envs, "supplying env vars");
}

void BuildOpsSubmitOwnerTx(FlagReader& r, Invocation* inv) {
  inv->operation_id = r.Arg(0);
  inv->submit_owner_tx.set_operation_id(r.Arg(0));
  inv->submit_owner_tx.set_transaction_hash(r.Arg(1));
  inv->submit_owner_tx.set_request_id(inv->request_id);
}

int RunOpsSubmitOwnerTx(Session& s) {
  return s.Start(&S::SubmitOwnerTransaction, s.invocation().submit_owner_tx, "submitting the owner's transaction");
}

CommandSpec OpsGetCommand() {
  return {.words = {"ops", "get"},
          .args = "OPERATION",
          .min_args = 1,
          .max_args = 1,
          .summary = "show an operation",
          .usage = "OPERATION",
          .description = "Prints the operation: state, steps with their transactions, result or error.",
          .build = &BuildOperationId,
          .run = &RunOpsGet};
}

CommandSpec OpsWatchCommand() {
  return {.words = {"ops", "watch"},
          .args = "OPERATION",
          .min_args = 1,
          .max_args = 1,
          .summary = "follow an operation's progress until it ends",
          .usage = "OPERATION [--timeout=DURATION]",
          .description =
              "Streams the operation's step events (WatchOperation) and reconnects if the orchestrator\n"
              "restarts. Exits with the operation's outcome: 0 succeeded, 5 failed, 10 cancelled,\n"
              "11 waiting for input. With --json: one OperationEvent per line.",
          .flags = {{"timeout", FlagType::kDuration, "DURATION", "stop following after this long (exit 12)"}},
          .build = &BuildOperationId,
          .run = &RunOpsWatch};
}

CommandSpec OpsCancelCommand() {
  return {.words = {"ops", "cancel"},
          .args = "OPERATION",
          .min_args = 1,
          .max_args = 1,
          .summary = "cancel an operation where that is safe",
          .usage = "OPERATION",
          .description =
              "Cancels an operation before any on-chain transaction or the Phala Cloud commit was sent;\n"
              "afterwards the orchestrator refuses (exit 8) and the operation goes on.",
          .build = &BuildOperationId,
          .run = &RunOpsCancel};
}

CommandSpec OpsSupplyEnvsCommand() {
  return {.words = {"ops", "supply-envs"},
          .args = "OPERATION",
          .min_args = 1,
          .max_args = 1,
          .summary = "send the env values an operation waits for",
          .usage = "OPERATION --env-file=FILE|-",
          .description =
              "An operation is WAITING_FOR_INPUT when the orchestrator restarted after accepting env\n"
              "values but before encrypting them (they are never written to disk). Send them again, with\n"
              "exactly the keys 'kmsctl ops get' lists, then follow the operation.",
          .flags = Concat(EnvFileFlag("the env vars (required)"), MutatingFlags()),
          .mutating = true,
          .build = &BuildOpsSupplyEnvs,
          .run = &RunOpsSupplyEnvs};
}

CommandSpec OpsSubmitOwnerTxCommand() {
  return {.words = {"ops", "submit-owner-tx"},
          .args = "OPERATION TX",
          .min_args = 2,
          .max_args = 2,
          .summary = "hand over the app owner's transaction an operation waits for",
          .usage = "OPERATION TX_HASH",
          .description =
              "An operation is WAITING_FOR_OWNER when the app contract's owner is not a key of the signer;\n"
              "'kmsctl ops get' shows the transaction the owner must send (to, data, owner). Once the owner\n"
              "sent it, the operation goes on by itself when the orchestrator sees it on chain; this hands\n"
              "it over at once. The transaction must be mined, successful, sent to exactly that address\n"
              "with exactly that calldata (a Safe's execTransaction is not: wait for the chain instead).",
          .flags = MutatingFlags(),
          .mutating = true,
          .build = &BuildOpsSubmitOwnerTx,
          .run = &RunOpsSubmitOwnerTx};
}

}  // namespace

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"orchestrator", FlagType::kString, "ADDRESS",
       "unix:/path or host:port (default: $KMSCTL_ORCHESTRATOR, else " + std::string(kDefaultAddress) + ")"},
      {"json", FlagType::kBool, "", "print proto3 JSON on stdout (one document per line) instead of text"},
      {"tls", FlagType::kBool, "", "use TLS (implied by the --tls-* files); server verified by the system roots"},
      {"tls-ca", FlagType::kString, "FILE", "PEM CA bundle to verify the orchestrator's certificate"},
      {"tls-cert", FlagType::kString, "FILE", "client certificate (PEM) for mTLS; with --tls-key"},
      {"tls-key", FlagType::kString, "FILE", "client private key (PEM) for mTLS; with --tls-cert"},
      {"tls-server-name", FlagType::kString, "NAME", "expected name in the server certificate"},
      {"token-file", FlagType::kString, "FILE", "bearer token file (sent as 'authorization: Bearer'); needs TLS"},
      {"rpc-timeout", FlagType::kDuration, "DURATION",
       "deadline of one call; a query retries an unreachable orchestrator within it (default 30s)"},
  };
  return *flags;
}

// ---------------------------------------------------------------------------------------------
// cvms get | list, nodes list

void BuildCvmGet(FlagReader& r, Invocation* inv) { inv->cvm_get.set_cvm_id(r.Arg(0)); }

int RunCvmGet(Session& s) {
  v1::Cvm response;
  grpc::Status status = s.Unary(&S::GetCvm, s.invocation().cvm_get, &response);
  if (!status.ok()) return s.Fail(status, "reading the CVM");
  s.Print(response, FormatCvm(response));
  return kExitOk;
}

CommandSpec CvmGetCommand() {
  return {.words = {"cvms", "get"},
          .args = "CVM",
          .min_args = 1,
          .max_args = 1,
          .summary = "show a CVM as the Phala Cloud API reports it: status, compose hash, node",
          .description =
              "CVM is the CVM id, app id, instance id or name. A CVM outside your tenant's scope\n"
              "is not found, as one that does not exist.",
          .build = &BuildCvmGet,
          .run = &RunCvmGet};
}

void BuildCvmsList(FlagReader& r, Invocation* inv) {
  v1::ListCvmsRequest& l = inv->cvms_list;
  if (auto v = r.Uint("page-size", UINT32_MAX)) l.set_page_size(static_cast<uint32_t>(*v));
  l.set_page_token(r.Str("page-token"));
  inv->cvms_list_all = r.Flag("all");
  if (inv->cvms_list_all && r.Has("page-token")) r.Fail(Usage("--all and --page-token exclude each other"));
}

int RunCvmsList(Session& s) {
  v1::ListCvmsResponse all;
  grpc::Status status = ListPages(
      s, &S::ListCvms, s.invocation().cvms_list, s.invocation().cvms_list_all,
      [](v1::ListCvmsResponse& r) { return r.mutable_cvms(); }, &all);
  if (!status.ok()) return s.Fail(status, "listing CVMs");
  s.Print(all, FormatCvmList(all));
  return kExitOk;
}

CommandSpec CvmsListCommand() {
  return {.words = {"cvms", "list"},
          .summary = "list the CVMs you may see, in the Phala Cloud API's order",
          .usage = "[--page-size=N] [--page-token=T | --all]",
          .description = "With an access config: the CVMs your tenant owns (admins and auditors: all).",
          .flags =
              {
                  {"page-size", FlagType::kUint, "N", "CVMs per page (default 50, at most 500)"},
                  {"page-token", FlagType::kString, "TOKEN", "the next page of an earlier listing"},
                  {"all", FlagType::kBool, "", "fetch every page"},
              },
          .build = &BuildCvmsList,
          .run = &RunCvmsList};
}

void BuildNodesList(FlagReader&, Invocation*) {}

int RunNodesList(Session& s) {
  v1::ListNodesResponse response;
  grpc::Status status = s.Unary(&S::ListNodes, v1::ListNodesRequest(), &response);
  if (!status.ok()) return s.Fail(status, "listing nodes");
  s.Print(response, FormatNodeList(response));
  return kExitOk;
}

CommandSpec NodesListCommand() {
  return {.words = {"nodes", "list"},
          .summary = "list the nodes (TEE hosts) the account can deploy to, with their device ids",
          .description = "A node's device id is what 'deploy --device-id' and an app contract's addDevice allow.",
          .build = &BuildNodesList,
          .run = &RunNodesList};
}

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = [] {
    auto* all = new std::vector<CommandSpec>{
        KmsListCommand(),
        DeployCommand(),
        EnvsUpdateCommand(),
        ComposeUpdateCommand(),
        ComposeFileUpdateCommand(),
        ComposeHashAddCommand(),
        OpsListCommand(),
        OpsGetCommand(),
        OpsWatchCommand(),
        OpsCancelCommand(),
        OpsSupplyEnvsCommand(),
        OpsSubmitOwnerTxCommand(),
        AdoptCommand(),
        AppStateCommand(),
        CvmGetCommand(),
        CvmsListCommand(),
        NodesListCommand(),
    };
    for (CommandSpec& c : AppChangeCommands()) all->push_back(std::move(c));
    return all;
  }();
  return *commands;
}

}  // namespace kmsctl
