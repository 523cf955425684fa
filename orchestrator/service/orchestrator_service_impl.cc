#include "orchestrator/service/orchestrator_service_impl.h"

#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chain/hash32.h"
#include "chain/hex.h"
#include "crypto/sha256.h"
#include "platform/log/log.h"
#include "platform/reactors.h"
#include "platform/status.h"

namespace orchestrator::service {
namespace {

// ---- per-request-type pieces ----
const google::protobuf::RepeatedPtrField<v1::EnvVar>* EnvVarsOf(const v1::DeployCvmRequest& r) { return &r.env_vars(); }
const google::protobuf::RepeatedPtrField<v1::EnvVar>* EnvVarsOf(const v1::UpdateEnvVarsRequest& r) {
  return &r.env_vars();
}
const google::protobuf::RepeatedPtrField<v1::EnvVar>* EnvVarsOf(const v1::UpdateComposeFileRequest& r) {
  return r.update_env_vars() ? &r.env_vars() : nullptr;
}
const google::protobuf::RepeatedPtrField<v1::EnvVar>* EnvVarsOf(const v1::UpdateDockerComposeRequest&) {
  return nullptr;
}
const google::protobuf::RepeatedPtrField<v1::EnvVar>* EnvVarsOf(const v1::AddComposeHashRequest&) { return nullptr; }
const google::protobuf::RepeatedPtrField<v1::EnvVar>* EnvVarsOf(const v1::UpdateAppContractRequest&) { return nullptr; }

std::string CvmIdOf(const v1::DeployCvmRequest&) { return ""; }
std::string CvmIdOf(const v1::UpdateEnvVarsRequest& r) { return r.cvm_id(); }
std::string CvmIdOf(const v1::UpdateDockerComposeRequest& r) { return r.cvm_id(); }
std::string CvmIdOf(const v1::UpdateComposeFileRequest& r) { return r.cvm_id(); }
std::string CvmIdOf(const v1::AddComposeHashRequest& r) { return r.has_app() ? "" : r.cvm_id(); }
std::string CvmIdOf(const v1::UpdateAppContractRequest& r) { return r.has_app() ? "" : r.cvm_id(); }

// The ownership check of each request's target (ownership_guard.h); a deploy creates its own.
absl::Status CheckTarget(const OwnershipGuard&, const access::Principal&, const v1::DeployCvmRequest&) {
  return absl::OkStatus();
}
template <typename Update>
absl::Status CheckTarget(const OwnershipGuard& g, const access::Principal& p, const Update& r) {
  return g.CheckCvm(p, r.cvm_id());
}
// Requests that name a CVM or an app contract.
template <typename Request>
absl::Status CheckAppOrCvm(const OwnershipGuard& g, const access::Principal& p, const Request& r) {
  return r.has_app() ? g.CheckApp(p, r.app().chain_id(), r.app().app_contract_address()) : g.CheckCvm(p, r.cvm_id());
}
absl::Status CheckTarget(const OwnershipGuard& g, const access::Principal& p, const v1::AddComposeHashRequest& r) {
  return CheckAppOrCvm(g, p, r);
}
absl::Status CheckTarget(const OwnershipGuard& g, const access::Principal& p, const v1::UpdateAppContractRequest& r) {
  return CheckAppOrCvm(g, p, r);
}

bool NeedsKms(const v1::DeployCvmRequest&) { return true; }
template <typename T>
bool NeedsKms(const T&) {
  return false;
}

absl::StatusOr<v1::DeployCvmRequest> Validate(const v1::DeployCvmRequest& r, const ValidationContext& c,
                                              std::optional<chain::Address>* k) {
  return ValidateDeploy(r, c, k);
}
absl::StatusOr<v1::UpdateEnvVarsRequest> Validate(const v1::UpdateEnvVarsRequest& r, const ValidationContext& c,
                                                  std::optional<chain::Address>* k) {
  return ValidateUpdateEnvVars(r, c, k);
}
absl::StatusOr<v1::UpdateDockerComposeRequest> Validate(const v1::UpdateDockerComposeRequest& r,
                                                        const ValidationContext& c, std::optional<chain::Address>* k) {
  return ValidateUpdateDockerCompose(r, c, k);
}
absl::StatusOr<v1::UpdateComposeFileRequest> Validate(const v1::UpdateComposeFileRequest& r, const ValidationContext& c,
                                                      std::optional<chain::Address>* k) {
  return ValidateUpdateComposeFile(r, c, k);
}
absl::StatusOr<v1::AddComposeHashRequest> Validate(const v1::AddComposeHashRequest& r, const ValidationContext& c,
                                                   std::optional<chain::Address>* k) {
  return ValidateAddComposeHash(r, c, k);
}
absl::StatusOr<v1::UpdateAppContractRequest> Validate(const v1::UpdateAppContractRequest& r, const ValidationContext& c,
                                                      std::optional<chain::Address>* k) {
  return ValidateUpdateAppContract(r, c, k);
}

const char* MethodOf(v1::OperationKind k) {
  switch (k) {
    case v1::OPERATION_KIND_DEPLOY_CVM:
      return "DeployCvm";
    case v1::OPERATION_KIND_UPDATE_ENV_VARS:
      return "UpdateEnvVars";
    case v1::OPERATION_KIND_UPDATE_DOCKER_COMPOSE:
      return "UpdateDockerCompose";
    case v1::OPERATION_KIND_UPDATE_COMPOSE_FILE:
      return "UpdateComposeFile";
    case v1::OPERATION_KIND_ADD_COMPOSE_HASH:
      return "AddComposeHash";
    case v1::OPERATION_KIND_UPDATE_APP_CONTRACT:
      return "UpdateAppContract";
    default:
      return "?";
  }
}

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& s) {
  return platform::FinishUnary(context, s);
}

// ---- WatchOperation ----

class WatchStream;

// What the manager holds: forwards to the stream while it lives.
class StreamSink final : public engine::WatchSink {
 public:
  explicit StreamSink(WatchStream* stream) : stream_(stream) {}
  void Push(const v1::OperationEvent& event) override;
  void PushOwned(v1::OperationEvent event) override;
  void Close(const absl::Status& status) override;
  void Detach() {
    absl::MutexLock l(&mu_);
    stream_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  WatchStream* stream_ ABSL_GUARDED_BY(mu_);
};

class WatchStream final : public grpc::ServerWriteReactor<v1::OperationEvent> {
 public:
  WatchStream(engine::OperationManager& manager, std::string id) : manager_(manager), id_(std::move(id)) {}

