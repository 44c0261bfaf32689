// GPT-2's byte-level alphabet and the UTF-8 helpers the BPE tokenizer needs.
//
// GPT-2 stores every token as text in which each raw byte is replaced by one printable code point:
// the printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves and
// the other 68 bytes (controls, space, U+00AD...) take U+0100, U+0101, ... in increasing byte order.
// So a space is "Ġ" (U+0120) and a newline "Ċ" (U+010A). The map is a bijection, which is what lets
// vocab.json / merges.txt hold arbitrary bytes as readable JSON text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anvil::data::bpe {

// The printable code point GPT-2 uses for one raw byte.
char32_t byte_to_code_point(uint8_t byte);

// Raw bytes -> GPT-2 token text (UTF-8 of the mapped code points).
std::string bytes_to_token_text(std::string_view bytes);

// GPT-2 token text -> raw bytes; nullopt when the text is not valid UTF-8 or holds a code point
// outside the byte-level alphabet (e.g. a SentencePiece "▁" token).
std::optional<std::string> token_text_to_bytes(std::string_view token_text);

// Appends the UTF-8 encoding of a code point.
void append_utf8(std::string& out, char32_t code_point);

// Decodes the code point starting at text[pos]. Returns its length in bytes (1..4) and sets
// code_point, or returns 0 when the bytes there are not valid UTF-8 (bad lead byte, truncated or
// bad continuation, overlong form, surrogate, > U+10FFFF).
int decode_utf8(std::string_view text, size_t pos, char32_t& code_point);

}  // namespace anvil::data::bpe
