#include "cloudapi/env_vars.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cloudapi/js_text.h"
#include "platform/status_macros.h"

namespace cloudapi {
namespace {

// The SDK's regex, applied with exec() in a loop (flags gm):
//   (?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)
//   (\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)
// Rather than a general regex engine (std::regex recurses per character and has no JS `\s`),
// this is a matcher for this one pattern that returns, for every start position, the match the
// JS backtracking engine returns. The reasoning for each part is next to it.

using Text = std::u32string;

struct Match {
  size_t key_begin;   // start of the key or of `export`
  size_t match_end;   // lastIndex after the match
  size_t name_begin;  // group 1
  size_t name_end;
  bool has_value;  // group 2 participated
  size_t value_begin;
  size_t value_end;
};

bool IsWordChar(char32_t c) {  // [\w.-]
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

size_t WsRun(const Text& t, size_t p) {
  size_t q = p;
  while (q < t.size() && IsJsWhitespace(t[q])) ++q;
  return q - p;
}

// `\s*(?:#.*)?(?:$|$)` from p: the end of the first successful path, if any.
// \s* is greedy: with the maximal run W, a following '#' takes `#.*` to the end of its line (and
// `.` stops before any line terminator, where `$` holds), and the end of input satisfies `$`.
// Otherwise \s* gives back characters until `$` holds, i.e. just before the last line
// terminator inside the run.
std::optional<size_t> Tail(const Text& t, size_t p) {
  const size_t w = WsRun(t, p);
  const size_t q = p + w;
  if (q < t.size() && t[q] == '#') {
    size_t e = q;
    while (e < t.size() && !IsJsLineTerminator(t[e])) ++e;
    return e;
  }
  if (q == t.size()) return q;
  for (size_t k = w; k-- > 0;) {
    if (IsJsLineTerminator(t[p + k])) return p + k;
  }
  return std::nullopt;
}

struct ValueMatch {
  bool has_value;
  size_t value_end;
  size_t match_end;
};

// `\s*Q(?:\\Q|[^Q])*Q` (then the tail) from q, where Q is the quote at the end of the leading
// whitespace. The body loop tries `\Q` before `[^Q]` and is greedy, so the engine tries the
// closing quotes it can reach in decreasing position: every Q up to and including the first Q
// not preceded by a backslash (a Q preceded by a backslash can be stepped over as `\Q` or closed
// on after taking the backslash alone). The first closing quote after which the tail matches
// wins.
std::optional<ValueMatch> Quoted(const Text& t, size_t q) {
  const size_t open = q + WsRun(t, q);
  if (open >= t.size()) return std::nullopt;
  const char32_t quote = t[open];
  if (quote != '\'' && quote != '"' && quote != '`') return std::nullopt;
  std::vector<size_t> candidates;
  for (size_t k = open + 1; k < t.size(); ++k) {
    if (t[k] != quote) continue;
    candidates.push_back(k);
    if (t[k - 1] != '\\') break;  // cannot be stepped over
  }
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    if (std::optional<size_t> e = Tail(t, *it + 1)) return ValueMatch{true, *it + 1, *e};
  }
  return std::nullopt;
}

// Group 2 (optional, greedy: its alternatives first, in order, then its absence), then the tail.
std::optional<ValueMatch> ValueAndTail(const Text& t, size_t q) {
  // The three quoted alternatives share the \s* prefix; only the one whose quote follows the
  // whitespace can match.
  if (std::optional<ValueMatch> m = Quoted(t, q)) return m;
  // [^#\r\n]+ is greedy; at its longest the tail always matches (it stops before '#', a line
  // feed or the end; CR no longer occurs after normalisation, but is handled the same).
  size_t e = q;
  while (e < t.size() && t[e] != '#' && t[e] != '\r' && t[e] != '\n') ++e;
  if (e > q) {
    if (std::optional<size_t> end = Tail(t, e)) return ValueMatch{true, e, *end};
  }
  if (std::optional<size_t> end = Tail(t, q)) return ValueMatch{false, q, *end};
  return std::nullopt;
}

// From the first character of the key: `([\w.-]+)(?:\s*=\s*?|:\s+?)` then the value.
std::optional<Match> MatchFromKey(const Text& t, size_t p) {
  size_t key_end = p;
  while (key_end < t.size() && IsWordChar(t[key_end])) ++key_end;
  if (key_end == p) return std::nullopt;  // the key run is maximal: backtracking cannot help
  size_t first_q;                         // the lazy \s*? / \s+? tries the shortest separator first
  size_t last_q;
  const size_t after_ws = key_end + WsRun(t, key_end);
  if (after_ws < t.size() && t[after_ws] == '=') {
    first_q = after_ws + 1;
    last_q = first_q + WsRun(t, first_q);
  } else if (key_end < t.size() && t[key_end] == ':' && key_end + 1 < t.size() && IsJsWhitespace(t[key_end + 1])) {
    first_q = key_end + 2;
    last_q = key_end + 1 + WsRun(t, key_end + 1);
  } else {
    return std::nullopt;
  }
  for (size_t q = first_q; q <= last_q; ++q) {
    if (std::optional<ValueMatch> v = ValueAndTail(t, q)) {
      return Match{p, v->match_end, p, key_end, v->has_value, q, v->value_end};
    }
  }
  return std::nullopt;
}

// At a line start s: `\s*(?:export\s+)?` then the rest. Whitespace runs are maximal (the key
// cannot start with whitespace), so the only choice is taking `export\s+` or not.
std::optional<Match> MatchAt(const Text& t, size_t p) {
  static constexpr char32_t kExport[] = U"export";
  if (t.compare(p, 6, kExport) == 0 && p + 6 < t.size() && IsJsWhitespace(t[p + 6])) {
    const size_t key = p + 6 + WsRun(t, p + 6);
    if (std::optional<Match> m = MatchFromKey(t, key)) {
      m->key_begin = p;
      return m;
    }
  }
  return MatchFromKey(t, p);
}

// value.replace(/^(['"`])([\s\S]*)\1$/gm, "$2"): at each line start (left to right, resuming
// after each replacement), a quote and the last identical quote that ends a line.
Text StripQuotes(const Text& v) {
  Text out;
  size_t last = 0;
  for (size_t s = 0; s < v.size(); ++s) {
    if (s > 0 && !IsJsLineTerminator(v[s - 1])) continue;
    const char32_t q = v[s];
    if (q != '\'' && q != '"' && q != '`') continue;
    size_t close = 0;
    for (size_t k = v.size(); k-- > s + 1;) {
      if (v[k] == q && (k + 1 == v.size() || IsJsLineTerminator(v[k + 1]))) {
        close = k;
        break;
      }
    }
    if (close == 0) continue;
    out.append(v, last, s - last);
    out.append(v, s + 1, close - s - 1);
    last = close + 1;
    s = close;  // the loop's ++s resumes at lastIndex
  }
  out.append(v, last, Text::npos);
  return out;
}

// value.replace(/\\n/g, "\n") then value.replace(/\\r/g, "\r").
Text ReplaceEscape(const Text& v, char32_t letter, char32_t replacement) {
  Text out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] == letter) {
      out.push_back(replacement);
      ++i;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

std::string ValueOf(const Text& t, const Match& m) {
  if (!m.has_value) return std::string();
  const std::u32string_view raw(t.data() + m.value_begin, m.value_end - m.value_begin);
  const std::u32string_view trimmed = JsTrim(raw);
  const char32_t maybe_quote = trimmed.empty() ? 0 : trimmed[0];
  Text value = StripQuotes(Text(trimmed));
  if (maybe_quote == '"') {
    value = ReplaceEscape(value, 'n', '\n');
    value = ReplaceEscape(value, 'r', '\r');
  }
  return EncodeUtf8(value);
}

size_t LineOf(const Text& t, size_t pos) {
  return static_cast<size_t>(std::count(t.begin(), t.begin() + static_cast<long>(pos), U'\n')) + 1;
}

// lines.replace(/\r\n?/gm, "\n")
Text NormalizeNewlines(const Text& decoded) {
  Text t;
  t.reserve(decoded.size());
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (decoded[i] == '\r') {
      t.push_back('\n');
      if (i + 1 < decoded.size() && decoded[i + 1] == '\n') ++i;
    } else {
      t.push_back(decoded[i]);
    }
  }
  return t;
}

// Strict mode: every line with something other than whitespace or a comment is touched by a
// match (`covered`: [key_begin, match_end) of each); the SDK silently drops the others.
absl::Status CheckEveryLineMatched(const Text& t, const std::vector<std::pair<size_t, size_t>>& covered) {
  std::vector<size_t> line_starts = {0};
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n') line_starts.push_back(i + 1);
  }
  const auto line_index = [&](size_t pos) {
    return static_cast<size_t>(std::upper_bound(line_starts.begin(), line_starts.end(), pos) - line_starts.begin() - 1);
  };
  std::vector<bool> touched(line_starts.size(), false);
  for (const auto& [begin, end] : covered) {
    const size_t last = line_index(end > begin ? end - 1 : begin);
    for (size_t l = line_index(begin); l <= last; ++l) touched[l] = true;
  }
  for (size_t l = 0; l < line_starts.size(); ++l) {
    const size_t b = line_starts[l];
    const size_t e = l + 1 < line_starts.size() ? line_starts[l + 1] - 1 : t.size();
    size_t first = b;
    while (first < e && IsJsWhitespace(t[first])) ++first;
    const bool content = first < e && t[first] != '#';
    if (content && !touched[l]) {
      return absl::InvalidArgumentError(absl::StrCat("env line ", l + 1,
                                                     ": not a KEY=VALUE assignment (keys use letters, digits, '_', "
                                                     "'.', '-')"));
    }
  }
  return absl::OkStatus();
}