  void Begin() {
    sink_ = std::make_shared<StreamSink>(this);
    absl::Status s = manager_.Watch(id_, sink_);
    if (!s.ok()) Enqueue(std::nullopt, s);
  }

  // No event: close with `status` after the queued events.
  void Enqueue(std::optional<v1::OperationEvent> event, const absl::Status& status) {
    bool start = false;
    {
      absl::MutexLock l(&mu_);
      if (finished_) return;
      if (event.has_value()) {
        if (closing_) return;
        // The event that makes the operation terminal is the stream's last (orchestrator.proto):
        // known now, it goes out with the OK status in one write (Next).
        const bool last =
            event->type() == v1::OperationEvent::TYPE_STATE_CHANGED && engine::IsTerminal(event->operation().state());
        queue_.push_back(*std::move(event));
        queue_.back().set_sequence(++sequence_);
        if (last) {
          closing_ = true;
          final_ = absl::OkStatus();
        }
      } else {
        if (closing_) return;
        closing_ = true;
        final_ = status;
      }
      start = !writing_;
      if (start) writing_ = true;
    }
    if (start) Next();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock l(&mu_);
      if (!ok) {
        // The client went away.
        queue_.clear();
        closing_ = true;
        if (final_.ok()) final_ = absl::CancelledError("client gone");
      }
    }
    Next();
  }

