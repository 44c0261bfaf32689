// `anvil tokenize`: encodes stdin with a BPE tokenizer and prints the ids as a JSON array on one
// line; with --decode, reads a JSON array of ids from stdin and writes the text (raw bytes, no
// newline added, so decode(encode(x)) reproduces x exactly).
//
//   echo -n "Hello world" | anvil tokenize --tokenizer ../shared/data/gpt2-tokenizer   # [15496,995]
//   echo "[15496,995]" | anvil tokenize --tokenizer ../shared/data/gpt2-tokenizer --decode
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "core/base/error.h"
#include "data/bpe/tokenizer.h"

namespace anvil::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer;
  bool decode = false;
  bool no_special = false;
};

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::vector<uint32_t> parse_ids(const std::string& text) {
  nlohmann::json ids;
  try {
    ids = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(detail::concat("stdin: expected a JSON array of token ids: ", e.what()));
  }
  ANVIL_CHECK_AS(DataError, ids.is_array(), "stdin: expected a JSON array of token ids, got ",
                 ids.type_name());
  std::vector<uint32_t> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const nlohmann::json& id = ids[i];
    ANVIL_CHECK_AS(DataError,
                   id.is_number_unsigned() && id.get<uint64_t>() <= UINT32_MAX,
                   "stdin: element ", i, " is ", id.dump(), ", expected a non-negative token id");
    out.push_back(id.get<uint32_t>());
  }
  return out;
}

int run_tokenize(const TokenizeOptions& opts) {
  data::BpeTokenizer tokenizer = data::BpeTokenizer::load(opts.tokenizer);
  std::string input = read_stdin();
  if (opts.decode) {
    std::string text = tokenizer.decode(parse_ids(input));
    std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::cout.flush();
    return 0;
  }
  std::vector<uint32_t> ids = tokenizer.encode(input, !opts.no_special);
  std::string line = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ',';
    line += std::to_string(ids[i]);
  }
  line += "]\n";
  std::cout << line;
  std::cout.flush();
  return 0;
}

Command reg("tokenize", "Encode stdin to token ids (JSON array), or decode ids back to text",
            [](CLI::App& app) {
              auto opts = std::make_shared<TokenizeOptions>();
              app.add_option("--tokenizer", opts->tokenizer,
                             "Folder with vocab.json + merges.txt or tokenizer.json, or a "
                             "tokenizer.json file")
                  ->required();
              app.add_flag("--decode", opts->decode,
                           "Read a JSON array of ids from stdin and print the text");
              app.add_flag("--no-special", opts->no_special,
                           "Encode special-token text such as <|endoftext|> as ordinary text");
              return [opts] { return run_tokenize(*opts); };
            });

}  // namespace
}  // namespace anvil::cli
