// `anvil eval`: loss of a model on given tokens.
//
//   anvil eval --model DIR --tokens FILE.safetensors [--logits-out F] [--grads-out F]
//   anvil eval --checkpoint DIR --data GLOB [--seq-len T] [--batch-size B] [--max-batches N]
//
// Mode 1 (Hugging Face comparison):
// loads a Hugging Face checkpoint folder, reads the int64 tensor `input_ids` (B, T) from FILE, runs
// forward, computes Hugging Face's language-model loss (mean cross-entropy of logits[:, :-1] against
// ids[:, 1:]), runs backward, and prints one JSON line {"loss": ..., "tokens": N} where N = B*(T-1)
// is the number of predicted tokens. --logits-out writes `logits` (B, T, V); --grads-out writes every
// parameter gradient under its HF name and layout (GPT-2: the tied gradient under
// transformer.wte.weight, Conv1D gradients transposed to (in, out)).
//
// Mode 2 (validation loss): loads an anvil checkpoint, a run's output folder (its newest
// checkpoint) or a Hugging Face folder, reads every window of T+1 tokens of the shards matching GLOB
// once, in file order (the loader's windows, data/loader/loader.h), and prints one JSON line
// {"loss": L, "perplexity": exp(L), "tokens": N, "windows": W} where L is the mean cross-entropy
// over all N = W*T predicted tokens. T defaults to the checkpoint's data.seq_len and B to its
// training.micro_batch_size; --max-batches N stops early (a quick estimate).
//
// The options live in EvalOptions, add_eval_options() declares them all, and run_eval() dispatches
// on which input was given to one function per mode.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command.h"
#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/models/hf.h"
#include "data/loader/loader.h"
#include "train/evaluate.h"
#include "train/model_factory.h"

