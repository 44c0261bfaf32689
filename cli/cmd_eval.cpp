// `anvil eval`: loss of a model on given tokens.
//
//   anvil eval --model DIR --tokens FILE.safetensors [--logits-out F] [--grads-out F]
// loads a Hugging Face checkpoint folder, reads the int64 tensor `input_ids` (B, T) from FILE, runs
// forward, computes Hugging Face's language-model loss (mean cross-entropy of logits[:, :-1] against
// ids[:, 1:]), runs backward, and prints one JSON line {"loss": ..., "tokens": N} where N = B*(T-1)
// is the number of predicted tokens. --logits-out writes `logits` (B, T, V); --grads-out writes every
// parameter gradient under its HF name and layout (GPT-2: the tied gradient under
// transformer.wte.weight, Conv1D gradients transposed to (in, out)).
//
// Structure for later modes (e.g. --checkpoint DIR --data GLOB for validation loss on token
// shards): the options live in EvalOptions, add_eval_options() declares them all, and run_eval()
// dispatches on which input was given to one function per mode.
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

namespace anvil::cli {
namespace {

struct EvalOptions {
  std::string model;        // HF checkpoint folder
  std::string tokens;       // safetensors file with input_ids (B, T)
  std::string logits_out;   // optional
  std::string grads_out;    // optional
};

void add_eval_options(CLI::App& app, EvalOptions& o) {
  app.add_option("--model", o.model, "Hugging Face model folder (config.json + model.safetensors)");
  app.add_option("--tokens", o.tokens, "safetensors file holding an int64 tensor input_ids of shape (B, T)");
  app.add_option("--logits-out", o.logits_out, "write the logits (B, T, V) as tensor 'logits' to this file");
  app.add_option("--grads-out", o.grads_out, "write every parameter gradient (HF names and layouts) to this file");
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

int run_eval(const EvalOptions& o) {
  if (!o.model.empty() || !o.tokens.empty()) {
    ANVIL_CHECK_AS(InputError, !o.model.empty() && !o.tokens.empty(), "eval: --model and --tokens go together");
    return run_model_tokens_eval(o);
  }
  throw InputError("eval: give --model DIR --tokens FILE");
}

Command registration("eval", "Loss (and optionally logits and gradients) of a model on given tokens",
                     [](CLI::App& app) -> Runner {
                       auto opts = std::make_shared<EvalOptions>();
                       add_eval_options(app, *opts);
                       return [opts] { return run_eval(*opts); };
                     });

}  // namespace
}  // namespace anvil::cli
