// GetCvm, ListCvms and ListNodes: read-only views of the Phala Cloud API through the
// orchestrator, allowed to viewers and auditors. CVMs are tenant-scoped (with an `access`
// config a caller sees the CVMs its tenant owns; admins and auditors all; without one, all):
// a CVM outside the scope is NOT_FOUND exactly as one that does not exist.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/sha256.h"
#include "orchestrator/flows/resource_names.h"
#include "orchestrator/service/orchestrator_service_impl.h"
#include "platform/reactors.h"

namespace orchestrator::service {
namespace {

constexpr uint32_t kDefaultPageSize = 50;
constexpr uint32_t kMaxPageSize = 500;
// The API's own pages are read this large (its maximum), and at most this many per call: a
// page with fewer CVMs than asked for (but a next_page_token) can follow from a sparse scope.
constexpr int64_t kApiPageSize = 100;
constexpr int kMaxApiPagesPerCall = 20;

v1::KmsType KmsTypeOf(const std::optional<std::string>& api) {
  if (!api.has_value()) return v1::KMS_TYPE_UNSPECIFIED;
  if (*api == "phala" || *api == "legacy") return v1::KMS_TYPE_PHALA;
  if (*api == "ethereum") return v1::KMS_TYPE_ETHEREUM;
  if (*api == "base") return v1::KMS_TYPE_BASE;
  return v1::KMS_TYPE_UNSPECIFIED;
}

v1::Cvm ToProto(const cloudapi::CvmInfo& c) {
  v1::Cvm out;
  out.set_id(c.id);
  out.set_name(c.name);
  out.set_status(c.status);
  if (c.app_id.has_value()) out.set_app_id(c.app_id->Checksummed());
  if (c.compose_hash.has_value()) out.set_compose_hash(c.compose_hash->Hex());
  out.set_kms_type(KmsTypeOf(c.kms_type));
  if (c.kms_info.has_value()) {
    if (c.kms_info->chain_id.has_value() && *c.kms_info->chain_id > 0) out.set_chain_id(*c.kms_info->chain_id);
    if (c.kms_info->dstack_app_address.has_value()) {
      out.set_app_contract_address(c.kms_info->dstack_app_address->Checksummed());
    }
  }
  if (c.node_id.has_value() && *c.node_id > 0) out.set_node_id(*c.node_id);
  out.set_node_name(c.node_name.value_or(""));
  if (c.device_id.has_value()) out.set_device_id(c.device_id->Hex());
  return out;
}

// A ListCvms page token: where the next page starts in the API's listing (its page number at
// kApiPageSize, and the index within it), bound to the caller. Opaque to clients.
struct CvmCursor {
  int64_t api_page = 1;
  int64_t index = 0;
};

std::string ScopeTag(absl::string_view identity) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(crypto::Sha256(identity).data()), 8));
}

std::string EncodeCursor(const CvmCursor& c, absl::string_view identity) {
  return absl::WebSafeBase64Escape(absl::StrCat("cvms1.", c.api_page, ".", c.index, ".", ScopeTag(identity)));
}

absl::StatusOr<CvmCursor> DecodeCursor(absl::string_view token, absl::string_view identity) {
  const absl::Status bad = absl::InvalidArgumentError("page_token: not a token of ListCvms for this caller");
  std::string text;
  if (!absl::WebSafeBase64Unescape(token, &text)) return bad;
  std::vector<std::string> parts = absl::StrSplit(text, '.');
  CvmCursor c;
  if (parts.size() != 4 || parts[0] != "cvms1" || !absl::SimpleAtoi(parts[1], &c.api_page) ||
      !absl::SimpleAtoi(parts[2], &c.index) || c.api_page < 1 || c.index < 0 || c.index >= kApiPageSize ||
      parts[3] != ScopeTag(identity)) {
    return bad;
  }
  return c;
}

// API errors of a read, as the RPC reports them.
absl::Status ReadError(absl::Status s) {
  if (absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s)) {
    return absl::FailedPreconditionError(absl::StrCat("the Phala Cloud API rejects the API key: ", s.message()));
  }
  return s;
}

}  // namespace

