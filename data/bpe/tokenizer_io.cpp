// Loading GPT-2 (vocab.json + merges.txt) and Hugging Face (tokenizer.json) byte-level BPE files,
// and saving in GPT-2's format.
//
// Both formats store tokens as byte-level text (byte_level.h). Vocabulary entries that are neither
// a single byte nor the result of some merge can never come out of BPE; they are the special tokens
// (GPT-2's "<|endoftext|>") and their text is kept verbatim, not byte-decoded. A tokenizer.json
// names its special tokens in added_tokens.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/base/error.h"
#include "core/base/fs.h"
#include "data/bpe/bpe_model.h"
#include "data/bpe/byte_level.h"
#include "data/bpe/tokenizer.h"

namespace anvil::data {
namespace {

namespace fs = std::filesystem;
using bpe::BpeModel;

struct VocabEntry {
  std::string text;  // as written in the file
  int64_t id;
};
struct MergeSpec {
  std::string left, right;  // byte-level token text
  std::string where;        // "merges.txt:12" or "tokenizer.json: model.merges[11]"
};
struct AddedToken {
  std::string content;
  int64_t id;
};

// Largest id accepted, far above any real vocabulary: guards against a typo allocating gigabytes.
constexpr int64_t kMaxTokenId = int64_t{1} << 26;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  ANVIL_CHECK_AS(DataError, in.good(), path.string(), ": cannot open tokenizer file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

nlohmann::json parse_json(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(detail::concat(path.string(), ": malformed JSON: ", e.what()));
  }
}

// Reads a JSON object of token text -> id.
std::vector<VocabEntry> read_vocab_object(const nlohmann::json& object, const std::string& where) {
  ANVIL_CHECK_AS(DataError, object.is_object(), where, " must be a JSON object of token -> id");
  std::vector<VocabEntry> vocab;
  vocab.reserve(object.size());
  for (const auto& [text, id] : object.items()) {
    ANVIL_CHECK_AS(DataError, id.is_number_integer() && id.get<int64_t>() >= 0 &&
                                  id.get<int64_t>() < kMaxTokenId,
                   where, ": token \"", text, "\" has id ", id.dump(),
                   ", expected a non-negative integer");
    vocab.push_back({text, id.get<int64_t>()});
  }
  return vocab;
}

// Builds the model from the file contents; `source` names the input in error messages.
std::shared_ptr<BpeModel> assemble(const std::vector<VocabEntry>& vocab,
                                   const std::vector<MergeSpec>& merges,
                                   const std::vector<AddedToken>& added, const std::string& source) {
  auto model = std::make_shared<BpeModel>();
  int64_t size = 0;
  for (const VocabEntry& e : vocab) size = std::max(size, e.id + 1);
  for (const AddedToken& a : added) size = std::max(size, a.id + 1);
  model->token_bytes.assign(size, {});
  model->id_defined.assign(size, 0);
  std::vector<const std::string*> file_text(size, nullptr);
  std::vector<uint8_t> byte_decoded(size, 0), reachable(size, 0), added_id(size, 0);
  std::unordered_map<std::string, uint32_t> id_of_bytes;
  id_of_bytes.reserve(vocab.size());
  for (const VocabEntry& e : vocab) {
    ANVIL_CHECK_AS(DataError, !model->id_defined[e.id], source, ": id ", e.id,
                   " is used by two tokens (\"", *file_text[e.id], "\" and \"", e.text, "\")");
    model->id_defined[e.id] = 1;
    file_text[e.id] = &e.text;
    if (std::optional<std::string> bytes = bpe::token_text_to_bytes(e.text)) {
      byte_decoded[e.id] = 1;
      reachable[e.id] = bytes->size() == 1;
      id_of_bytes.emplace(*bytes, static_cast<uint32_t>(e.id));
      model->token_bytes[e.id] = std::move(*bytes);
    }
  }
  auto lookup = [&](const std::string& text, const MergeSpec& m) -> std::pair<uint32_t, std::string> {
    std::optional<std::string> bytes = bpe::token_text_to_bytes(text);
    ANVIL_CHECK_AS(DataError, bytes.has_value(), m.where, ": merge token \"", text,
                   "\" is not byte-level BPE text");
    auto it = id_of_bytes.find(*bytes);
    ANVIL_CHECK_AS(DataError, it != id_of_bytes.end(), m.where, ": merge token \"", text,
                   "\" is not in the vocabulary");
    return {it->second, std::move(*bytes)};
  };
  model->merges.reserve(merges.size());
  for (const MergeSpec& m : merges) {
    auto [left, left_bytes] = lookup(m.left, m);
    auto [right, right_bytes] = lookup(m.right, m);
    auto it = id_of_bytes.find(left_bytes + right_bytes);
    ANVIL_CHECK_AS(DataError, it != id_of_bytes.end(), m.where, ": the merge of \"", m.left,
                   "\" and \"", m.right, "\" gives \"", m.left, m.right,
                   "\", which is not in the vocabulary");
    reachable[it->second] = 1;
    model->merges.push_back({left, right, it->second});
  }
  for (const AddedToken& a : added) {
    ANVIL_CHECK_AS(DataError, !added_id[a.id], source, ": added token id ", a.id, " is listed twice");
    added_id[a.id] = 1;
    model->id_defined[a.id] = 1;
    model->token_bytes[a.id] = a.content;
    model->specials.push_back({a.content, static_cast<uint32_t>(a.id)});
  }
  for (int64_t id = 0; id < size; ++id) {
    if (!model->id_defined[id] || reachable[id] || added_id[id]) continue;
    // Unreachable by BPE: a special token, matched by its text as written.
    model->token_bytes[id] = *file_text[id];
    model->specials.push_back({*file_text[id], static_cast<uint32_t>(id)});
  }
  model->finalize(source);
  return model;
}

std::vector<MergeSpec> read_merges_txt(const fs::path& path) {
  std::string text = read_file(path);
  std::vector<MergeSpec> merges;
  std::istringstream lines(text);
  std::string line;
  for (int64_t line_no = 1; std::getline(lines, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    size_t space = line.find(' ');
    bool ok = space != std::string::npos && space > 0 && space + 1 < line.size() &&
              line.find(' ', space + 1) == std::string::npos;
    ANVIL_CHECK_AS(DataError, ok, path.string(), ":", line_no,
                   ": expected two tokens separated by one space, got \"", line, "\"");
    merges.push_back({line.substr(0, space), line.substr(space + 1),
                      detail::concat(path.string(), ":", line_no)});
  }
  return merges;
}

}  // namespace

BpeTokenizer BpeTokenizer::load_gpt2(const fs::path& vocab_json, const fs::path& merges_txt) {
  std::vector<VocabEntry> vocab = read_vocab_object(parse_json(vocab_json), vocab_json.string());
  std::vector<MergeSpec> merges = read_merges_txt(merges_txt);
  return BpeTokenizer(assemble(vocab, merges, {}, vocab_json.string()));
}

BpeTokenizer BpeTokenizer::load_hf_json(const fs::path& tokenizer_json) {
  const std::string file = tokenizer_json.string();
  nlohmann::json root = parse_json(tokenizer_json);
  ANVIL_CHECK_AS(DataError, root.is_object() && root.contains("model") && root["model"].is_object(),
                 file, ": expected a JSON object with a \"model\" object");
  const nlohmann::json& model = root["model"];
  if (model.contains("type")) {
    ANVIL_CHECK_AS(DataError, model["type"] == "BPE", file, ": model.type is ",
                   model["type"].dump(), ", expected \"BPE\"");
  }
  // Only GPT-2's byte-level pretokenizer is implemented; anything else would silently encode
  // differently from the tokenizer the file describes.
  if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
    const nlohmann::json& pre = root["pre_tokenizer"];
    bool byte_level = pre.is_object() && pre.value("type", "") == "ByteLevel" &&
                      !pre.value("add_prefix_space", false) && pre.value("use_regex", true);
    ANVIL_CHECK_AS(DataError, byte_level, file, ": pre_tokenizer ", pre.dump(),
                   " is not supported (only ByteLevel with add_prefix_space false, GPT-2's)");
  }
  ANVIL_CHECK_AS(DataError, model.contains("vocab"), file, ": model.vocab is missing");
  std::vector<VocabEntry> vocab = read_vocab_object(model["vocab"], file + ": model.vocab");
  std::vector<MergeSpec> merges;
  if (model.contains("merges")) {
    const nlohmann::json& list = model["merges"];
    ANVIL_CHECK_AS(DataError, list.is_array(), file, ": model.merges must be an array");
    merges.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      std::string where = detail::concat(file, ": model.merges[", i, "]");
      const nlohmann::json& m = list[i];
      if (m.is_string()) {  // "left right"
        const std::string& s = m.get_ref<const std::string&>();
        size_t space = s.find(' ');
        bool ok = space != std::string::npos && space > 0 && space + 1 < s.size() &&
                  s.find(' ', space + 1) == std::string::npos;
        ANVIL_CHECK_AS(DataError, ok, where, ": expected \"left right\", got ", m.dump());
        merges.push_back({s.substr(0, space), s.substr(space + 1), where});
      } else {  // ["left", "right"]
        bool ok = m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string();
        ANVIL_CHECK_AS(DataError, ok, where, ": expected \"left right\" or [left, right], got ",
                       m.dump());
        merges.push_back({m[0].get<std::string>(), m[1].get<std::string>(), where});
      }
    }
  }
  std::vector<AddedToken> added;
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const nlohmann::json& list = root["added_tokens"];
    ANVIL_CHECK_AS(DataError, list.is_array(), file, ": added_tokens must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const nlohmann::json& a = list[i];
      bool ok = a.is_object() && a.contains("id") && a["id"].is_number_integer() &&
                a["id"].get<int64_t>() >= 0 && a["id"].get<int64_t>() < kMaxTokenId &&
                a.contains("content") && a["content"].is_string();
      ANVIL_CHECK_AS(DataError, ok, file, ": added_tokens[", i,
                     "] needs an integer \"id\" and a string \"content\"");
      added.push_back({a["content"].get<std::string>(), a["id"].get<int64_t>()});
    }
  }
  return BpeTokenizer(assemble(vocab, merges, added, file));
}

