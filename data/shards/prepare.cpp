// Data preparation: documents from text/fortune/JSONL files, encoded in parallel batches, written
// as train/val shards. Formats, the val split rule and file naming are described in prepare.h.
//
// Trick: documents are encoded a batch at a time on worker threads but appended to the shards in
// input order, so the output is the same for any thread count.
#include "data/shards/prepare.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "core/base/error.h"
#include "data/shards/shard.h"

namespace anvil::data {

namespace {

constexpr int64_t kEncodeBatchDocuments = 1024;
constexpr int64_t kEncodeBatchBytes = 16 << 20;

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

// getline that also drops the '\r' of a "\r\n" line end.
bool read_line(std::istream& in, std::string& line) {
  if (!std::getline(in, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::ifstream open_input(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  ANVIL_CHECK_AS(DataError, in.good(), "cannot open input file ", file.string());
  return in;
}

// Documents separated by lines for which is_separator is true (blank lines or "%").
template <typename IsSeparator>
void split_on_lines(const std::filesystem::path& file, IsSeparator is_separator,
                    const std::function<void(std::string_view)>& visit) {
  std::ifstream in = open_input(file);
  std::string line, document;
  auto emit = [&] {
    if (!is_blank(document)) visit(document);
    document.clear();
  };
  while (read_line(in, line)) {
    if (is_separator(line)) {
      emit();
      continue;
    }
    if (!document.empty()) document += '\n';
    document += line;
  }
  ANVIL_CHECK_AS(DataError, in.eof(), "error reading input file ", file.string());
  emit();
}

void read_jsonl(const std::filesystem::path& file,
                const std::function<void(std::string_view)>& visit) {
  std::ifstream in = open_input(file);
  std::string line;
  int64_t line_number = 0;
  while (read_line(in, line)) {
    ++line_number;
    if (is_blank(line)) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw DataError(detail::concat(file.string(), ":", line_number,
                                     ": not a valid JSON line (", e.what(), ")"));
    }
    auto it = record.is_object() ? record.find("text") : record.end();
    ANVIL_CHECK_AS(DataError, record.is_object() && it != record.end() && it->is_string(),
                   file.string(), ":", line_number,
                   ": expected a JSON object with a string field \"text\"");
    const std::string& text = it->get_ref<const std::string&>();
    if (!is_blank(text)) visit(text);
  }
  ANVIL_CHECK_AS(DataError, in.eof(), "error reading input file ", file.string());
}

std::string shard_name(const char* split, int64_t index) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s_%06lld.bin", split, static_cast<long long>(index));
  return buffer;
}

// Accumulates tokens and writes a shard every shard_tokens tokens.
class ShardSink {
 public:
  ShardSink(std::filesystem::path dir, const char* split, int64_t shard_tokens, int token_bytes)
      : dir_(std::move(dir)), split_(split), shard_tokens_(shard_tokens),
        token_bytes_(token_bytes) {}

  void append(const std::vector<uint32_t>& tokens) {
    size_t pos = 0;
    while (pos < tokens.size()) {
      const size_t room = size_t(shard_tokens_) - buffer_.size();
      const size_t take = std::min(room, tokens.size() - pos);
      buffer_.insert(buffer_.end(), tokens.begin() + pos, tokens.begin() + pos + take);
      pos += take;
      total_tokens_ += int64_t(take);
      if (int64_t(buffer_.size()) == shard_tokens_) flush();
    }
  }
  void finish() {
    if (!buffer_.empty()) flush();
  }
  int64_t total_tokens() const { return total_tokens_; }
  const std::vector<std::string>& written() const { return written_; }

 private:
  void flush() {
    std::string name = shard_name(split_, int64_t(written_.size()));
    write_shard(dir_ / name, buffer_, token_bytes_);
    written_.push_back(std::move(name));
    buffer_.clear();
  }

  std::filesystem::path dir_;
  const char* split_;
  int64_t shard_tokens_;
  int token_bytes_;
  std::vector<uint32_t> buffer_;
  int64_t total_tokens_ = 0;
  std::vector<std::string> written_;
};

// Encodes documents[i] into out[i] on up to `threads` threads.
void encode_batch(const std::vector<std::string>& documents, const Encoder& encode, int threads,
                  std::vector<std::vector<uint32_t>>& out) {
  out.assign(documents.size(), {});
  const int64_t n = int64_t(documents.size());
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, n));
  if (workers == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = encode(documents[i]);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      try {
        for (int64_t i = w; i < n; i += workers) out[i] = encode(documents[i]);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

InputFormat parse_input_format(const std::string& name) {
  if (name == "auto") return InputFormat::kAuto;
  if (name == "text") return InputFormat::kText;
  if (name == "fortune") return InputFormat::kFortune;
  if (name == "jsonl") return InputFormat::kJsonl;
  throw ConfigError(detail::concat("unknown input format '", name,
                                   "', expected auto, text, fortune or jsonl"));
}

InputFormat detect_input_format(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return InputFormat::kJsonl;
  std::ifstream in = open_input(file);
  std::string line;
  while (read_line(in, line))
    if (line == "%") return InputFormat::kFortune;
  return InputFormat::kText;
}

std::vector<std::filesystem::path> expand_inputs(const std::vector<std::string>& inputs) {
  ANVIL_CHECK_AS(ConfigError, !inputs.empty(), "no input files given");
  std::vector<std::filesystem::path> files;
  std::set<std::filesystem::path> seen;
  for (const auto& input : inputs) {
    for (auto& path : expand_glob(input)) {
      ANVIL_CHECK_AS(DataError, !std::filesystem::is_directory(path), "input ", path.string(),
                     " is a folder; pass a file or a glob such as '", path.string(), "/*.txt'");
      if (seen.insert(path).second) files.push_back(std::move(path));
    }
  }
  return files;
}

void for_each_document(const std::vector<std::filesystem::path>& files, InputFormat format,
                       const std::function<void(std::string_view)>& visit) {
  for (const auto& file : files) {
    const InputFormat resolved = format == InputFormat::kAuto ? detect_input_format(file) : format;
    switch (resolved) {
      case InputFormat::kJsonl:
        read_jsonl(file, visit);
        break;
      case InputFormat::kFortune:
        split_on_lines(file, [](const std::string& line) { return line == "%"; }, visit);
        break;
      default:
        split_on_lines(file, [](const std::string& line) { return is_blank(line); }, visit);
        break;
    }
  }
}

PrepareStats prepare_shards(const PrepareOptions& options, const Encoder& encode) {
  ANVIL_CHECK_AS(ConfigError, options.val_fraction >= 0.0 && options.val_fraction < 1.0,
                 "val fraction must be in [0, 1), got ", options.val_fraction);
  ANVIL_CHECK_AS(ConfigError, options.shard_tokens >= 1, "shard tokens must be >= 1, got ",
                 options.shard_tokens);
  ANVIL_CHECK_AS(ConfigError, options.vocab_size >= 1, "vocab size must be >= 1, got ",
                 options.vocab_size);
  ANVIL_CHECK_AS(ConfigError, int64_t(options.eot_id) < options.vocab_size, "end-of-text id ",
                 options.eot_id, " is outside the vocabulary of ", options.vocab_size);
  ANVIL_CHECK_AS(ConfigError, !options.output_dir.empty(), "no output folder given");
  const std::vector<std::filesystem::path> files = expand_inputs(options.inputs);

  // Pass 1: count documents to place the val split.
  PrepareStats stats;
  for_each_document(files, options.format, [&](std::string_view) { ++stats.documents; });
  ANVIL_CHECK_AS(DataError, stats.documents > 0, "the inputs hold no documents (",
                 files.size(), " files, all empty)");
  const int64_t n = stats.documents;
  int64_t n_val = 0;
  if (options.val_fraction > 0.0 && n >= 2)
    n_val = std::clamp<int64_t>(std::llround(double(n) * options.val_fraction), 1, n - 1);
  auto is_val = [&](int64_t i) { return (i + 1) * n_val / n > i * n_val / n; };

  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  ANVIL_CHECK_AS(RuntimeFailure, !ec, "cannot create output folder ",
                 options.output_dir.string(), ": ", ec.message());
  stats.token_bytes = token_bytes_for_vocab(options.vocab_size);
  ShardSink train(options.output_dir, "train", options.shard_tokens, stats.token_bytes);
  ShardSink val(options.output_dir, "val", options.shard_tokens, stats.token_bytes);
  const int threads = options.threads > 0
                          ? options.threads
                          : int(std::max(1u, std::thread::hardware_concurrency()));

  // Pass 2: encode in batches, append in order.
  std::vector<std::string> batch;
  std::vector<std::vector<uint32_t>> encoded;
  int64_t batch_bytes = 0, next_index = 0;
  auto flush_batch = [&] {
    encode_batch(batch, encode, threads, encoded);
    for (auto& tokens : encoded) {
      const int64_t index = next_index++;
      for (size_t k = 0; k < tokens.size(); ++k)
        ANVIL_CHECK_AS(RuntimeFailure, int64_t(tokens[k]) < options.vocab_size,
                       "the tokenizer produced id ", tokens[k], " (>= vocab size ",
                       options.vocab_size, ") for document ", index);
      tokens.push_back(options.eot_id);
      if (is_val(index)) {
        val.append(tokens);
        ++stats.val_documents;
      } else {
        train.append(tokens);
        ++stats.train_documents;
      }
    }
    batch.clear();
    batch_bytes = 0;
  };
  for_each_document(files, options.format, [&](std::string_view document) {
    batch.emplace_back(document);
    batch_bytes += int64_t(document.size());
    if (int64_t(batch.size()) >= kEncodeBatchDocuments || batch_bytes >= kEncodeBatchBytes)
      flush_batch();
  });
  flush_batch();
  ANVIL_CHECK_AS(DataError, next_index == n, "the inputs changed while being read: ", n,
                 " documents counted, then ", next_index, " encoded");
  train.finish();
  val.finish();

  stats.train_tokens = train.total_tokens();
  stats.val_tokens = val.total_tokens();
  stats.train_shards = int64_t(train.written().size());
  stats.val_shards = int64_t(val.written().size());

  // Remove shards of an earlier run that this run did not overwrite.
  std::set<std::string> written(train.written().begin(), train.written().end());
  written.insert(val.written().begin(), val.written().end());
  const std::regex ours(R"((train|val)_[0-9]{6,}\.bin)");
  for (const auto& entry : std::filesystem::directory_iterator(options.output_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, ours) && !written.count(name))
      std::filesystem::remove(entry.path());
  }
  return stats;
}

}  // namespace anvil::data
