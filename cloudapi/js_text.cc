#include "cloudapi/js_text.h"

#include "absl/strings/str_cat.h"

namespace cloudapi {
namespace {

// Decodes one code point at text[i]; 0 length on malformed input.
struct Decoded {
  char32_t cp;
  size_t len;
};

Decoded DecodeOne(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return {b0, 1};
  size_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (i + len > text.size()) return {0, 0};
  for (size_t k = 1; k < len; ++k) {
    const uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, len};
}

void AppendUtf16(char32_t cp, std::u16string& out) {
  if (cp < 0x10000) {
    out.push_back(static_cast<char16_t>(cp));
  } else {
    cp -= 0x10000;
    out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
    out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
  }
}

std::u16string ToUtf16(absl::string_view text) {
  std::u16string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    Decoded d = DecodeOne(text, i);
    if (d.len == 0) {  // callers pass valid UTF-8; keep going deterministically anyway
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    AppendUtf16(d.cp, out);
    i += d.len;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::u32string> DecodeUtf8(absl::string_view text, absl::string_view what) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    Decoded d = DecodeOne(text, i);
    if (d.len == 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": invalid UTF-8 at byte ", i));
    }
    out.push_back(d.cp);
    i += d.len;
  }
  return out;
}

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    Decoded d = DecodeOne(text, i);
    if (d.len == 0) return false;
    i += d.len;
  }
  return true;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t cp : code_points) AppendUtf8(cp, out);
  return out;
}

bool IsJsWhitespace(char32_t c) {
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool IsJsLineTerminator(char32_t c) { return c == 0x0A || c == 0x0D || c == 0x2028 || c == 0x2029; }

std::u32string_view JsTrim(std::u32string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsJsWhitespace(s[b])) ++b;
  while (e > b && IsJsWhitespace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool JsStringLess(absl::string_view a, absl::string_view b) {
  // UTF-8 byte order equals code point order; it differs from UTF-16 order only when a
  // supplementary character meets one in U+E000..U+FFFF. Convert only then.
  bool ascii = true;
  for (char c : a) ascii &= static_cast<uint8_t>(c) < 0x80;
  for (char c : b) ascii &= static_cast<uint8_t>(c) < 0x80;
  if (ascii) return a < b;
  return ToUtf16(a) < ToUtf16(b);
}

std::optional<uint32_t> JsArrayIndex(absl::string_view key) {
  if (key.empty() || key.size() > 10) return std::nullopt;
  if (key.size() > 1 && key[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v >= 0xFFFFFFFFull) return std::nullopt;  // 2^32 - 1 is not an array index
  return static_cast<uint32_t>(v);
}

}  // namespace cloudapi
