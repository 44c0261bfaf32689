// Data preparation: text files -> documents -> token ids -> train/val shards (shard.h).
//
// Input formats (per file; `auto` picks one per file):
//   text     documents are paragraphs separated by one or more blank lines (lines holding only
//            whitespace); a paragraph keeps its inner newlines, without the final one. Blank-line
//            paragraphs suit prose, plays (Tiny Shakespeare: one speech per document) and code.
//   fortune  documents are the entries of a fortune(6) file, separated by a line holding only "%".
//   jsonl    one JSON object per line with a string field "text"; blank lines are skipped. A
//            malformed line or a missing/non-string "text" is an anvil::DataError naming file:line.
//   auto     .jsonl / .ndjson / .json -> jsonl; else fortune when some line is exactly "%";
//            else text.
// Line ends may be \n or \r\n. Documents that are empty (or only whitespace) are skipped.
//
// Every document is encoded and followed by the end-of-text id, so the model learns where
// documents end. The validation split is deterministic and spread over the whole input: with N
// documents and fraction f, n_val = round(N f) (at least 1 when N >= 2 and f > 0, at most N - 1),
// and document i goes to val when floor((i+1) n_val / N) > floor(i n_val / N), i.e. every
// (N / n_val)-th document. Spreading (rather than taking the tail) keeps val from being one source
// file. This needs N up front, so inputs are read twice (count, then encode).
//
// Output: out_dir/train_000000.bin, train_000001.bin, ... each of at most shard_tokens tokens
// (documents may straddle shards), and val_000000.bin, ... likewise. u16 ids when
// vocab_size <= 65536, else u32. Shards named train_*.bin / val_*.bin left over from an earlier
// run into the same folder are removed after the new ones are written, so a glob sees only these.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace anvil::data {

enum class InputFormat { kAuto, kText, kFortune, kJsonl };

// "auto", "text", "fortune", "jsonl" -> InputFormat; anything else is an anvil::ConfigError.
InputFormat parse_input_format(const std::string& name);
// The format `auto` resolves to for this file (reads it to look for "%" lines).
InputFormat detect_input_format(const std::filesystem::path& file);

// Expands each input (a path or a glob, see expand_glob) into files, in order, without repeats.
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::string>& inputs);

// Calls visit(document) for every document of every file in order. The string_view is valid
// only during the call.
void for_each_document(const std::vector<std::filesystem::path>& files, InputFormat format,
                       const std::function<void(std::string_view)>& visit);

// Text -> token ids, without the end-of-text id (prepare appends it).
using Encoder = std::function<std::vector<uint32_t>(std::string_view)>;

struct PrepareOptions {
  std::vector<std::string> inputs;  // paths or globs
  std::filesystem::path output_dir;
  InputFormat format = InputFormat::kAuto;
  double val_fraction = 0.01;          // in [0, 1)
  int64_t shard_tokens = 100'000'000;  // max tokens per shard file
  int64_t vocab_size = 0;              // of the encoder; ids must be < vocab_size
  uint32_t eot_id = 0;                 // appended after every document
  // Documents encoded at once on this many threads (the encoder must then be thread-safe);
  // 0 = hardware concurrency. Results do not depend on it.
  int threads = 1;
};

struct PrepareStats {
  int64_t documents = 0;
  int64_t train_documents = 0, val_documents = 0;
  int64_t train_tokens = 0, val_tokens = 0;  // including the end-of-text ids
  int64_t train_shards = 0, val_shards = 0;
  int token_bytes = 2;
};

// Reads, splits, encodes and writes shards as described above. Bad options are ConfigError,
// bad input files DataError, an encoder id >= vocab_size RuntimeFailure.
PrepareStats prepare_shards(const PrepareOptions& options, const Encoder& encode);

}  // namespace anvil::data
