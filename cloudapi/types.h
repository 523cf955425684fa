// Typed requests and responses of the Phala Cloud calls the flows use (facts/phala-cloud-api.md
// §2-§5, API version 2026-01-21). Responses are read tolerantly: unknown fields are ignored (the
// real schemas are passthrough), optional/nullable fields are std::optional. Requests carry only
// what the SDK sends; unset optionals are omitted from the wire body, as JSON.stringify omits
// undefined.
//
// Addresses and app ids are chain::Address, compose hashes, device ids and transaction hashes
// chain::Hash32: wire.cc parses them at the edge (a malformed one is an unexpected response)
// and writes each in the form the SDK sends (wire.h says which), so they compare by value.
#ifndef ONCHAIN_KMS_CLOUDAPI_TYPES_H_
#define ONCHAIN_KMS_CLOUDAPI_TYPES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "crypto/x25519.h"

namespace cloudapi {

// ---------------------------------------------------------------------------------------------
// Identifiers

// Which CVM a call is about, as one path segment. The SDK derives it from whichever id the caller
// has (CvmIdSchema); the factories below do the same.
class CvmRef {
 public:
  // The API's CVM id (the 32-hex hashed uuid returned as `id` by GET /cvms/{id}), a numeric id
  // or a CVM name, used verbatim (percent-encoded).
  static CvmRef Id(absl::string_view id);
  // A VM uuid with or without dashes: dashes are stripped (the API's hashed id).
  static absl::StatusOr<CvmRef> Uuid(absl::string_view uuid);
  // An app id (40 hex, optional 0x): "app_<40 lower-case hex>".
  static absl::StatusOr<CvmRef> AppId(absl::string_view app_id);
  static CvmRef App(const chain::Address& app_id);
  // An instance id (40 hex, optional 0x): "instance_<40 lower-case hex>".
  static absl::StatusOr<CvmRef> InstanceId(absl::string_view instance_id);

  // Percent-encoded, ready for a URL path.
  const std::string& path_segment() const { return segment_; }

 private:
  explicit CvmRef(std::string segment) : segment_(std::move(segment)) {}
  std::string segment_;
};

// An app id or address as the API and its callers write it: 40 hex digits, 0x optional, either
// case (mixed case with 0x must be EIP-55). INVALID_ARGUMENT otherwise.
absl::StatusOr<chain::Address> ParseAppId(absl::string_view text);

// ---------------------------------------------------------------------------------------------
// Auth

struct CurrentUser {
  std::string username;
  std::string email;
  std::string role;  // "admin" | "user"
  bool email_verified = false;
  std::string workspace_id;
  std::string workspace_name;
  std::optional<std::string> workspace_slug;
  std::string workspace_tier;
  std::string workspace_role;
  std::string credits_balance;  // decimal text (the API sends a string or a number)
  bool credits_is_post_paid = false;
};

// ---------------------------------------------------------------------------------------------
// KMS

struct KmsInfo {
  std::string id;
  std::optional<std::string> slug;
  std::string url;
  std::string version;
  std::optional<int64_t> chain_id;
  std::optional<chain::Address> kms_contract_address;
  std::optional<std::string> gateway_app_id;

  // The reference the CLI uses in KMS paths and commit bodies: slug, else id.
  const std::string& Ref() const { return slug && !slug->empty() ? *slug : id; }
  // The SDK attaches a viem chain only for these ids (1 mainnet, 8453 base, 31337 anvil);
  // without it the CLI refuses on-chain steps.
  bool HasSdkSupportedChain() const;
};

struct ListKmsRequest {
  std::optional<bool> is_onchain;    // ?is_onchain=true|false
  std::optional<int64_t> page;       // >= 1
  std::optional<int64_t> page_size;  // >= 1
};

struct KmsList {
  std::vector<KmsInfo> items;
  int64_t total = 0;
  int64_t page = 0;
  int64_t page_size = 0;
  int64_t pages = 0;
};

// GET /kms/{kms}/pubkey/{app_id}.
struct AppEnvEncryptPubkey {
  std::string public_key_hex;  // as the server sent it
  crypto::X25519PublicKey public_key{};
  std::string signature_hex;  // "" when the server sent none
  // The compressed secp256k1 key that signed public_key for this app (facts §7), when the
  // server sent a signature.
  std::optional<std::array<uint8_t, 33>> signer;
  // True when the signer was checked against PubkeyVerification::trusted_signer.
  bool verified = false;
};

struct PubkeyVerification {
  // The KMS signing key the caller trusts (33-byte compressed secp256k1; e.g. the KMS root k256
  // key published by the KMS contract). When set, a signature must be present and made by this
  // key, otherwise the call fails with PERMISSION_DENIED. When unset, a present signature is
  // still checked for well-formedness and its signer is returned.
  std::optional<std::array<uint8_t, 33>> trusted_signer;
};

// ---------------------------------------------------------------------------------------------
// App compose

// An app-compose object (LooseAppComposeSchema, passthrough): the typed fields the flows read
// or set, and every other key kept verbatim in `extra`, so Get -> modify -> provision-update
// loses nothing. A known key whose value has an unexpected type (e.g. `"salt": null`) is kept
// in `extra` as is, so ToJson reproduces every key and value of FromJson's input (key order
// aside, which the compose hash does not see: it sorts keys).
struct AppCompose {
  std::optional<int64_t> manifest_version;
  std::optional<std::string> name;
  std::optional<std::string> runner;
  std::optional<std::string> docker_compose_file;
  std::optional<std::string> pre_launch_script;
  std::optional<std::vector<std::string>> allowed_envs;
  std::optional<std::vector<std::string>> features;
  std::optional<bool> kms_enabled;
  std::optional<bool> gateway_enabled;
  std::optional<bool> tproxy_enabled;
  std::optional<bool> public_logs;
  std::optional<bool> public_sysinfo;
  std::optional<bool> public_tcbinfo;
  std::optional<std::string> storage_fs;  // "ext4" | "zfs"
  std::optional<std::string> salt;
  boost::json::object extra;

