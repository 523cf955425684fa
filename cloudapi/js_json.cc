#include "cloudapi/js_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <system_error>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>

#include "absl/strings/str_cat.h"
#include "cloudapi/js_text.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

constexpr size_t kMaxDepth = 256;

// JS's ToNumber on a JSON number literal (the literal is already known to be well-formed).
double ParseJsonNumber(absl::string_view text) {
  double d = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec == std::errc() && ptr == text.data() + text.size()) return d;
  // Out of range: from_chars leaves d unset. Decide between +-Infinity and +-0 by the decimal
  // magnitude of the first significant digit.
  const bool negative = !text.empty() && text[0] == '-';
  absl::string_view mantissa = text.substr(negative ? 1 : 0);
  long long exponent = 0;
  size_t e = mantissa.find_first_of("eE");
  if (e != absl::string_view::npos) {
    absl::string_view exp_text = mantissa.substr(e + 1);
    bool exp_negative = false;
    if (!exp_text.empty() && (exp_text[0] == '+' || exp_text[0] == '-')) {
      exp_negative = exp_text[0] == '-';
      exp_text.remove_prefix(1);
    }
    for (char c : exp_text) exponent = std::min(exponent * 10 + (c - '0'), 100000LL);
    if (exp_negative) exponent = -exponent;
    mantissa = mantissa.substr(0, e);
  }
  size_t dot = mantissa.find('.');
  absl::string_view int_part = mantissa.substr(0, dot);
  absl::string_view frac_part = dot == absl::string_view::npos ? absl::string_view() : mantissa.substr(dot + 1);
  long long magnitude = 0;
  size_t nz = int_part.find_first_not_of('0');
  if (nz != absl::string_view::npos) {
    magnitude = static_cast<long long>(int_part.size() - nz - 1) + exponent;
  } else {
    size_t fz = frac_part.find_first_not_of('0');
    magnitude = (fz == absl::string_view::npos ? 0 : -static_cast<long long>(fz) - 1) + exponent;
  }
  double v = magnitude > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  return negative ? -v : v;
}

// Builds boost::json values with JS semantics from basic_parser events.
class JsHandler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) {
    stack_.push_back(Frame{false, json::object(), json::array(), std::string()});
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    json::array a = std::move(stack_.back().array);
    stack_.pop_back();
    Emit(json::value(std::move(a)));
    return true;
  }
  bool on_object_begin(json::error_code&) {
    stack_.push_back(Frame{true, json::object(), json::array(), std::string()});
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    json::object o = std::move(stack_.back().object);
    stack_.pop_back();
    Emit(json::value(std::move(o)));
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    Emit(json::value(json::string_view(text_)));
    text_.clear();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    stack_.back().key = std::move(text_);
    text_.clear();
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t, json::string_view s, json::error_code&) { return EmitNumber(s); }
  bool on_uint64(uint64_t, json::string_view s, json::error_code&) { return EmitNumber(s); }
  bool on_double(double, json::string_view s, json::error_code&) { return EmitNumber(s); }
  bool on_bool(bool b, json::error_code&) {
    Emit(json::value(b));
    return true;
  }
  bool on_null(json::error_code&) {
    Emit(json::value(nullptr));
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  json::value TakeRoot() { return std::move(root_); }

 private:
  struct Frame {
    bool is_object;
    json::object object;
    json::array array;
    std::string key;
  };

  bool EmitNumber(json::string_view last) {
    number_.append(last.data(), last.size());
    Emit(json::value(ParseJsonNumber(number_)));
    number_.clear();
    return true;
  }

  void Emit(json::value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
    } else if (stack_.back().is_object) {
      // JSON.parse: CreateDataProperty replaces the value of a repeated key in place.
      stack_.back().object.insert_or_assign(stack_.back().key, std::move(v));
    } else {
      stack_.back().array.push_back(std::move(v));
    }
  }

  std::vector<Frame> stack_;
  std::string text_;
  std::string number_;
  json::value root_;
};

absl::Status Write(const json::value& v, const std::string& gap, std::string& indent, std::string& out);

absl::Status WriteChildren(bool is_object, size_t count, const std::string& gap, std::string& indent, std::string& out,
                           const auto& write_child /* (size_t i) -> absl::Status */) {
  const char open = is_object ? '{' : '[';
  const char close = is_object ? '}' : ']';
  out.push_back(open);
  if (count == 0) {
    out.push_back(close);
    return absl::OkStatus();
  }
  const std::string stepback = indent;
  indent += gap;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    if (!gap.empty()) {
      out.push_back('\n');
      out += indent;
    }
    absl::Status s = write_child(i);
    if (!s.ok()) return s;
  }
  if (!gap.empty()) {
    out.push_back('\n');
    out += stepback;
  }
  indent = stepback;
  out.push_back(close);
  return absl::OkStatus();
}

