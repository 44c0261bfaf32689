// anvil generate --checkpoint DIR --prompt TEXT: samples text from a trained model (an anvil
// checkpoint, a run folder, or a Hugging Face folder) with a KV cache.
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "core/base/error.h"
#include "data/bpe/tokenizer.h"
#include "train/generate.h"
#include "train/model_factory.h"

namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string checkpoint;
  std::string tokenizer;
  std::string prompt;
  anvil::train::SamplingOptions sampling;
  int64_t num_samples = 1;
};

// Where the tokenizer is: --tokenizer, else the folder itself (HF folders ship vocab.json/merges.txt
// or tokenizer.json), else the run config's data.tokenizer.
fs::path find_tokenizer(const GenerateArgs& a, const anvil::train::Config& cfg) {
  if (!a.tokenizer.empty()) return a.tokenizer;
  fs::path dir = a.checkpoint;
  if (fs::exists(dir / "tokenizer.json") || fs::exists(dir / "vocab.json")) return dir;
  if (!cfg.data.tokenizer.empty() && fs::exists(cfg.data.tokenizer)) return cfg.data.tokenizer;
  throw anvil::InputError("no tokenizer found for " + a.checkpoint + "; pass --tokenizer DIR");
}

anvil::cli::Command reg("generate", "Sample text from a checkpoint or a Hugging Face model folder", [](CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  app.add_option("--checkpoint", a->checkpoint, "checkpoint folder, run folder or HF folder")->required();
  app.add_option("--prompt", a->prompt, "text to continue (default: start of a document)");
  app.add_option("--tokenizer", a->tokenizer, "tokenizer folder (default: the run's data.tokenizer)");
  app.add_option("--max-new-tokens", a->sampling.max_new_tokens, "tokens to generate")->check(CLI::PositiveNumber);
  app.add_option("--temperature", a->sampling.temperature, "softmax temperature; 0 = greedy")->check(CLI::NonNegativeNumber);
  app.add_option("--top-k", a->sampling.top_k, "keep the k most likely tokens (0 = all)")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", a->sampling.top_p, "nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", a->sampling.seed, "random seed");
  app.add_option("--num-samples", a->num_samples, "independent samples")->check(CLI::PositiveNumber);
  return [a] {
    anvil::train::Config cfg;
    auto model = anvil::train::load_model_dir(a->checkpoint, &cfg);
    const fs::path tok_path = find_tokenizer(*a, cfg);
    const auto tok = anvil::data::BpeTokenizer::load(tok_path);
    // Before any output: the tokenizer must decode every id the sampler may pick.
    const int64_t vocab_limit = anvil::train::check_tokenizer_fits_model(tok, tok_path, model->config().vocab_size);
    std::vector<uint32_t> prompt = a->prompt.empty() ? std::vector<uint32_t>{tok.eot_id()} : tok.encode(a->prompt);
    for (int64_t i = 0; i < a->num_samples; ++i) {
      auto opts = a->sampling;
      opts.seed += uint64_t(i);
      opts.vocab_limit = vocab_limit;
      if (auto eot = tok.special_token_id("<|endoftext|>")) opts.stop_token = *eot;
      auto ids = anvil::train::generate_tokens(*model, prompt, opts);
      if (!ids.empty() && opts.stop_token && ids.back() == *opts.stop_token) ids.pop_back();
      if (a->num_samples > 1) std::cout << "--- sample " << i + 1 << " ---\n";
      std::cout << a->prompt << tok.decode(ids) << "\n";
    }
    return 0;
  };
});

}  // namespace
