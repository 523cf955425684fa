// The Grafana dashboard reads only series the services export: every metric name in its PromQL
// (panels and variables) is a family of the orchestrator's or the signer's /metrics (a
// histogram's _bucket/_sum/_count included), every label it matches on or groups by is one of
// that family's labels (or le, job, instance), and its datasource is a variable. The names are
// collected from the services' own Render(), with every series observed once.
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/metrics/orchestrator_metrics.h"
#include "platform/http/testing/prometheus_text.h"
#include "platform/testing/server_process.h"
#include "signer/metrics/metrics.h"

namespace {

namespace json = boost::json;
namespace v1 = ::onchainkms::orchestrator::v1;
using platform::http::testing::Exposition;

// Family name -> its label names, from one exposition.
using Families = std::map<std::string, std::set<std::string>>;

void AddFamilies(const std::string& text, Families* out) {
  absl::StatusOr<Exposition> e = platform::http::testing::ParsePrometheusText(text);
  ASSERT_TRUE(e.ok()) << e.status();
  for (const auto& [name, type] : e->types) (*out)[name];
  for (const auto& [series, value] : e->samples) {
    const size_t brace = series.find('{');
    std::string name = series.substr(0, brace);
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (out->count(name) == 0 && absl::EndsWith(name, suffix)) name.resize(name.size() - strlen(suffix));
    }
    if (brace == std::string::npos) continue;
    for (absl::string_view rest = absl::string_view(series).substr(brace + 1); !rest.empty();) {
      const size_t eq = rest.find('=');
      if (eq == absl::string_view::npos) break;
      (*out)[name].insert(std::string(rest.substr(0, eq)));
      const size_t close = rest.find("\",");
      if (close == absl::string_view::npos) break;
      rest.remove_prefix(close + 2);
    }
  }
}

// Both services' families, every series observed once so that each shows its labels.
Families Exported() {
  orchestrator::metrics::OrchestratorMetrics o;
  o.OperationStarted(v1::OPERATION_KIND_DEPLOY_CVM);
  o.OperationEnded(v1::OPERATION_KIND_DEPLOY_CVM, v1::OPERATION_STATE_SUCCEEDED);
  o.OperationEnded(v1::OPERATION_KIND_DEPLOY_CVM, v1::OPERATION_STATE_FAILED);
  o.PhalaCloudResponse(200);
  o.JournalWrite("update", absl::Milliseconds(1));
  o.StepEnded(v1::OPERATION_KIND_DEPLOY_CVM, "commit", true, absl::Seconds(1));
  o.ChainConfigured(1);
  signer::metrics::Metrics s;
  s.ObserveRequest("SignAddComposeHash", "ok", absl::Milliseconds(1));
  s.Signed("SignAddComposeHash", "first");
  s.Signing("SignAddComposeHash", absl::Microseconds(100));
  s.EquivocationRefusal("SignAddComposeHash");
  s.PolicyDenial("message_signing.enabled");
  s.AuditWrite(true, absl::Milliseconds(1));
  s.SetRefusedConnectionsFn([] { return 0; });
  s.SetGroupCommitFns([] { return 0; }, [] { return 0; });
  Families f;
  AddFamilies(o.Render(), &f);
  AddFamilies(s.Render(), &f);
  return f;
}

// Every "expr" (panel targets) and "query"/"definition" (variables) string in the dashboard.
void CollectQueries(const json::value& v, std::vector<std::string>* out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object()) {
      if ((k == "expr" || k == "definition") && child.is_string()) out->emplace_back(child.as_string());
      if (k == "query" && child.is_object() && child.as_object().contains("query")) {
        out->emplace_back(child.as_object().at("query").as_string());
      }
      CollectQueries(child, out);
    }
  } else if (v.is_array()) {
    for (const json::value& child : v.as_array()) CollectQueries(child, out);
  }
}

