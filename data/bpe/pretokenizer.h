// GPT-2's pretokenizer, written by hand over UTF-8 code points (no regex engine).
//
// GPT-2 cuts text into "words" with the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// and BPE then runs inside each word only. gpt2_pretoken_end() reproduces the leftmost-alternative
// semantics of that regex at one position; the only non-obvious branch is `\s+(?!\S)`: a whitespace
// run followed by a non-space gives back its last character, so "a   b" splits as "a", "  ", " b".
// Letters (\p{L}) and numbers (\p{N}) come from ICU's general categories, \s is Unicode White_Space.
// Bytes that are not valid UTF-8 count as one "other" character each, so any byte string splits.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace anvil::data::bpe {

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

// Class of a Unicode code point (ICU general category / White_Space).
CharClass classify_code_point(char32_t code_point);

// End (byte offset, exclusive) of the pretoken that starts at pos (pos < text.size()).
size_t gpt2_pretoken_end(std::string_view text, size_t pos);

// Calls visit(std::string_view word) for every pretoken of text, in order; the words tile text.
template <typename Visit>
void for_each_gpt2_pretoken(std::string_view text, Visit&& visit) {
  for (size_t pos = 0; pos < text.size();) {
    size_t end = gpt2_pretoken_end(text, pos);
    visit(text.substr(pos, end - pos));
    pos = end;
  }
}

// All pretokens of text (for tests and tools; encode uses the visitor form).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

}  // namespace anvil::data::bpe
