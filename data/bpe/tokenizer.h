// Byte-level BPE tokenizer, compatible with GPT-2 (vocab.json + merges.txt) and with Hugging Face
// tokenizer.json files of the same kind; it can also train a new vocabulary.
//
//   auto tok = BpeTokenizer::load(shared / "data/gpt2-tokenizer");
//   std::vector<uint32_t> ids = tok.encode("Hello world");   // {15496, 995}
//   std::string text = tok.decode(ids);
//
// Encoding: text is split on special tokens (when allowed), then into GPT-2 pretokens
// (pretokenizer.h), and BPE merges run inside each pretoken, lowest merge rank first. Results are
// cached per pretoken, so common words cost one hash lookup. A tokenizer is cheap to copy (copies
// share the immutable model and the cache) and safe to use from several threads at once.
//
// Special tokens: entries of vocab.json that are neither a byte nor the result of a merge (GPT-2's
// "<|endoftext|>"), or the added_tokens of a tokenizer.json. Their text is matched verbatim.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anvil::data {

namespace bpe {
struct BpeModel;
}

class BpeTokenizer {
 public:
  // A folder holding vocab.json + merges.txt (GPT-2 format) or tokenizer.json (Hugging Face), or a
  // path to a tokenizer.json file. Throws anvil::DataError naming the file and line/key on bad
  // input (missing file, malformed JSON, a merges line that is not two tokens, a merge of unknown
  // tokens...).
  static BpeTokenizer load(const std::filesystem::path& path);
  // The file load(path) reads its vocabulary from (vocab.json, or tokenizer.json), for messages and
  // checks made before loading. Throws anvil::DataError as load() does when there is none.
  static std::filesystem::path vocabulary_file(const std::filesystem::path& path);
  static BpeTokenizer load_gpt2(const std::filesystem::path& vocab_json,
                                const std::filesystem::path& merges_txt);
  static BpeTokenizer load_hf_json(const std::filesystem::path& tokenizer_json);

  // Trains a byte-level BPE of vocab_size tokens (256 byte tokens + merges + special tokens) on
  // corpus with GPT-2's pretokenizer; special tokens get the last ids and are cut out of the
  // corpus before counting. Stops early (smaller vocabulary) when no pair is left to merge.
  // Throws anvil::ConfigError when vocab_size cannot hold the bytes and special tokens.
  static BpeTokenizer train(std::string_view corpus, int64_t vocab_size,
                            const std::vector<std::string>& special_tokens = {"<|endoftext|>"});

  // Writes vocab.json + merges.txt (GPT-2 format, loadable by load() and by HF) atomically,
  // creating dir if needed.
  void save(const std::filesystem::path& dir) const;

  // Encodes exactly as GPT-2 does; when allow_special, special-token text becomes its id.
  std::vector<uint32_t> encode(std::string_view text, bool allow_special = true) const;
  // Concatenated bytes of the tokens (invalid UTF-8 is kept as is). Throws DataError on an id
  // outside the vocabulary.
  std::string decode(const std::vector<uint32_t>& ids) const;
  // Raw bytes of one token (a special token's text for special tokens).
  std::string token_bytes(uint32_t id) const;
  int64_t vocab_size() const;
  std::optional<uint32_t> special_token_id(std::string_view token) const;
  // Ids of all special tokens, ascending.
  std::vector<uint32_t> special_token_ids() const;
  uint32_t eot_id() const;  // "<|endoftext|>"; throws DataError if the vocabulary has none

 private:
  explicit BpeTokenizer(std::shared_ptr<const bpe::BpeModel> model);
  std::shared_ptr<const bpe::BpeModel> model_;
};

}  // namespace anvil::data