  void OnCancel() override { Enqueue(std::nullopt, absl::CancelledError("watch cancelled by the client")); }

  void OnDone() override {
    sink_->Detach();
    manager_.Unwatch(id_, sink_.get());
    delete this;
  }

 private:
  // Called with writing_ == true: writes the next event, or finishes, or goes idle. The last
  // event goes with the status (StartWriteAndFinish: one write, no OnWriteDone), and an event
  // with more queued behind it may wait in gRPC's buffer for them (buffer_hint: fewer writes to
  // the socket when a journal write published several).
  void Next() {
    absl::Status finish;
    bool do_finish = false;
    bool with_finish = false;
    grpc::WriteOptions options;
    {
      absl::MutexLock l(&mu_);
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        if (queue_.empty() && closing_ && !finished_) {
          finished_ = true;
          with_finish = true;
          finish = final_;
        } else if (!queue_.empty()) {
          options.set_buffer_hint();
        }
      } else if (closing_ && !finished_) {
        finished_ = true;
        do_finish = true;
        finish = final_;
      } else {
        writing_ = false;
        return;
      }
    }
    if (do_finish) {
      Finish(platform::ToGrpcStatus(finish));
    } else if (with_finish) {
      StartWriteAndFinish(&current_, options, platform::ToGrpcStatus(finish));
    } else {
      StartWrite(&current_, options);
    }
  }

  engine::OperationManager& manager_;
  const std::string id_;
  std::shared_ptr<StreamSink> sink_;
  absl::Mutex mu_;
  std::deque<v1::OperationEvent> queue_ ABSL_GUARDED_BY(mu_);
  v1::OperationEvent current_;  // owned by the write in flight
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_ ABSL_GUARDED_BY(mu_);
};

void StreamSink::Push(const v1::OperationEvent& event) {
  absl::MutexLock l(&mu_);
  if (stream_ != nullptr) stream_->Enqueue(event, absl::OkStatus());
}

void StreamSink::PushOwned(v1::OperationEvent event) {
  absl::MutexLock l(&mu_);
  if (stream_ != nullptr) stream_->Enqueue(std::move(event), absl::OkStatus());
}

void StreamSink::Close(const absl::Status& status) {
  absl::MutexLock l(&mu_);
  if (stream_ != nullptr) stream_->Enqueue(std::nullopt, status);
}

std::string FilterKey(const v1::ListOperationsRequest& f, absl::string_view scope) {
  std::string s = absl::StrCat(f.kind(), "|", f.state(), "|", f.cvm_id());
  if (!scope.empty()) absl::StrAppend(&s, "|", scope);
  const crypto::Sha256Digest d = crypto::Sha256(absl::string_view(s));
  return chain::ToHex(chain::ByteView(d.data(), 8), false);
}

