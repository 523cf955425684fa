#include "test/cloudsim/faults.h"

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cloudsim {
namespace {

namespace json = boost::json;

absl::StatusOr<int64_t> IntField(const json::object& o, const char* key, int64_t def) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double() && v->get_double() == static_cast<double>(static_cast<int64_t>(v->get_double()))) {
    return static_cast<int64_t>(v->get_double());
  }
  return absl::InvalidArgumentError(absl::StrCat("fault field '", key, "' must be an integer"));
}

}  // namespace

absl::string_view FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kLatency:
      return "latency";
    case FaultKind::kError:
      return "error";
    case FaultKind::kRateLimit:
      return "rate_limit";
    case FaultKind::kDrop:
      return "drop";
  }
  return "?";
}

absl::StatusOr<int64_t> FaultInjector::Add(const json::value& spec) {
  if (!spec.is_object()) return absl::InvalidArgumentError("a fault rule must be a JSON object");
  const json::object& o = spec.get_object();
  FaultRule r;
  const json::value* kind = o.if_contains("kind");
  if (kind == nullptr || !kind->is_string()) {
    return absl::InvalidArgumentError("fault field 'kind' is required: latency|error|rate_limit|drop");
  }
  std::string k = absl::AsciiStrToLower(std::string(kind->get_string()));
  if (k == "latency") {
    r.kind = FaultKind::kLatency;
  } else if (k == "error" || k == "status" || k == "5xx") {
    r.kind = FaultKind::kError;
  } else if (k == "rate_limit" || k == "429") {
    r.kind = FaultKind::kRateLimit;
    r.status = 429;
  } else if (k == "drop") {
    r.kind = FaultKind::kDrop;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown fault kind '", k, "'"));
  }
  for (const char* key : {"path_prefix", "method", "body"}) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) continue;
    if (!v->is_string()) return absl::InvalidArgumentError(absl::StrCat("fault field '", key, "' must be a string"));
    std::string s(v->get_string());
    if (std::string(key) == "path_prefix") r.path_prefix = s;
    if (std::string(key) == "method") r.method = absl::AsciiStrToUpper(s);
    if (std::string(key) == "body") r.body = s;
  }
  absl::StatusOr<int64_t> status = IntField(o, "status", r.status);
  absl::StatusOr<int64_t> retry_after = IntField(o, "retry_after", 1);
  absl::StatusOr<int64_t> latency = IntField(o, "latency_ms", 0);
  absl::StatusOr<int64_t> nth = IntField(o, "nth", 0);
  absl::StatusOr<int64_t> every = IntField(o, "every", 0);
  absl::StatusOr<int64_t> times = IntField(o, "times", 0);
  for (const auto* s : {&status, &retry_after, &latency, &nth, &every, &times}) {
    if (!s->ok()) return s->status();
  }
  r.status = static_cast<int>(*status);
  r.retry_after_s = static_cast<int>(*retry_after);
  r.latency_ms = *latency;
  r.nth = *nth;
  r.every = *every;
  r.times = *times;
  if (r.kind == FaultKind::kError && (r.status < 400 || r.status > 599)) {
    return absl::InvalidArgumentError("fault 'status' must be 400..599");
  }
  if (r.kind == FaultKind::kLatency && r.latency_ms <= 0) {
    return absl::InvalidArgumentError("fault 'latency_ms' must be > 0 for kind latency");
  }
  if (r.nth < 0 || r.every < 0 || r.times < 0 || r.latency_ms < 0 || r.retry_after_s < 0) {
    return absl::InvalidArgumentError("fault counters must not be negative");
  }
  if (const json::value* rate = o.if_contains("rate"); rate != nullptr && !rate->is_null()) {
    if (!rate->is_number()) return absl::InvalidArgumentError("fault field 'rate' must be a number");
    r.rate = rate->to_number<double>();
    if (r.rate < 0 || r.rate > 1) return absl::InvalidArgumentError("fault 'rate' must be in [0, 1]");
  }
  absl::MutexLock lock(&mu_);
  r.id = next_id_++;
  rules_.push_back(r);
  return r.id;
}

absl::Status FaultInjector::AddAll(const json::value& specs) {
  if (specs.is_array()) {
    for (const json::value& s : specs.get_array()) {
      absl::StatusOr<int64_t> id = Add(s);
      if (!id.ok()) return id.status();
    }
    return absl::OkStatus();
  }
  return Add(specs).status();
}

void FaultInjector::Clear() {
  absl::MutexLock lock(&mu_);
  rules_.clear();
}

json::array FaultInjector::List() {
  absl::MutexLock lock(&mu_);
  json::array out;
  for (const FaultRule& r : rules_) {
    json::object o;
    o["id"] = r.id;
    o["kind"] = std::string(FaultKindName(r.kind));
    o["path_prefix"] = r.path_prefix;
    o["method"] = r.method;
    o["status"] = r.status;
    o["retry_after"] = r.retry_after_s;
    o["latency_ms"] = r.latency_ms;
    o["rate"] = r.rate;
    o["nth"] = r.nth;
    o["every"] = r.every;
    o["times"] = r.times;
    o["matched"] = r.matched;
    o["fired"] = r.fired;
    out.push_back(std::move(o));
  }
  return out;
}

FaultDecision FaultInjector::Decide(absl::string_view method, absl::string_view full_path, absl::string_view api_path) {
  FaultDecision d;
  absl::MutexLock lock(&mu_);
  for (FaultRule& r : rules_) {
    if (!r.method.empty() && r.method != method) continue;
    if (!r.path_prefix.empty() && !absl::StartsWith(api_path, r.path_prefix) &&
        !absl::StartsWith(full_path, r.path_prefix)) {
      continue;
    }
    if (d.action.has_value() && r.kind != FaultKind::kLatency) continue;  // outcome already decided
    ++r.matched;
    if (r.times > 0 && r.fired >= r.times) continue;
    bool fire;
    if (r.nth > 0) {
      fire = r.matched == r.nth;
    } else if (r.every > 0) {
      fire = r.matched % r.every == 0;
    } else {
      fire = r.rate >= 1.0 || std::uniform_real_distribution<double>(0, 1)(rng_) < r.rate;
    }
    if (!fire) continue;
    ++r.fired;
    if (!d.fired.empty()) d.fired += "+";
    if (r.kind == FaultKind::kLatency) {
      d.latency_ms += r.latency_ms;
      d.fired += "latency";
    } else {
      d.action = r;
      d.fired += std::string(FaultKindName(r.kind));
      if (r.kind != FaultKind::kDrop) d.fired += absl::StrCat(":", r.status);
    }
  }
  return d;
}

}  // namespace cloudsim