bool IdentStart(char c) { return absl::ascii_isalpha(c) || c == '_' || c == ':'; }
bool IdentChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == ':'; }

// PromQL functions, aggregations and keywords the dashboard may use (not metric names).
const std::set<std::string>& Keywords() {
  static const auto* k = new std::set<std::string>{
      "sum",       "avg",       "min",          "max",   "count",    "by",         "without",     "on",
      "rate",      "irate",     "increase",     "delta", "ignoring", "group_left", "group_right", "histogram_quantile",
      "clamp_min", "clamp_max", "label_values", "topk",  "bool",     "and",        "or",          "unless",
      "offset",    "e"};
  return *k;
}

struct Uses {
  std::set<std::string> metrics;
  std::map<std::string, std::set<std::string>> matched_labels;  // metric -> labels in its {...}
  std::set<std::string> grouped_labels;                         // by (...) and label_values(_, x)
};

// Names inside `{...}` (matchers) and `(...)` after by/without are labels; strings and
// $variables are skipped; what remains of the identifiers, minus keywords, are metric names.
Uses Scan(const std::string& q) {
  Uses u;
  std::string last_metric, last_ident;
  for (size_t i = 0; i < q.size();) {
    const char c = q[i];
    if (c == '"') {
      i = q.find('"', i + 1) + 1;
    } else if (c == '$') {
      for (++i; i < q.size() && (IdentChar(q[i]) || q[i] == '{' || q[i] == '}'); ++i) {
      }
    } else if (c == '{') {
      const size_t close = q.find('}', i);
      for (size_t j = i + 1; j < close;) {
        if (q[j] == '"') {
          j = q.find('"', j + 1) + 1;
        } else if (IdentStart(q[j])) {
          size_t k = j;
          while (k < close && IdentChar(q[k])) ++k;
          u.matched_labels[last_metric].insert(q.substr(j, k - j));
          j = k;
        } else {
          ++j;
        }
      }
      i = close + 1;
    } else if (c == '[') {
      i = q.find(']', i) + 1;
    } else if (c == '(' && last_ident == "label_values") {  // label_values(metric, label)
      const size_t close = q.find(')', i);
      std::vector<std::string> args = absl::StrSplit(q.substr(i + 1, close - i - 1), ',');
      if (args.size() == 2) {
        u.metrics.insert(std::string(absl::StripAsciiWhitespace(args[0])));
        u.grouped_labels.insert(std::string(absl::StripAsciiWhitespace(args[1])));
      }
      i = close + 1;
      last_ident.clear();
    } else if (c == '(' && (last_ident == "by" || last_ident == "without")) {
      const size_t close = q.find(')', i);
      for (absl::string_view label : absl::StrSplit(q.substr(i + 1, close - i - 1), ',')) {
        u.grouped_labels.insert(std::string(absl::StripAsciiWhitespace(label)));
      }
      i = close + 1;
      last_ident.clear();
    } else if (absl::ascii_isdigit(c) || (c == '.' && i + 1 < q.size() && absl::ascii_isdigit(q[i + 1]))) {
      while (i < q.size() && (absl::ascii_isalnum(q[i]) || q[i] == '.' || q[i] == '-')) ++i;  // 0.95, 1e-9
    } else if (IdentStart(c)) {
      size_t k = i;
      while (k < q.size() && IdentChar(q[k])) ++k;
      last_ident = q.substr(i, k - i);
      if (Keywords().count(last_ident) == 0) {
        u.metrics.insert(last_ident);
        last_metric = last_ident;
      }
      i = k;
    } else {
      ++i;
    }
  }
  return u;
}

// The family a name in a query belongs to: itself, or a histogram's series.
std::string FamilyOf(const std::string& name, const Families& f) {
  if (f.count(name) > 0) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    if (absl::EndsWith(name, suffix)) {
      std::string base = name.substr(0, name.size() - strlen(suffix));
      if (f.count(base) > 0) return base;
    }
  }
  return "";
}

