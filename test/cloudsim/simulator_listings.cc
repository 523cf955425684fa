// Listings: the CVMs of the account, page by page (the SDK's getCvmList), and the nodes it can
// deploy to with their device ids (the SDK's getAvailableNodes).
#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "test/cloudsim/api_util.h"
#include "test/cloudsim/simulator.h"

namespace cloudsim {

namespace json = boost::json;
using api::Int;
using api::JsonResponse;
using api::PageParams;
using api::PositiveIntParam;
using api::QueryParams;

HttpResponse Simulator::ListCvms(const Ctx& c) {
  std::map<std::string, std::string> q = QueryParams(c.req.query);
  int64_t page = 1, page_size = 20;
  if (std::optional<HttpResponse> bad = PageParams(q, &page, &page_size)) return *bad;
  std::optional<int64_t> node_id, teepod_id;
  if (std::optional<HttpResponse> bad = PositiveIntParam(q, "node_id", &node_id)) return *bad;
  if (std::optional<HttpResponse> bad = PositiveIntParam(q, "teepod_id", &teepod_id)) return *bad;
  if (!node_id) node_id = teepod_id;

  std::vector<Row> all;
  {
    absl::MutexLock lock(&state_mu_);
    BootRules rules = boot_rules();
    // Oldest first (a guess: the real order is not documented). A listing is no poll, but a boot
    // that is due ends here too.
    for (Row& r : store_->ListCvms()) {
      if (node_id && Int(r.data, "teepod_id") != *node_id) continue;
      if (AdvanceBoot(r.data, rules, /*count_poll=*/false)) store_->UpdateCvm(r.id, r.data);
      all.push_back(std::move(r));
    }
  }
  int64_t total = static_cast<int64_t>(all.size());
  json::array items;
  for (int64_t i = (page - 1) * page_size; i < std::min(total, page * page_size); ++i) {
    json::object item = CvmDetail(all[i], c.legacy);
    item.erase("compose_file");  // detail only
    items.push_back(std::move(item));
  }
  json::object o;  // the SDK's PaginatedCvmInfos schema
  o["items"] = std::move(items);
  o["total"] = total;
  o["page"] = page;
  o["page_size"] = page_size;
  o["pages"] = (total + page_size - 1) / page_size;
  return JsonResponse(200, o);
}

HttpResponse Simulator::AvailableNodes(const Ctx& c) {
  (void)c;
  json::array nodes;
  for (const Node& n : nodes_) {
    json::object image;
    image["name"] = config_.base_image;
    image["is_dev"] = false;
    json::array version;
    for (absl::string_view part : absl::StrSplit(config_.os_version, '.')) {
      int64_t v = 0;
      (void)absl::SimpleAtoi(part, &v);
      version.push_back(v);
    }
    image["version"] = std::move(version);
    image["os_image_hash"] = os_image_hash_;
    json::object o;  // the SDK's TeepodCapacitySchema
    o["teepod_id"] = n.id;
    o["name"] = n.name;
    o["listed"] = true;
    o["resource_score"] = 1;
    o["remaining_vcpu"] = 64;
    o["remaining_memory"] = 262144;
    o["remaining_cvm_slots"] = 100;
    o["images"] = json::array{std::move(image)};
    o["support_onchain_kms"] = !config_.kms_contract.empty();
    o["fmspc"] = config_.fmspc;
    o["device_id"] = n.device_id;
    o["region_identifier"] = config_.region;
    o["default_kms"] = kms_.empty() ? json::value(nullptr) : kms_.front().info.at("id");
    json::array kms_ids;
    for (const Kms& k : kms_) kms_ids.push_back(k.info.at("id"));
    o["kms_list"] = std::move(kms_ids);
    nodes.push_back(std::move(o));
  }
  json::object capacity;
  capacity["max_instances"] = 100;
  capacity["max_vcpu"] = 64;
  capacity["max_memory"] = 262144;
  capacity["max_disk"] = 2000;
  json::object o;  // the SDK's AvailableNodesSchema
  o["tier"] = "pro";
  o["capacity"] = std::move(capacity);
  o["nodes"] = std::move(nodes);
  o["kms_list"] = KmsSummary();
  return JsonResponse(200, o);
}

}  // namespace cloudsim