namespace anvil::cli {
namespace {

struct EvalOptions {
  std::string model;        // HF checkpoint folder
  std::string tokens;       // safetensors file with input_ids (B, T)
  std::string logits_out;   // optional
  std::string grads_out;    // optional
  std::string checkpoint;   // anvil checkpoint / run folder / HF folder
  std::string data;         // glob of token shards
  int64_t seq_len = 0;      // 0: the checkpoint's data.seq_len
  int64_t batch_size = 0;   // 0: the checkpoint's training.micro_batch_size
  int64_t max_batches = 0;  // 0: the whole data once
};

void add_eval_options(CLI::App& app, EvalOptions& o) {
  app.add_option("--model", o.model, "Hugging Face model folder (config.json + model.safetensors)");
  app.add_option("--tokens", o.tokens, "safetensors file holding an int64 tensor input_ids of shape (B, T)");
  app.add_option("--logits-out", o.logits_out, "write the logits (B, T, V) as tensor 'logits' to this file");
  app.add_option("--grads-out", o.grads_out, "write every parameter gradient (HF names and layouts) to this file");
  app.add_option("--checkpoint", o.checkpoint,
                 "anvil checkpoint folder, run output folder (newest checkpoint) or Hugging Face folder");
  app.add_option("--data", o.data, "glob of token shards to evaluate on, e.g. 'data/tiny/val_*.bin'");
  app.add_option("--seq-len", o.seq_len, "context length T (default: the checkpoint's data.seq_len)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", o.batch_size, "windows per forward pass (default: training.micro_batch_size)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-batches", o.max_batches, "stop after this many batches (default 0: all windows once)")
      ->check(CLI::NonNegativeNumber);
}

// input_ids (B, T), int64 (int32 accepted), T >= 2.
Tensor read_input_ids(const std::string& path) {
  io::SafetensorsContents file = io::read_safetensors(path);
  auto it = file.tensors.find("input_ids");
  ANVIL_CHECK_AS(DataError, it != file.tensors.end(), path, ": no tensor 'input_ids' (found ", file.tensors.size(),
                 " other tensors)");
  const Tensor& ids = it->second;
  ANVIL_CHECK_AS(DataError, ids.dtype() == DType::I64 || ids.dtype() == DType::I32, path,
                 ": tensor 'input_ids' has dtype ", dtype_safetensors_name(ids.dtype()), ", expected I64");
  ANVIL_CHECK_AS(DataError, ids.dim() == 2 && ids.size(1) >= 2, path, ": tensor 'input_ids' has shape ",
                 shape_str(ids.shape()), ", expected (B, T) with T >= 2");
  return ids;
}

int run_model_tokens_eval(const EvalOptions& o) {
  auto model = models::load_hf_model(o.model);
  Tensor ids = read_input_ids(o.tokens);  // (B, T)
  const int64_t vocab = model->config().vocab_size;
  for (int64_t id : ids.to_i64_vector())
    ANVIL_CHECK_AS(DataError, id >= 0 && id < vocab, o.tokens, ": input_ids holds token ", id,
                   " outside the model's vocabulary [0, ", vocab, ")");
  const bool want_grads = !o.grads_out.empty();
  std::optional<NoGradGuard> no_grad;  // skip recording the graph when no gradients are asked for
  if (!want_grads) no_grad.emplace();
  Tensor logits = model->forward(ids);                // (B, T, V)
  Tensor loss = model->next_token_loss(logits, ids);  // scalar
  if (want_grads) loss.backward();
  const int64_t predicted = ids.size(0) * (ids.size(1) - 1);
  if (!o.logits_out.empty()) io::write_safetensors(o.logits_out, {{"logits", logits.detach()}});
  if (want_grads) io::write_safetensors(o.grads_out, models::hf_gradients(*model));
  nlohmann::json line = {{"loss", double(loss.item())}, {"tokens", predicted}};
  std::cout << line.dump() << std::endl;
  return 0;
}

int run_checkpoint_data_eval(const EvalOptions& o) {
  train::Config cfg;
  auto model = train::load_model_dir(o.checkpoint, &cfg);
  const int64_t T = o.seq_len > 0 ? o.seq_len : cfg.data.seq_len;
  const int64_t B = o.batch_size > 0 ? o.batch_size : cfg.training.micro_batch_size;
  ANVIL_CHECK_AS(InputError, T <= model->config().max_seq_len, "eval: --seq-len ", T,
                 " exceeds the model's max_seq_len ", model->config().max_seq_len);
  data::LoaderOptions lo;
  lo.pattern = o.data;
  lo.batch_size = B;
  lo.seq_len = T;
  lo.shuffle = false;
  lo.prefetch = true;
  lo.vocab_size = model->config().vocab_size;
  data::TokenLoader loader(lo);

  // Every window once: the last batch may run into the next epoch, so only its first rows take a
  // loss (the others' targets are ignored).
  const int64_t windows = loader.windows_per_epoch();
  int64_t batches = loader.batches_per_epoch();
  if (o.max_batches > 0) batches = std::min(batches, o.max_batches);
  model->eval();
  train::LossTotals totals;
  int64_t rows_done = 0;
  for (int64_t g = 0; g < batches; ++g) {
    data::Batch batch = loader.next();
    const int64_t rows = std::min(B, windows - rows_done);
    batch.ignore_rows_from(rows);
    const train::LossTotals t = train::batch_loss(*model, batch, Device::cpu());
    totals.loss_sum += t.loss_sum;
    totals.tokens += t.tokens;
    rows_done += rows;
  }
  const int64_t tokens = totals.tokens;
  const double loss = totals.mean();
  nlohmann::json line = {{"loss", loss}, {"perplexity", std::exp(loss)}, {"tokens", tokens}, {"windows", rows_done}};
  std::cout << line.dump() << std::endl;
  return 0;
}

int run_eval(const EvalOptions& o) {
  const bool hf_mode = !o.model.empty() || !o.tokens.empty();
  const bool data_mode = !o.checkpoint.empty() || !o.data.empty();
  ANVIL_CHECK_AS(InputError, !(hf_mode && data_mode),
                 "eval: give either --model/--tokens or --checkpoint/--data, not both");
  if (hf_mode) {
    ANVIL_CHECK_AS(InputError, !o.model.empty() && !o.tokens.empty(), "eval: --model and --tokens go together");
    return run_model_tokens_eval(o);
  }
  if (data_mode) {
    ANVIL_CHECK_AS(InputError, !o.checkpoint.empty() && !o.data.empty(), "eval: --checkpoint and --data go together");
    ANVIL_CHECK_AS(InputError, o.logits_out.empty() && o.grads_out.empty(),
                   "eval: --logits-out and --grads-out go with --model/--tokens");
    return run_checkpoint_data_eval(o);
  }
  throw InputError("eval: give --model DIR --tokens FILE, or --checkpoint DIR --data GLOB");
}

Command registration("eval", "Loss of a model: on given tokens (with logits and gradients), or on token shards",
                     [](CLI::App& app) -> Runner {
                       auto opts = std::make_shared<EvalOptions>();
                       add_eval_options(app, *opts);
                       return [opts] { return run_eval(*opts); };
                     });

}  // namespace
}  // namespace anvil::cli
