// GPT-2's pretokenizer (see pretokenizer.h for the pattern and its semantics).
//
// Trick: ASCII, which is most of the text in practice, is classified by a 128-entry table; only
// other code points go to ICU.
#include "data/bpe/pretokenizer.h"

#include <unicode/uchar.h>

#include <array>

#include "data/bpe/byte_level.h"

namespace anvil::data::bpe {
namespace {

struct CharInfo {
  CharClass cls;
  int length;  // bytes
};

constexpr std::array<CharClass, 128> make_ascii_table() {
  std::array<CharClass, 128> table{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      table[c] = CharClass::kLetter;
    else if (c >= '0' && c <= '9')
      table[c] = CharClass::kNumber;
    else if ((c >= 0x09 && c <= 0x0D) || c == ' ')  // Unicode White_Space within ASCII
      table[c] = CharClass::kSpace;
    else
      table[c] = CharClass::kOther;
  }
  return table;
}
constexpr std::array<CharClass, 128> kAsciiClass = make_ascii_table();

CharInfo char_at(std::string_view text, size_t pos) {
  auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return {kAsciiClass[lead], 1};
  char32_t cp;
  int len = decode_utf8(text, pos, cp);
  if (len == 0) return {CharClass::kOther, 1};  // a stray byte is one "other" character
  return {classify_code_point(cp), len};
}

// End of the run of characters of class cls starting at pos.
size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    CharInfo c = char_at(text, pos);
    if (c.cls != cls) break;
    pos += c.length;
  }
  return pos;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd, case-sensitive as in GPT-2) at pos, or 0.
size_t contraction_length(std::string_view text, size_t pos) {
  if (pos + 1 >= text.size()) return 0;
  char a = text[pos + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= text.size()) return 0;
  char b = text[pos + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

CharClass classify_code_point(char32_t cp) {
  if (cp < 0x80) return kAsciiClass[cp];
  auto c = static_cast<UChar32>(cp);
  uint32_t mask = U_GET_GC_MASK(c);
  if (mask & U_GC_L_MASK) return CharClass::kLetter;
  if (mask & U_GC_N_MASK) return CharClass::kNumber;
  if (u_isUWhiteSpace(c)) return CharClass::kSpace;
  return CharClass::kOther;
}

size_t gpt2_pretoken_end(std::string_view text, size_t pos) {
  const size_t n = text.size();
  // 's|'t|'re|'ve|'m|'ll|'d
  if (text[pos] == '\'') {
    if (size_t len = contraction_length(text, pos)) return pos + len;
  }
  CharInfo first = char_at(text, pos);
  // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+` with the optional leading space.
  if (text[pos] == ' ' && pos + 1 < n) {
    CharInfo next = char_at(text, pos + 1);
    if (next.cls != CharClass::kSpace) return run_end(text, pos + 1, next.cls);
  }
  if (first.cls != CharClass::kSpace) return run_end(text, pos, first.cls);
  // `\s+(?!\S)|\s+`: a whitespace run; if a non-space follows, leave the run's last character
  // to start the next pretoken (unless the run is a single character).
  size_t last_start = pos;
  size_t end = pos;
  while (end < n) {
    CharInfo c = char_at(text, end);
    if (c.cls != CharClass::kSpace) break;
    last_start = end;
    end += c.length;
  }
  if (end == n || last_start == pos) return end;
  return last_start;
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> words;
  for_each_gpt2_pretoken(text, [&](std::string_view w) { words.push_back(w); });
  return words;
}

}  // namespace anvil::data::bpe