// The policy of a config without an `access` section.
std::unique_ptr<access::AccessPolicy> CompatibilityPolicy(const std::optional<chain::Address>& default_key) {
  absl::StatusOr<access::AccessPolicy> p = access::AccessPolicy::Compile({}, default_key);
  return std::make_unique<access::AccessPolicy>(*std::move(p));  // cannot fail without `access`
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::vector<cloudapi::KmsInfo>> KmsDirectory::Get(bool refresh, bool onchain_only) {
  {
    absl::MutexLock l(&mu_);
    if (!refresh && absl::Now() - fetched_ < max_age_) {
      if (!onchain_only) return cached_;
      std::vector<cloudapi::KmsInfo> out;
      for (const auto& k : cached_) {
        if (k.chain_id.has_value() && *k.chain_id > 0) out.push_back(k);
      }
      return out;
    }
  }
  std::vector<cloudapi::KmsInfo> all;
  for (int64_t page = 1; page <= 100; ++page) {
    cloudapi::ListKmsRequest req;
    req.page = page;
    req.page_size = 100;
    absl::StatusOr<cloudapi::KmsList> list = cloud_.ListKms(req);
    if (!list.ok()) {
      absl::MutexLock l(&mu_);
      if (fetched_ != absl::InfinitePast()) {
        platform::log::Warn("KMS list refresh failed; using the cached list",
                            {{"error", std::string(list.status().message())}});
        return cached_;
      }
      return absl::UnavailableError(absl::StrCat("Phala Cloud KMS list: ", list.status().message()));
    }
    all.insert(all.end(), list->items.begin(), list->items.end());
    if (list->items.empty() || page >= list->pages) break;
  }
  {
    absl::MutexLock l(&mu_);
    cached_ = all;
    fetched_ = absl::Now();
  }
  if (!onchain_only) return all;
  std::vector<cloudapi::KmsInfo> out;
  for (const auto& k : all) {
    if (k.chain_id.has_value() && *k.chain_id > 0) out.push_back(k);
  }
  return out;
}

std::string EncodePageToken(const journal::ListCursor& cursor, const v1::ListOperationsRequest& filters,
                            absl::string_view scope) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v1|", absl::ToUnixMicros(cursor.create_time), "|", cursor.id, "|", FilterKey(filters, scope)));
}

absl::StatusOr<journal::ListCursor> DecodePageToken(absl::string_view token, const v1::ListOperationsRequest& filters,
                                                    absl::string_view scope) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return absl::InvalidArgumentError("page_token: malformed");
  std::vector<std::string> parts = absl::StrSplit(raw, '|');
  int64_t us = 0;
  if (parts.size() != 4 || parts[0] != "v1" || !absl::SimpleAtoi(parts[1], &us)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  if (parts[3] != FilterKey(filters, scope)) {
    return absl::InvalidArgumentError("page_token: the filters changed since the previous page");
  }
  return journal::ListCursor{absl::FromUnixMicros(us), parts[2]};
}

OrchestratorServiceImpl::OrchestratorServiceImpl(engine::OperationManager& manager, KmsDirectory& kms,
                                                 const platform::Authenticator& auth, ServiceOptions options)
    : manager_(manager),
      kms_(kms),
      auth_(auth),
      options_(std::move(options)),
      own_policy_(options_.policy != nullptr ? nullptr : CompatibilityPolicy(options_.default_signer_key)),
      gate_(options_.policy != nullptr ? *options_.policy : *own_policy_, manager) {}

absl::StatusOr<access::Principal> OrchestratorServiceImpl::Admit(grpc::CallbackServerContext* context, bool act) {
  absl::StatusOr<platform::Caller> caller = auth_.Authenticate(*context);
  if (!caller.ok()) return caller.status();
  return gate_.Admit(*caller, act);
}

absl::StatusOr<ValidationContext> OrchestratorServiceImpl::Context(bool need_kms) {
  ValidationContext c;
  for (const auto& [id, type] : options_.chains) c.chains.insert(id);
  c.default_signer_key = options_.default_signer_key;
  if (need_kms) {
    absl::StatusOr<std::vector<cloudapi::KmsInfo>> kms = kms_.Get();
    if (!kms.ok()) return kms.status();
    c.kms = *std::move(kms);
  }
  return c;
}

