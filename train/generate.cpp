#include "train/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/autograd/autograd.h"
#include "core/base/error.h"

namespace anvil::train {

int64_t check_tokenizer_fits_model(const data::BpeTokenizer& tok, const std::filesystem::path& tokenizer_path,
                                   int64_t model_vocab) {
  const int64_t n = tok.vocab_size();
  const std::string file = data::BpeTokenizer::vocabulary_file(tokenizer_path).string();
  ANVIL_CHECK_AS(InputError, n <= model_vocab, "tokenizer ", file, " has ", n,
                 " tokens but the model's vocabulary has ", model_vocab,
                 " ids: it is not the tokenizer of this model (pass the model's own tokenizer)");
  // Special tokens need no check of their own: the loaders size the vocabulary to cover every id,
  // special ones included (vocab_size() = largest id + 1), so they are below n.
  return n;
}

uint32_t sample_from_logits(std::vector<float> logits, const SamplingOptions& o, float draw) {
  if (o.vocab_limit > 0 && o.vocab_limit < int64_t(logits.size())) logits.resize(size_t(o.vocab_limit));
  const int64_t V = int64_t(logits.size());
  ANVIL_CHECK_AS(InputError, V > 0, "cannot sample from an empty vocabulary");
  if (o.temperature <= 0.0f) return uint32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<int64_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
  int64_t keep = V;
  if (o.top_k > 0) keep = std::min(keep, o.top_k);
  // Softmax over the kept candidates at this temperature.
  std::vector<double> p(static_cast<size_t>(keep));
  const double top = logits[size_t(order[0])];
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) {
    p[size_t(i)] = std::exp((double(logits[size_t(order[size_t(i)])]) - top) / o.temperature);
    total += p[size_t(i)];
  }
  if (o.top_p < 1.0f) {
    double cum = 0;
    int64_t n = 0;
    while (n < keep && cum < o.top_p * total) cum += p[size_t(n++)];
    keep = std::max<int64_t>(n, 1);
    total = 0;
    for (int64_t i = 0; i < keep; ++i) total += p[size_t(i)];
  }
  double target = double(draw) * total, cum = 0;
  for (int64_t i = 0; i < keep; ++i) {
    cum += p[size_t(i)];
    if (target < cum) return uint32_t(order[size_t(i)]);
  }
  return uint32_t(order[size_t(keep - 1)]);
}

std::vector<uint32_t> generate_tokens(models::CausalLM& model, const std::vector<uint32_t>& prompt,
                                      const SamplingOptions& o) {
  ANVIL_CHECK_AS(InputError, !prompt.empty(), "generation needs a non-empty prompt");
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t max_len = model.config().max_seq_len;
  const int64_t vocab = model.config().vocab_size;
  for (uint32_t t : prompt)
    ANVIL_CHECK_AS(InputError, int64_t(t) < vocab, "prompt token ", t, " is outside the model's vocabulary of ", vocab);

  std::vector<uint32_t> context = prompt;
  if (int64_t(context.size()) > max_len - 1) context.erase(context.begin(), context.end() - (max_len - 1));
  models::KVCache cache;
  const Device device = model.parameters().front().device();  // ids go where the weights are
  auto run = [&](const std::vector<uint32_t>& ids) {
    std::vector<int64_t> v(ids.begin(), ids.end());
    Tensor logits = model.forward(Tensor::from_ints(v, {1, int64_t(v.size())}).to(device), &cache);  // (1, n, V)
    return logits.slice(1, logits.size(1) - 1, logits.size(1)).to_f32_vector();
  };
  std::vector<float> last = run(context);
  std::vector<uint32_t> out;
  for (int64_t i = 0; i < o.max_new_tokens; ++i) {
    float draw = Philox4x32::uniform(o.seed, uint64_t(i));
    uint32_t next = sample_from_logits(last, o, draw);
    out.push_back(next);
    if (o.stop_token && next == *o.stop_token) break;
    context.push_back(next);
    if (cache.length() + 1 > max_len) {
      // Slide the window: keep the newest max_len/2 tokens and rebuild the cache on them.
      context.erase(context.begin(), context.end() - max_len / 2);
      cache.clear();
      last = run(context);
    } else {
      last = run({next});
    }
  }
  model.train(was_training);
  return out;
}

}  // namespace anvil::train