absl::StatusOr<bool> OrchestratorServiceImpl::MaySeeCvm(const access::Principal& p,
                                                        const cloudapi::CvmInfo& cvm) const {
  if (options_.ownership == nullptr || !options_.ownership->policy().configured()) return true;
  return options_.ownership->MaySee(p, cvm.id, cvm.app_id);
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::GetCvm(grpc::CallbackServerContext* context,
                                                          const v1::GetCvmRequest* request, v1::Cvm* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return platform::FinishUnary(context, caller.status());
  const std::string& id = request->cvm_id();
  if (id.empty()) return platform::FinishUnary(context, absl::InvalidArgumentError("cvm_id: required"));
  if (id.size() > 128) return platform::FinishUnary(context, absl::InvalidArgumentError("cvm_id: longer than 128"));
  absl::StatusOr<cloudapi::CvmRef> ref = flows::CvmRefFor(id);
  if (!ref.ok()) return platform::FinishUnary(context, ref.status());
  absl::StatusOr<cloudapi::CvmInfo> info = kms_.cloud().GetCvmInfo(*ref);
  // Absent and out of scope read the same.
  if (absl::IsNotFound(info.status())) return platform::FinishUnary(context, flows::CvmNotInScope(id));
  if (!info.ok()) return platform::FinishUnary(context, ReadError(info.status()));
  absl::StatusOr<bool> visible = MaySeeCvm(*caller, *info);
  if (!visible.ok()) return platform::FinishUnary(context, visible.status());
  if (!*visible) return platform::FinishUnary(context, flows::CvmNotInScope(id));
  *response = ToProto(*info);
  return platform::FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::ListCvms(grpc::CallbackServerContext* context,
                                                            const v1::ListCvmsRequest* request,
                                                            v1::ListCvmsResponse* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return platform::FinishUnary(context, caller.status());
  const uint32_t want = request->page_size() == 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  CvmCursor at;
  if (!request->page_token().empty()) {
    absl::StatusOr<CvmCursor> c = DecodeCursor(request->page_token(), caller->identity);
    if (!c.ok()) return platform::FinishUnary(context, c.status());
    at = *c;
  }
  for (int read = 0; read < kMaxApiPagesPerCall; ++read) {
    cloudapi::ListCvmsRequest page;
    page.page = at.api_page;
    page.page_size = kApiPageSize;
    absl::StatusOr<cloudapi::CvmList> list = kms_.cloud().ListCvms(page);
    if (!list.ok()) return platform::FinishUnary(context, ReadError(list.status()));
    const int64_t n = static_cast<int64_t>(list->items.size());
    for (; at.index < n; ++at.index) {
      absl::StatusOr<bool> visible = MaySeeCvm(*caller, list->items[at.index]);
      if (!visible.ok()) return platform::FinishUnary(context, visible.status());
      if (!*visible) continue;
      if (static_cast<uint32_t>(response->cvms_size()) == want) {
        response->set_next_page_token(EncodeCursor(at, caller->identity));
        return platform::FinishUnary(context, absl::OkStatus());
      }
      *response->add_cvms() = ToProto(list->items[at.index]);
    }
    if (n < kApiPageSize || at.api_page >= list->pages) return platform::FinishUnary(context, absl::OkStatus());
    at = CvmCursor{at.api_page + 1, 0};
  }
  // A sparse scope: hand back what was found and where to go on.
  response->set_next_page_token(EncodeCursor(at, caller->identity));
  return platform::FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* OrchestratorServiceImpl::ListNodes(grpc::CallbackServerContext* context,
                                                             const v1::ListNodesRequest*,
                                                             v1::ListNodesResponse* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/false);
  if (!caller.ok()) return platform::FinishUnary(context, caller.status());
  absl::StatusOr<cloudapi::AvailableNodes> nodes = kms_.cloud().GetAvailableNodes();
  if (!nodes.ok()) return platform::FinishUnary(context, ReadError(nodes.status()));
  for (const cloudapi::NodeInfo& n : nodes->nodes) {
    v1::Node* out = response->add_nodes();
    out->set_id(static_cast<uint64_t>(n.id));
    out->set_name(n.name);
    out->set_region(n.region.value_or(""));
    if (n.device_id.has_value()) out->set_device_id(n.device_id->Hex());
  }
  return platform::FinishUnary(context, absl::OkStatus());
}

}  // namespace orchestrator::service