fs::path BpeTokenizer::vocabulary_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "vocab.json", ec) && fs::exists(path / "merges.txt", ec)) return path / "vocab.json";
    if (fs::exists(path / "tokenizer.json", ec)) return path / "tokenizer.json";
    throw DataError(detail::concat(path.string(),
                                   ": no tokenizer here (expected vocab.json + merges.txt, or "
                                   "tokenizer.json)"));
  }
  ANVIL_CHECK_AS(DataError, fs::exists(path, ec), path.string(),
                 ": tokenizer not found (expected a folder with vocab.json + merges.txt or "
                 "tokenizer.json, or a tokenizer.json file)");
  return path;
}

BpeTokenizer BpeTokenizer::load(const fs::path& path) {
  const fs::path file = vocabulary_file(path);
  if (file.filename() == "vocab.json" && fs::is_directory(path)) return load_gpt2(file, path / "merges.txt");
  return load_hf_json(file);
}

void BpeTokenizer::save(const fs::path& dir) const {
  const BpeModel& model = *model_;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ANVIL_CHECK_AS(RuntimeFailure, fs::is_directory(dir), dir.string(),
                 ": cannot create folder: ", ec.message());
  auto file_text = [&](uint32_t id) {
    return model.id_is_special[id] ? model.token_bytes[id]
                                   : bpe::bytes_to_token_text(model.token_bytes[id]);
  };
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (uint32_t id = 0; id < model.token_bytes.size(); ++id) {
    if (!model.id_defined[id]) continue;
    std::string text = file_text(id);
    ANVIL_ASSERT(!vocab.contains(text), "two tokens save as \"", text, "\"");
    vocab[text] = id;
  }
  std::string merges = "#version: 0.2\n";
  for (const bpe::Merge& m : model.merges) merges += file_text(m.left) + " " + file_text(m.right) + "\n";
  std::string vocab_text;
  try {
    vocab_text = vocab.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(detail::concat(dir.string(), "/vocab.json: a special token is not valid UTF-8: ",
                                   e.what()));
  }
  write_file_atomic(dir / "vocab.json", vocab_text + "\n");
  write_file_atomic(dir / "merges.txt", merges);
}

}  // namespace anvil::data