  static AppCompose FromJson(const boost::json::object& object);
  boost::json::object ToJson() const;
};

// ---------------------------------------------------------------------------------------------
// Provision + commit (new CVM)

struct ProvisionCvmRequest {
  std::string name;  // 5-63 chars, letter first, letters/digits/hyphens, no "--"
  // When none of instance_type/vcpu/memory is set, "tdx.small" is sent (as the SDK does).
  std::optional<std::string> instance_type;
  std::optional<int64_t> node_id;  // sent as teepod_id, as the SDK does
  std::optional<std::string> region;
  std::optional<std::string> image;
  std::optional<int64_t> vcpu;
  std::optional<int64_t> memory;
  std::optional<int64_t> disk_size;
  // Sent as compose_file; `name` defaults to "", tproxy_enabled becomes gateway_enabled (SDK).
  // docker_compose_file is required; with pre_launch_script at most 200 KiB of UTF-8.
  AppCompose compose_file;
  std::optional<bool> listed;
  std::optional<std::string> kms_id;
  std::optional<std::string> kms;  // "PHALA" | "ETHEREUM" | "BASE"
  std::optional<chain::Address> kms_contract;
  std::optional<std::vector<std::string>> env_keys;
  std::optional<int64_t> nonce;
  std::optional<chain::Address> app_id;
};

struct ProvisionCvmResponse {
  std::optional<chain::Address> app_id;  // null for on-chain KMS
  std::optional<std::string> app_env_encrypt_pubkey;
  chain::Hash32 compose_hash;
  std::optional<KmsInfo> kms_info;
  std::optional<std::string> fmspc;
  std::optional<chain::Hash32> device_id;
  std::optional<std::string> os_image_hash;
  std::optional<std::string> instance_type;
  std::optional<int64_t> node_id;  // teepod_id or node_id
  std::optional<std::string> kms_id;
};

struct CommitCvmProvisionRequest {
  // Sent EIP-55 with 0x when contract_address is set (on-chain KMS, as the CLI), else as the
  // API prints app ids (40 lowercase hex).
  chain::Address app_id;
  chain::Hash32 compose_hash;
  std::optional<std::string> encrypted_env;  // hex (EncryptEnvVars)
  std::optional<std::string> kms_id;
  std::optional<chain::Address> contract_address;  // the app's DstackApp contract
  std::optional<chain::Address> deployer_address;
  std::optional<std::vector<std::string>> env_keys;
};

struct CommitCvmProvisionResponse {
  int64_t id = 0;
  std::string name;
  std::string status;
  std::optional<int64_t> node_id;  // teepod_id
  std::optional<std::string> node_name;
  std::optional<chain::Address> app_id;
  std::optional<std::string> vm_uuid;
  std::optional<std::string> instance_id;
  std::optional<std::string> app_url;
  std::optional<std::string> base_image;
  std::optional<int64_t> vcpu;
  std::optional<int64_t> memory;
  std::optional<int64_t> disk_size;
  std::optional<std::string> encrypted_env_pubkey;
  std::optional<chain::Address> app_auth_contract_address;
  std::optional<chain::Address> deployer_address;
  std::optional<std::string> created_at;
};

// ---------------------------------------------------------------------------------------------
// CVM info (GET /cvms/{id}, CvmInfoDetailV20260121Schema)

struct CvmKmsInfo {
  std::optional<int64_t> chain_id;
  std::optional<chain::Address> dstack_kms_address;
  std::optional<chain::Address> dstack_app_address;  // the app contract for on-chain updates
  std::optional<chain::Address> deployer_address;
  std::optional<std::string> rpc_endpoint;
  std::optional<std::string> encrypted_env_pubkey;
};

struct CvmInfo {
  std::string id;  // hashed uuid
  std::string name;
  std::string status;
  std::optional<chain::Address> app_id;
  std::optional<std::string> vm_uuid;
  std::optional<std::string> instance_id;
  std::optional<std::string> kms_type;  // "phala" | "ethereum" | "base" | "legacy"
  std::optional<CvmKmsInfo> kms_info;
  std::optional<chain::Hash32> compose_hash;
  std::optional<std::string> instance_type;  // resource.instance_type
  std::optional<int64_t> node_id;            // node_info.id (the teepod id)
  std::optional<std::string> node_name;      // node_info.name
  std::optional<chain::Hash32> device_id;    // node_info.device_id
  std::optional<std::string> os_image_hash;  // os.os_image_hash
  std::optional<std::string> gateway_base_domain;
  std::optional<std::string> progress_target;
  std::optional<std::string> progress_correlation_id;
  std::optional<bool> public_logs;
  std::optional<bool> public_sysinfo;
  std::optional<bool> gateway_enabled;
  bool listed = false;
};

// GET /cvms/paginated (the SDK's getCvmList). The API pages by number; page and page_size
// start at 1.
struct ListCvmsRequest {
  std::optional<int64_t> page;       // >= 1
  std::optional<int64_t> page_size;  // >= 1
  std::optional<int64_t> node_id;    // only CVMs on this node (teepod id), >= 1
};

struct CvmList {
  std::vector<CvmInfo> items;  // without CvmInfo::compose_file-only detail
  int64_t total = 0;
  int64_t page = 0;
  int64_t page_size = 0;
  int64_t pages = 0;
};

// One entry of GET /teepods/available's `nodes` (the SDK's TeepodCapacitySchema): a TEE host the
// account can deploy to. `device_id` is what an app contract's addDevice allows.
struct NodeInfo {
  int64_t id = 0;  // teepod_id
  std::string name;
  bool listed = false;
  std::optional<std::string> region;  // region_identifier
  std::optional<chain::Hash32> device_id;
  std::optional<std::string> fmspc;
  bool support_onchain_kms = false;
};

// GET /teepods/available (the SDK's getAvailableNodes), the nodes part.
struct AvailableNodes {
  std::string tier;
  std::vector<NodeInfo> nodes;
};

// ---------------------------------------------------------------------------------------------
// Updates of a running CVM

// The `precondition_required` answer (HTTP 465, or a 2xx body with that status): the change
// needs its compose hash registered on the app contract (addComposeHash) first; then repeat the
// same call with compose_hash and transaction_hash.
struct PreconditionRequired {
  std::string message;
  std::string error_code;  // "ERR-01-005" expected; the SDK does not check it
  chain::Hash32 compose_hash;
  chain::Address app_id;
  std::optional<chain::Hash32> device_id;
  KmsInfo kms_info;
};

// 2xx {status: "in_progress", message, correlation_id[, allowed_envs_changed]}.
struct UpdateAccepted {
  std::string status;
  std::string message;
  std::string correlation_id;
  std::optional<bool> allowed_envs_changed;  // envs endpoint only
};

using UpdateResult = std::variant<UpdateAccepted, PreconditionRequired>;

struct UpdateCvmEnvsRequest {
  std::string encrypted_env;  // hex, required
  std::optional<std::vector<std::string>> env_keys;
  // Phase 2 (after precondition_required): proof in the JSON body.
  std::optional<chain::Hash32> compose_hash;
  std::optional<chain::Hash32> transaction_hash;
};

struct UpdateDockerComposeRequest {
  std::string docker_compose_file;  // raw YAML, sent as text/yaml
  // Phase 2: proof in the X-Compose-Hash / X-Transaction-Hash headers.
  std::optional<chain::Hash32> compose_hash;
  std::optional<chain::Hash32> transaction_hash;
};

// POST /cvms/{id}/compose_file/provision: the full new app compose at the top level.
struct ProvisionComposeFileUpdateRequest {
  AppCompose app_compose;
  std::optional<bool> update_env_vars;
};

struct ComposeFileUpdateProvision {
  std::optional<chain::Address> app_id;
  std::optional<chain::Hash32> device_id;
  chain::Hash32 compose_hash;
  std::optional<KmsInfo> kms_info;
  bool compose_hash_registered = false;
};

// PATCH /cvms/{id}/compose_file.
struct CommitComposeFileUpdateRequest {
  chain::Hash32 compose_hash;
  std::optional<std::string> encrypted_env;
  std::optional<std::vector<std::string>> env_keys;
  std::optional<bool> update_env_vars;
};

struct CommitComposeFileUpdateResponse {
  // The SDK ignores this body; the service sends a correlation id that tracks the change.
  std::optional<std::string> correlation_id;
};

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_TYPES_H_