template <typename Request>
absl::StatusOr<v1::Operation> OrchestratorServiceImpl::Submit(grpc::CallbackServerContext* context,
                                                              const Request& request, v1::OperationKind kind) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/true);
  if (!caller.ok()) return caller.status();
  absl::StatusOr<ValidationContext> vctx = Context(NeedsKms(request));
  if (!vctx.ok()) return vctx.status();
  std::optional<chain::Address> signer_key;
  absl::StatusOr<Request> normalized = Validate(request, *vctx, &signer_key);
  if (!normalized.ok() && NeedsKms(request) && absl::IsInvalidArgument(normalized.status()) &&
      absl::StrContains(normalized.status().message(), "unknown KMS")) {
    // The list may be stale: look again once.
    if (absl::StatusOr<std::vector<cloudapi::KmsInfo>> fresh = kms_.Get(/*refresh=*/true); fresh.ok()) {
      vctx->kms = *std::move(fresh);
      normalized = Validate(request, *vctx, &signer_key);
    }
  }
  if (!normalized.ok()) {
    platform::log::Info("request refused", {{"method", MethodOf(kind)},
                                            {"caller", caller->identity},
                                            {"error", std::string(normalized.status().message())}});
    return normalized.status();
  }
  if (absl::Status s = gate_.CheckSignerKey(*caller, signer_key, SubmitChain(*normalized, *vctx)); !s.ok()) {
    platform::log::Info(
        "request refused",
        {{"method", MethodOf(kind)}, {"caller", caller->identity}, {"error", std::string(s.message())}});
    return s;
  }
  engine::Submission sub;
  if (options_.ownership != nullptr) {
    if (absl::Status s = CheckTarget(*options_.ownership, *caller, *normalized); !s.ok()) {
      platform::log::Info(
          "request refused",
          {{"method", MethodOf(kind)}, {"caller", caller->identity}, {"error", std::string(s.message())}});
      return s;
    }
  }
  sub.tenant = caller->tenant;
  sub.tenant_admin = caller->role == access::Role::kAdmin;
  sub.caller = caller->identity;
  sub.request_id = request.request_id();
  sub.kind = kind;
  sub.request = StrippedRequest(*normalized);
  sub.request_digest = RequestDigest(kind, *normalized);
  if (const auto* vars = EnvVarsOf(*normalized)) {
    for (const v1::EnvVar& e : *vars) {
      sub.env_keys.push_back(e.key());
      sub.env_values.push_back(cloudapi::EnvVar{e.key(), e.value()});
    }
    sub.needs_env_values = !vars->empty();
  }
  sub.cvm_id = CvmIdOf(*normalized);
  sub.signer_key = signer_key;
  return manager_.Submit(std::move(sub));
}

#define ORCH_UNARY_SUBMIT(Method, Request, Kind)                                                                   \
  grpc::ServerUnaryReactor* OrchestratorServiceImpl::Method(grpc::CallbackServerContext* context,                  \
                                                            const v1::Request* request, v1::Operation* response) { \
    absl::StatusOr<v1::Operation> op = Submit(context, *request, v1::Kind);                                        \
    if (op.ok()) *response = *std::move(op);                                                                       \
    return Done(context, op.status());                                                                             \
  }

ORCH_UNARY_SUBMIT(DeployCvm, DeployCvmRequest, OPERATION_KIND_DEPLOY_CVM)
ORCH_UNARY_SUBMIT(UpdateEnvVars, UpdateEnvVarsRequest, OPERATION_KIND_UPDATE_ENV_VARS)
ORCH_UNARY_SUBMIT(UpdateDockerCompose, UpdateDockerComposeRequest, OPERATION_KIND_UPDATE_DOCKER_COMPOSE)
ORCH_UNARY_SUBMIT(UpdateComposeFile, UpdateComposeFileRequest, OPERATION_KIND_UPDATE_COMPOSE_FILE)
ORCH_UNARY_SUBMIT(AddComposeHash, AddComposeHashRequest, OPERATION_KIND_ADD_COMPOSE_HASH)
ORCH_UNARY_SUBMIT(UpdateAppContract, UpdateAppContractRequest, OPERATION_KIND_UPDATE_APP_CONTRACT)
#undef ORCH_UNARY_SUBMIT