// Object.entries order: array-index keys ascending, then the rest in insertion order.
void SortLikeObjectEntries(std::vector<EnvVar>& ordered) {
  std::stable_partition(ordered.begin(), ordered.end(),
                        [](const EnvVar& v) { return JsArrayIndex(v.key).has_value(); });
  auto index_end =
      std::find_if(ordered.begin(), ordered.end(), [](const EnvVar& v) { return !JsArrayIndex(v.key).has_value(); });
  std::stable_sort(ordered.begin(), index_end,
                   [](const EnvVar& a, const EnvVar& b) { return *JsArrayIndex(a.key) < *JsArrayIndex(b.key); });
}

absl::StatusOr<std::vector<EnvVar>> Parse(absl::string_view text, bool strict) {
  absl::StatusOr<Text> decoded = DecodeUtf8(text, "env text");
  if (!decoded.ok()) return decoded.status();
  const Text t = NormalizeNewlines(*decoded);

  // obj[key] = value on a fresh object: a repeated key keeps its first position.
  std::vector<EnvVar> ordered;
  std::map<std::string, size_t> position;
  std::vector<std::pair<size_t, size_t>> covered;  // [key_begin, match_end) of every match

  size_t last_index = 0;
  for (size_t s = 0; s <= t.size(); ++s) {
    if (s < last_index) s = last_index;
    if (s > 0 && !IsJsLineTerminator(t[s - 1])) continue;  // `^` (multiline)
    const size_t p = s + WsRun(t, s);
    std::optional<Match> m = MatchAt(t, p);
    if (!m) {
      // Every line start in (s, p] leads to the same p and fails the same way.
      s = std::max(s, p);
      continue;
    }
    covered.emplace_back(m->key_begin, m->match_end);
    std::string key = EncodeUtf8(std::u32string_view(t.data() + m->name_begin, m->name_end - m->name_begin));
    std::string value = ValueOf(t, *m);
    last_index = m->match_end;
    s = last_index - 1;        // the loop's ++s
    if (key == "__proto__") {  // the __proto__ setter ignores a string
      if (strict) {
        return absl::InvalidArgumentError(
            absl::StrCat("env line ", LineOf(t, m->name_begin), ": key __proto__ cannot be used"));
      }
      continue;
    }
    auto [it, inserted] = position.emplace(key, ordered.size());
    if (inserted) {
      ordered.push_back(EnvVar{std::move(key), std::move(value)});
    } else {
      ordered[it->second].value = std::move(value);
    }
  }

  if (strict) {
    RETURN_IF_ERROR(CheckEveryLineMatched(t, covered));
  }

  SortLikeObjectEntries(ordered);
  return ordered;
}

}  // namespace

absl::StatusOr<std::vector<EnvVar>> ParseEnvVars(absl::string_view text) { return Parse(text, /*strict=*/true); }

absl::StatusOr<std::vector<EnvVar>> ParseEnvVarsAsSdk(absl::string_view text) { return Parse(text, /*strict=*/false); }

}  // namespace cloudapi
