// GetAppState: the read-only view of an app contract's governance state (flows/app_state.h),
// allowed to viewers and auditors, scoped to the caller's tenant as the operations are.
#include "absl/strings/str_cat.h"
#include "orchestrator/flows/app_state.h"
#include "orchestrator/flows/resource_names.h"
#include "orchestrator/service/orchestrator_service_impl.h"
#include "platform/reactors.h"
#include "platform/status_macros.h"

namespace orchestrator::service {
namespace {

struct AppRef {
  uint64_t chain_id = 0;
  std::string app;
};

// The chain and app contract of the CVM the request names (GET /cvms/{id}).
absl::StatusOr<AppRef> AppOfCvm(cloudapi::CloudClient& cloud, absl::string_view cvm_id) {
  ASSIGN_OR_RETURN(const cloudapi::CvmRef ref, flows::CvmRefFor(cvm_id));
  ASSIGN_OR_RETURN(const cloudapi::CvmInfo info, cloud.GetCvmInfo(ref));
  const cloudapi::CvmKmsInfo* k = info.kms_info.has_value() ? &*info.kms_info : nullptr;
  if (k == nullptr || !k->chain_id.has_value() || *k->chain_id <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cvm_id: CVM ", cvm_id, " uses an off-chain KMS: it has no app contract"));
  }
  std::optional<chain::Address> app = k->dstack_app_address;
  if (!app.has_value()) app = info.app_id;
  if (!app.has_value()) return absl::FailedPreconditionError(absl::StrCat("cvm_id: CVM ", cvm_id, " has no app id"));
  return AppRef{static_cast<uint64_t>(*k->chain_id), app->Checksummed()};
}

std::vector<chain::Hash32> Hashes(const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::vector<chain::Hash32> out;
  for (const std::string& v : values) out.push_back(chain::Hash32::FromHex(v).value());  // validated
  return out;
}

}  // namespace

absl::StatusOr<v1::AppState> OrchestratorServiceImpl::ReadAppState(grpc::CallbackServerContext* context,
                                                                   const v1::GetAppStateRequest& request) {
  ASSIGN_OR_RETURN(const access::Principal caller, Admit(context, /*act=*/false));
  ASSIGN_OR_RETURN(const ValidationContext vctx, Context(/*need_kms=*/false));
  ASSIGN_OR_RETURN(const v1::GetAppStateRequest r, ValidateGetAppState(request, vctx));
  if (options_.ownership != nullptr) {
    RETURN_IF_ERROR(
        r.has_app() ? options_.ownership->CheckAppReadable(caller, r.app().chain_id(), r.app().app_contract_address())
                    : options_.ownership->CheckCvmReadable(caller, r.cvm_id()));
  }
  const engine::FlowDeps* deps = options_.flow_deps;
  if (deps == nullptr) return absl::UnavailableError("GetAppState: no chain access in this process");
  AppRef ref;
  if (r.has_app()) {
    ref = AppRef{r.app().chain_id(), r.app().app_contract_address()};
  } else {
    ASSIGN_OR_RETURN(ref, AppOfCvm(*deps->cloud, r.cvm_id()));
  }
  auto chain = deps->chains.find(ref.chain_id);
  if (chain == deps->chains.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the app is on chain ", ref.chain_id, ", which this orchestrator is not configured for (chains)"));
  }
  flows::AppStateQuery q{.chain_id = ref.chain_id,
                         .app = chain::Address::Parse(ref.app).value(),
                         .device_ids = Hashes(r.device_ids()),
                         .compose_hashes = Hashes(r.compose_hashes()),
                         // A provider's range cap on eth_getLogs does not fail the whole read.
                         .upgrades_disabled = flows::AppStateQuery::UpgradesDisabledRead::kBestEffort};
  if (deps->signer_keys) {
    ASSIGN_OR_RETURN(q.signer_keys, deps->signer_keys());
  }
  return flows::ReadAppState(*chain->second.rpc, q, {.deadline = absl::Now() + absl::Seconds(30)});
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::GetAppState(grpc::CallbackServerContext* context,
                                                               const v1::GetAppStateRequest* request,
                                                               v1::AppState* response) {
  absl::StatusOr<v1::AppState> s = ReadAppState(context, *request);
  if (s.ok()) *response = *std::move(s);
  return platform::FinishUnary(context, s.status());
}

}  // namespace orchestrator::service
