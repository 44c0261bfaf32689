// `anvil prepare`: turns text files into train/val token shards for `anvil train`.
//
//   anvil prepare --input 'corpus/*.txt' --output data/mine --tokenizer ../shared/data/gpt2-tokenizer
//   anvil prepare --input fortunes --format fortune --output data/f --tokenizer data/f/tok
//                 --train-tokenizer 2048 --val-fraction 0.05      (one command line)
//
// With --train-tokenizer N a byte-level BPE of N tokens is trained on the same documents (joined
// by "<|endoftext|>", which the trainer cuts out, so no merge spans two documents) and saved to
// the --tokenizer folder before encoding. Documents are encoded with special tokens disallowed:
// "<|endoftext|>" written inside a document is ordinary text; the real end-of-text id is added
// by prepare after each document. Input formats and the val split: data/shards/prepare.h.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/base/error.h"
#include "data/bpe/tokenizer.h"
#include "data/shards/prepare.h"

namespace anvil::cli {
namespace {

constexpr const char* kEndOfText = "<|endoftext|>";

struct PrepareArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string tokenizer;
  int64_t train_tokenizer = 0;  // vocabulary size to train; 0 = load --tokenizer
  double val_fraction = 0.01;
  int64_t shard_tokens = 100'000'000;
  std::string format = "auto";
  int threads = 0;
};

int run_prepare(const PrepareArgs& args) {
  data::PrepareOptions options;
  options.inputs = args.inputs;
  options.output_dir = args.output;
  options.format = data::parse_input_format(args.format);
  options.val_fraction = args.val_fraction;
  options.shard_tokens = args.shard_tokens;
  options.threads = args.threads;

  const auto files = data::expand_inputs(args.inputs);
  std::optional<data::BpeTokenizer> tokenizer;
  if (args.train_tokenizer > 0) {
    std::string corpus;
    data::for_each_document(files, options.format, [&](std::string_view document) {
      if (!corpus.empty()) corpus += kEndOfText;
      corpus += document;
    });
    tokenizer = data::BpeTokenizer::train(corpus, args.train_tokenizer, {kEndOfText});
    tokenizer->save(args.tokenizer);
    std::cout << "trained a BPE tokenizer of " << tokenizer->vocab_size() << " tokens on "
              << corpus.size() << " bytes -> " << args.tokenizer << "\n";
  } else {
    tokenizer = data::BpeTokenizer::load(args.tokenizer);
  }
  options.vocab_size = tokenizer->vocab_size();
  options.eot_id = tokenizer->eot_id();

  const data::BpeTokenizer& tok = *tokenizer;
  data::PrepareStats stats = data::prepare_shards(
      options, [&tok](std::string_view text) { return tok.encode(text, /*allow_special=*/false); });
  std::cout << "prepared " << stats.documents << " documents from " << files.size()
            << " files: train " << stats.train_tokens << " tokens (" << stats.train_documents
            << " docs, " << stats.train_shards << " shards), val " << stats.val_tokens
            << " tokens (" << stats.val_documents << " docs, " << stats.val_shards
            << " shards), u" << stats.token_bytes * 8 << " ids, vocab " << options.vocab_size
            << " -> " << args.output << "\n";
  return 0;
}

Command reg("prepare", "Tokenize text files into train/val token shards", [](CLI::App& app) {
  auto args = std::make_shared<PrepareArgs>();
  app.add_option("--input", args->inputs,
                 "input files or globs (text, fortune or JSONL with a \"text\" field per line)")
      ->required()
      ->expected(1, -1);
  app.add_option("--output", args->output, "folder for train_NNNNNN.bin and val_NNNNNN.bin")
      ->required();
  app.add_option("--tokenizer", args->tokenizer,
                 "tokenizer folder (vocab.json + merges.txt or tokenizer.json); with "
                 "--train-tokenizer, where the new one is saved")
      ->required();
  app.add_option("--train-tokenizer", args->train_tokenizer,
                 "train a BPE of this many tokens on the inputs first")
      ->check(CLI::PositiveNumber);
  app.add_option("--val-fraction", args->val_fraction,
                 "fraction of documents for the val split (at least one when there are two)")
      ->check(CLI::Range(0.0, 0.999999));
  app.add_option("--shard-tokens", args->shard_tokens, "maximum tokens per shard file")
      ->check(CLI::PositiveNumber);
  app.add_option("--format", args->format, "input format")
      ->check(CLI::IsMember({"auto", "text", "jsonl", "fortune"}));
  app.add_option("--threads", args->threads, "encoding threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  return [args] { return run_prepare(*args); };
});

}  // namespace
}  // namespace anvil::cli
