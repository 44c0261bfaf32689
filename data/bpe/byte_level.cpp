// GPT-2's byte <-> printable code point map and small UTF-8 helpers (see byte_level.h).
#include "data/bpe/byte_level.h"

#include <array>

namespace anvil::data::bpe {
namespace {

// Every mapped code point is below this bound (the largest is U+0143).
constexpr char32_t kAlphabetEnd = 0x144;

struct ByteAlphabet {
  std::array<char32_t, 256> byte_to_cp{};
  std::array<int16_t, kAlphabetEnd> cp_to_byte{};  // -1: not part of the alphabet

  ByteAlphabet() {
    cp_to_byte.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      char32_t cp = printable(b) ? static_cast<char32_t>(b) : next_extra++;
      byte_to_cp[b] = cp;
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet table;
  return table;
}

}  // namespace

char32_t byte_to_code_point(uint8_t byte) { return alphabet().byte_to_cp[byte]; }

void append_utf8(std::string& out, char32_t cp) {
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

int decode_utf8(std::string_view text, size_t pos, char32_t& code_point) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  unsigned char lead = s[pos];
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  int len;
  char32_t cp;
  char32_t min_cp;
  if ((lead & 0xE0) == 0xC0) {
    len = 2, cp = lead & 0x1F, min_cp = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, cp = lead & 0x0F, min_cp = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, cp = lead & 0x07, min_cp = 0x10000;
  } else {
    return 0;
  }
  if (pos + len > n) return 0;
  for (int i = 1; i < len; ++i) {
    unsigned char c = s[pos + i];
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  code_point = cp;
  return len;
}

std::string bytes_to_token_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, alphabet().byte_to_cp[b]);
  return out;
}

std::optional<std::string> token_text_to_bytes(std::string_view token_text) {
  std::string out;
  out.reserve(token_text.size());
  for (size_t pos = 0; pos < token_text.size();) {
    char32_t cp;
    int len = decode_utf8(token_text, pos, cp);
    if (len == 0 || cp >= kAlphabetEnd || alphabet().cp_to_byte[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(alphabet().cp_to_byte[cp]));
    pos += len;
  }
  return out;
}

}  // namespace anvil::data::bpe
