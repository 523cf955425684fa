#include "platform/http/testing/prometheus_text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace platform::http::testing {
namespace {

bool IsName(absl::string_view s, bool colon_ok) {
  if (s.empty() || absl::ascii_isdigit(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && !(colon_ok && c == ':')) return false;
  }
  return true;
}

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// `{a="x",b="y"}` at the start of `*rest`, consumed.
absl::Status ParseLabels(absl::string_view* rest, Sample* s) {
  if (!absl::ConsumePrefix(rest, "{")) return absl::OkStatus();
  while (!absl::ConsumePrefix(rest, "}")) {
    const size_t eq = rest->find("=\"");
    if (eq == absl::string_view::npos || !IsName(rest->substr(0, eq), false)) {
      return absl::InvalidArgumentError("bad label name");
    }
    std::string name(rest->substr(0, eq)), value;
    rest->remove_prefix(eq + 2);
    while (!rest->empty() && rest->front() != '"') {
      if (rest->front() == '\n') return absl::InvalidArgumentError("raw newline in a label value");
      if (rest->front() == '\\') {
        if (rest->size() < 2 || (rest->at(1) != '\\' && rest->at(1) != '"' && rest->at(1) != 'n')) {
          return absl::InvalidArgumentError("bad escape in a label value");
        }
        value.push_back(rest->at(1) == 'n' ? '\n' : rest->at(1));
        rest->remove_prefix(2);
      } else {
        value.push_back(rest->front());
        rest->remove_prefix(1);
      }
    }
    if (!absl::ConsumePrefix(rest, "\"")) return absl::InvalidArgumentError("unterminated label value");
    s->labels.emplace_back(std::move(name), std::move(value));
    if (!absl::ConsumePrefix(rest, ",") && !absl::StartsWith(*rest, "}")) {
      return absl::InvalidArgumentError("expected , or } after a label");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ParseValue(absl::string_view v) {
  if (v == "+Inf") return HUGE_VAL;
  if (v == "-Inf") return -HUGE_VAL;
  if (v == "NaN") return NAN;
  std::string text(v);
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return absl::InvalidArgumentError("bad value");
  return d;
}

absl::StatusOr<Sample> ParseSample(absl::string_view line) {
  Sample s;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s.name = std::string(line.substr(0, i));
  if (!IsName(s.name, true)) return absl::InvalidArgumentError("bad metric name");
  absl::string_view rest = line.substr(i);
  if (absl::Status st = ParseLabels(&rest, &s); !st.ok()) return st;
  if (!absl::ConsumePrefix(&rest, " ")) return absl::InvalidArgumentError("expected a space before the value");
  std::vector<absl::string_view> parts = absl::StrSplit(rest, ' ');
  if (parts.size() > 2) return absl::InvalidArgumentError("trailing text after value and timestamp");
  absl::StatusOr<double> v = ParseValue(parts[0]);
  if (!v.ok()) return v.status();
  s.value = *v;
  return s;
}

std::string LabelsWithout(const Sample& s, absl::string_view skip) {
  std::vector<std::string> out;
  for (const auto& [k, v] : s.labels) {
    if (k != skip) out.push_back(absl::StrCat(k, "=\"", v, "\""));
  }
  return absl::StrJoin(out, ",");
}

// Histogram buckets of one series: le values in order, then counts.
struct Buckets {
  std::vector<std::pair<double, double>> le_count;
};

}  // namespace

absl::StatusOr<Exposition> ParsePrometheusText(absl::string_view text) {
  Exposition e;
  if (!text.empty() && text.back() != '\n') return absl::InvalidArgumentError("does not end with a newline");
  std::map<std::string, Buckets> buckets;  // "base{labels without le}"
  std::map<std::string, double> counts;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_no;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_no, " (", line, "): ", why));
    };
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> p = absl::StrSplit(line, ' ');
      if (p.size() != 2 || !IsName(p[0], true)) return bad("TYPE needs a name and a type");
      if (p[1] != "counter" && p[1] != "gauge" && p[1] != "histogram" && p[1] != "summary" && p[1] != "untyped") {
        return bad("unknown type");
      }
      if (!e.types.emplace(p[0], p[1]).second) return bad("TYPE given twice");
      continue;
    }
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      if (!IsName(line.substr(0, line.find(' ')), true)) return bad("HELP needs a metric name");
      continue;
    }
    if (absl::StartsWith(line, "#")) continue;
    absl::StatusOr<Sample> s = ParseSample(line);
    if (!s.ok()) return bad(s.status().message());
    std::string family = s->name;
    if (!e.types.count(family)) {
      for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
        absl::string_view base = s->name;
        if (absl::ConsumeSuffix(&base, suffix) && e.types.count(std::string(base))) family = std::string(base);
      }
      if (!e.types.count(family)) return bad("no TYPE line declares this metric");
    }
    const std::string series = s->labels.empty() ? s->name : absl::StrCat(s->name, "{", LabelsWithout(*s, ""), "}");
    if (!e.samples.emplace(series, s->value).second) return bad("series given twice");
    if (e.types[family] != "histogram") continue;
    const std::string key = absl::StrCat(family, "{", LabelsWithout(*s, "le"), "}");
    if (s->name == family + "_bucket") {
      auto le = std::find_if(s->labels.begin(), s->labels.end(), [](const auto& l) { return l.first == "le"; });
      if (le == s->labels.end()) return bad("histogram bucket without le");
      absl::StatusOr<double> bound = ParseValue(le->second);
      if (!bound.ok()) return bad("bad le");
      Buckets& b = buckets[key];
      if (!b.le_count.empty() && (b.le_count.back().first >= *bound || b.le_count.back().second > s->value)) {
        return bad("histogram buckets out of order or decreasing");
      }
      b.le_count.emplace_back(*bound, s->value);
    } else if (s->name == family + "_count") {
      counts[key] = s->value;
    }
  }
  for (const auto& [key, b] : buckets) {
    if (b.le_count.back().first != HUGE_VAL) return absl::InvalidArgumentError(absl::StrCat(key, ": no le=\"+Inf\""));
    if (!counts.count(key) || counts[key] != b.le_count.back().second) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": _count differs from the +Inf bucket"));
    }
  }
  return e;
}

}  // namespace platform::http::testing