grpc::ServerUnaryReactor* OrchestratorServiceImpl::ListKmsInstances(grpc::CallbackServerContext* context,
                                                                    const v1::ListKmsInstancesRequest* request,
                                                                    v1::ListKmsInstancesResponse* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return Done(context, caller.status());
  if (!v1::KmsType_IsValid(request->kms_type()))
    return Done(context, absl::InvalidArgumentError("kms_type: unknown value"));
  absl::StatusOr<std::vector<cloudapi::KmsInfo>> kms = kms_.Get(/*refresh=*/true, request->onchain_only());
  if (!kms.ok()) {
    absl::Status s = kms.status();
    if (absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s)) {
      s = absl::FailedPreconditionError(absl::StrCat("the Phala Cloud API rejects the API key: ", s.message()));
    }
    return Done(context, s);
  }
  for (const cloudapi::KmsInfo& k : *kms) {
    const uint64_t chain = k.chain_id.has_value() && *k.chain_id > 0 ? static_cast<uint64_t>(*k.chain_id) : 0;
    v1::KmsType type = v1::KMS_TYPE_PHALA;
    if (chain != 0) {
      auto it = options_.chains.find(chain);
      type = it != options_.chains.end() ? it->second
             : chain == 1                ? v1::KMS_TYPE_ETHEREUM
             : chain == 8453             ? v1::KMS_TYPE_BASE
                                         : v1::KMS_TYPE_UNSPECIFIED;
    }
    if (request->kms_type() != v1::KMS_TYPE_UNSPECIFIED && type != request->kms_type()) continue;
    if (request->chain_id() != 0 && chain != request->chain_id()) continue;
    if (request->onchain_only() && chain == 0) continue;
    v1::KmsInstance* out = response->add_kms_instances();
    out->set_id(k.id);
    out->set_slug(k.slug.value_or(""));
    out->set_url(k.url);
    out->set_version(k.version);
    out->set_chain_id(chain);
    if (k.kms_contract_address.has_value()) out->set_kms_contract_address(k.kms_contract_address->Checksummed());
    out->set_gateway_app_id(k.gateway_app_id.value_or(""));
    out->set_kms_type(type);
  }
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::SupplyEnvVars(grpc::CallbackServerContext* context,
                                                                 const v1::SupplyEnvVarsRequest* request,
                                                                 v1::Operation* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/true);
  if (!caller.ok()) return Done(context, caller.status());
  if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) return Done(context, s);
  if (absl::Status s = ValidateOperationId("operation_id", request->operation_id()); !s.ok()) return Done(context, s);
  if (absl::Status s = ValidateEnvVars(request->env_vars(), "env_vars"); !s.ok()) return Done(context, s);
  if (absl::Status v = gate_.CheckVisible(*caller, request->operation_id()); !v.ok()) {
    return Done(context, v);
  }
  if (absl::Status s = supply_limiter_.Take(request->operation_id(), caller->identity); !s.ok()) {
    return Done(context, s);
  }
  std::vector<cloudapi::EnvVar> values;
  for (const v1::EnvVar& e : request->env_vars()) values.push_back(cloudapi::EnvVar{e.key(), e.value()});
  absl::StatusOr<v1::Operation> op =
      manager_.SupplyEnvVars(request->operation_id(), request->request_id(), std::move(values));
  if (op.ok()) *response = *std::move(op);
  return Done(context, op.status());
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::GetOperation(grpc::CallbackServerContext* context,
                                                                const v1::GetOperationRequest* request,
                                                                v1::Operation* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return Done(context, caller.status());
  if (absl::Status s = ValidateOperationId("operation_id", request->operation_id()); !s.ok()) return Done(context, s);
  absl::StatusOr<v1::Operation> op = gate_.Visible(*caller, request->operation_id());
  if (op.ok()) *response = *std::move(op);
  return Done(context, op.status());
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::ListOperations(grpc::CallbackServerContext* context,
                                                                  const v1::ListOperationsRequest* request,
                                                                  v1::ListOperationsResponse* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return Done(context, caller.status());
  if (!v1::OperationKind_IsValid(request->kind()))
    return Done(context, absl::InvalidArgumentError("kind: unknown value"));
  if (!v1::OperationState_IsValid(request->state()))
    return Done(context, absl::InvalidArgumentError("state: unknown value"));
  if (request->cvm_id().size() > 128) return Done(context, absl::InvalidArgumentError("cvm_id: too long"));
  journal::ListQuery q;
  q.kind = request->kind();
  q.state = request->state();
  q.cvm_id = request->cvm_id();
  q.limit = request->page_size() == 0 ? 50 : std::min<uint32_t>(request->page_size(), 500);
  q.callers = gate_.ListScope(*caller);
  if (!request->page_token().empty()) {
    absl::StatusOr<journal::ListCursor> c = DecodePageToken(request->page_token(), *request, caller->identity);
    if (!c.ok()) return Done(context, c.status());
    q.after = *c;
  }
  if (q.callers.has_value() && q.callers->empty()) return Done(context, absl::OkStatus());  // a tenant of viewers
  absl::StatusOr<engine::ListResult> r = manager_.List(q);
  if (!r.ok()) return Done(context, r.status());
  for (v1::Operation& op : r->operations) *response->add_operations() = std::move(op);
  if (r->next.has_value()) response->set_next_page_token(EncodePageToken(*r->next, *request, caller->identity));
  return Done(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::OperationEvent>* OrchestratorServiceImpl::WatchOperation(
    grpc::CallbackServerContext* context, const v1::WatchOperationRequest* request) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return platform::FinishStream<v1::OperationEvent>(platform::ToGrpcStatus(caller.status()));
  if (absl::Status s = ValidateOperationId("operation_id", request->operation_id()); !s.ok()) {
    return platform::FinishStream<v1::OperationEvent>(platform::ToGrpcStatus(s));
  }
  if (absl::Status v = gate_.CheckVisible(*caller, request->operation_id()); !v.ok()) {
    return platform::FinishStream<v1::OperationEvent>(platform::ToGrpcStatus(v));
  }
  auto* stream = new WatchStream(manager_, request->operation_id());
  stream->Begin();
  return stream;
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::CancelOperation(grpc::CallbackServerContext* context,
                                                                   const v1::CancelOperationRequest* request,
                                                                   v1::Operation* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/true);
  if (!caller.ok()) return Done(context, caller.status());
  if (absl::Status s = ValidateOperationId("operation_id", request->operation_id()); !s.ok()) return Done(context, s);
  if (absl::Status v = gate_.CheckVisible(*caller, request->operation_id()); !v.ok()) {
    return Done(context, v);
  }
  absl::StatusOr<v1::Operation> op = manager_.Cancel(request->operation_id());
  if (op.ok()) *response = *std::move(op);
  return Done(context, op.status());
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::SubmitOwnerTransaction(
    grpc::CallbackServerContext* context, const v1::SubmitOwnerTransactionRequest* request, v1::Operation* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/true);
  if (!caller.ok()) return Done(context, caller.status());
  if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) return Done(context, s);
  if (absl::Status s = ValidateOperationId("operation_id", request->operation_id()); !s.ok()) return Done(context, s);
  if (!chain::Hash32::FromHex(request->transaction_hash()).ok()) {
    return Done(context, absl::InvalidArgumentError("transaction_hash: must be 32-byte hex (0x + 64 hex digits)"));
  }
  if (absl::Status v = gate_.CheckVisible(*caller, request->operation_id()); !v.ok()) {
    return Done(context, v);
  }
  if (!options_.submit_owner_transaction) {
    return Done(context, absl::UnimplementedError("SubmitOwnerTransaction is not available in this process"));
  }
  absl::StatusOr<v1::Operation> op = options_.submit_owner_transaction(*request);
  if (op.ok()) *response = *std::move(op);
  return Done(context, op.status());
}

}  // namespace orchestrator::service