absl::Status Write(const json::value& v, const std::string& gap, std::string& indent, std::string& out) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return absl::OkStatus();
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return absl::OkStatus();
    case json::kind::int64:
      out += JsNumberToString(static_cast<double>(v.get_int64()));
      return absl::OkStatus();
    case json::kind::uint64:
      out += JsNumberToString(static_cast<double>(v.get_uint64()));
      return absl::OkStatus();
    case json::kind::double_: {
      const double d = v.get_double();
      out += std::isfinite(d) ? JsNumberToString(d) : "null";
      return absl::OkStatus();
    }
    case json::kind::string: {
      const json::string& s = v.get_string();
      return AppendJsJsonString(absl::string_view(s.data(), s.size()), out);
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      return WriteChildren(false, a.size(), gap, indent, out, [&](size_t i) { return Write(a[i], gap, indent, out); });
    }
    case json::kind::object: {
      std::vector<const json::key_value_pair*> props = JsPropertyOrder(v.get_object());
      return WriteChildren(true, props.size(), gap, indent, out, [&](size_t i) {
        const json::string_view key = props[i]->key();
        absl::Status s = AppendJsJsonString(absl::string_view(key.data(), key.size()), out);
        if (!s.ok()) return s;
        out += gap.empty() ? ":" : ": ";
        return Write(props[i]->value(), gap, indent, out);
      });
    }
  }
  return absl::InternalError("js json: unknown value kind");
}

}  // namespace

absl::StatusOr<json::value> ParseJsonLikeJs(absl::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  json::basic_parser<JsHandler> parser(options);
  json::error_code ec;
  const size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("json: ", ec.message(), " at byte ", n));
  }
  if (!parser.done()) return absl::InvalidArgumentError("json: incomplete document");
  if (n != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("json: extra data at byte ", n));
  }
  return parser.handler().TakeRoot();
}

absl::StatusOr<std::string> StringifyLikeJs(const json::value& value, int indent) {
  // JSON.stringify clamps a numeric space argument to 10.
  const std::string gap(static_cast<size_t>(std::clamp(indent, 0, 10)), ' ');
  std::string current;
  std::string out;
  absl::Status s = Write(value, gap, current, out);
  if (!s.ok()) return s;
  return out;
}

std::string JsNumberToString(double value) {
  if (std::isnan(value)) return "NaN";
  if (value == 0) return "0";  // also -0
  if (value < 0) return absl::StrCat("-", JsNumberToString(-value));
  if (std::isinf(value)) return "Infinity";
  // Shortest round-trip digits, as "d.ddde+XX".
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  if (ec != std::errc()) std::abort();  // 64 bytes always suffice for a double
  const absl::string_view sci(buf, static_cast<size_t>(end - buf));
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) return digits + std::string(static_cast<size_t>(n - k), '0');
  if (0 < n && n <= 21) {
    return absl::StrCat(digits.substr(0, static_cast<size_t>(n)), ".", digits.substr(static_cast<size_t>(n)));
  }
  if (-6 < n && n <= 0) return absl::StrCat("0.", std::string(static_cast<size_t>(-n), '0'), digits);
  const int e = n - 1;
  const std::string exp_text = absl::StrCat("e", e < 0 ? "-" : "+", e < 0 ? -e : e);
  if (k == 1) return digits + exp_text;
  return absl::StrCat(digits.substr(0, 1), ".", digits.substr(1), exp_text);
}

absl::Status AppendJsJsonString(absl::string_view text, std::string& out) {
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("json: string is not valid UTF-8");
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : text) {
    const auto c = static_cast<uint8_t>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);  // everything else, DEL and U+2028 included, is emitted as is
        }
    }
  }
  out.push_back('"');
  return absl::OkStatus();
}

std::vector<const json::key_value_pair*> JsPropertyOrder(const json::object& object) {
  std::vector<std::pair<uint32_t, const json::key_value_pair*>> indices;
  std::vector<const json::key_value_pair*> others;
  for (const json::key_value_pair& kv : object) {
    const json::string_view key = kv.key();
    if (std::optional<uint32_t> i = JsArrayIndex(absl::string_view(key.data(), key.size()))) {
      indices.emplace_back(*i, &kv);
    } else {
      others.push_back(&kv);
    }
  }
  std::sort(indices.begin(), indices.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const json::key_value_pair*> out;
  out.reserve(object.size());
  for (const auto& [i, kv] : indices) out.push_back(kv);
  out.insert(out.end(), others.begin(), others.end());
  return out;
}

std::optional<int64_t> JsonAsInt(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.007199254740992e15) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

}  // namespace cloudapi