json::value LoadDashboard() {
  std::ifstream in(platform::testing::RunfilePath("deploy/grafana/onchain-kms.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  EXPECT_FALSE(ec) << "deploy/grafana/onchain-kms.json is not JSON: " << ec.message();
  return v;
}

TEST(GrafanaDashboard, ReadsOnlySeriesTheServicesExport) {
  const Families exported = Exported();
  ASSERT_GT(exported.count("orchestrator_step_duration_seconds"), 0u);
  ASSERT_GT(exported.count("signer_signatures_total"), 0u);
  const json::value dashboard = LoadDashboard();
  std::vector<std::string> queries;
  CollectQueries(dashboard, &queries);
  ASSERT_GE(queries.size(), 20u) << "the panels' queries were not found";
  std::set<std::string> used;
  for (const std::string& q : queries) {
    const Uses u = Scan(q);
    std::set<std::string> labels = {"le", "job", "instance"};
    for (const std::string& m : u.metrics) {
      if (m == "up") continue;  // Prometheus's own, for the job variable
      const std::string family = FamilyOf(m, exported);
      EXPECT_FALSE(family.empty()) << "the dashboard reads " << m << ", which neither service exports: " << q;
      if (family.empty()) continue;
      used.insert(family);
      labels.insert(exported.at(family).begin(), exported.at(family).end());
      for (const std::string& l : u.matched_labels.count(m) ? u.matched_labels.at(m) : std::set<std::string>{}) {
        if (l == "job" || l == "instance" || (l == "le" && absl::EndsWith(m, "_bucket"))) continue;
        EXPECT_GT(exported.at(family).count(l), 0u) << m << " has no label " << l << ": " << q;
      }
    }
    for (const std::string& l : u.grouped_labels) {
      EXPECT_GT(labels.count(l), 0u) << "grouped by " << l << ", a label of none of its series: " << q;
    }
  }
  // Every family is on the dashboard (a new series gets a panel, or a line here saying why not).
  for (const auto& [family, labels] : exported) {
    EXPECT_GT(used.count(family), 0u) << family << " is exported but on no panel";
  }
}

TEST(GrafanaDashboard, TheDatasourceIsAVariable) {
  const json::value d = LoadDashboard();
  const json::array& vars = d.at("templating").at("list").as_array();
  bool found = false;
  for (const json::value& v : vars) {
    if (v.at("type").as_string() == "datasource" && v.at("query").as_string() == "prometheus") found = true;
  }
  EXPECT_TRUE(found) << "a datasource variable of type prometheus";
  std::vector<std::string> queries;
  CollectQueries(d, &queries);
  const std::string text = json::serialize(d);
  EXPECT_FALSE(absl::StrContains(text, "\"uid\":\"prometheus\"")) << "a fixed datasource uid";
}

// The scanner itself: a query naming an unexported series is caught.
TEST(GrafanaDashboard, TheScannerFindsNamesAndLabels) {
  const Uses u = Scan(
      R"(histogram_quantile(0.95, sum by (le, step) (rate(orchestrator_step_seconds_bucket{job=~"$job",result="x"}[$__rate_interval]))) / clamp_min(signer_keys_loaded, 1e-9))");
  EXPECT_THAT(u.metrics, ::testing::ElementsAre("orchestrator_step_seconds_bucket", "signer_keys_loaded"));
  EXPECT_THAT(u.matched_labels.at("orchestrator_step_seconds_bucket"), ::testing::ElementsAre("job", "result"));
  EXPECT_THAT(u.grouped_labels, ::testing::ElementsAre("le", "step"));
  EXPECT_TRUE(FamilyOf("orchestrator_step_seconds_bucket", Exported()).empty());
  EXPECT_EQ(FamilyOf("orchestrator_step_duration_seconds_bucket", Exported()), "orchestrator_step_duration_seconds");
}

}  // namespace
