// config_to_yaml() writes a resolved Config back out with every key, in schema order, so the text
// both documents a run (it is saved beside checkpoints) and loads back to an equal Config;
// config_hash() hashes that text.
//
// Numbers use std::to_chars' shortest round-trip form, so a double survives the trip bit-exactly;
// strings are always double-quoted so values such as "no", "1e3" or "" stay strings.
#include <charconv>
#include <cstdio>

#include "core/base/error.h"
#include "train/config/config.h"

namespace anvil::train {
namespace {

// FNV-1a 64-bit parameters.
constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

std::string number(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, end);
  // Keep a visible decimal point or exponent so a reader sees a real number, not an integer.
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (const char ch : value) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (byte < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\x%02x", byte);
      out += escape;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

const char* boolean(bool value) { return value ? "true" : "false"; }

class Writer {
 public:
  void section(const char* name) { text_ += std::string(name) + ":\n"; }
  void key(const char* name, const std::string& value) {
    text_ += "  " + std::string(name) + ": " + value + "\n";
  }
  void key(const char* name, int64_t value) { key(name, std::to_string(value)); }
  std::string& text() { return text_; }

 private:
  std::string text_;
};

}  // namespace

std::string config_to_yaml(const Config& c) {
  Writer w;
  w.text() = "# anvil config, fully resolved";
  if (!c.source_path.empty()) w.text() += " (loaded from " + c.source_path + ")";
  w.text() += "\n";

  w.section("run");
  w.key("name", quoted(c.run.name));
  w.key("output_dir", quoted(c.run.output_dir));
  w.key("seed", std::to_string(c.run.seed));
  w.key("device", quoted(c.run.device));

  const ModelSection& m = c.model;
  w.section("model");
  w.key("arch", quoted(m.arch));
  w.key("n_layer", m.n_layer);
  w.key("n_head", m.n_head);
  w.key("n_kv_head", m.n_kv_head);
  w.key("d_model", m.d_model);
  w.key("d_ff", m.d_ff);
  w.key("vocab_size", m.vocab_size);
  w.key("max_seq_len", m.max_seq_len);
  w.key("dropout", number(m.dropout));
  w.key("norm_eps", number(m.norm_eps));
  w.key("rope_theta", number(m.rope_theta));
  w.key("tie_embeddings", boolean(m.tie_embeddings));
  w.key("init_std", number(m.init_std));
  w.key("init_from", quoted(m.init_from));

  w.section("data");
  w.key("train", quoted(c.data.train));
  w.key("val", quoted(c.data.val));
  w.key("tokenizer", quoted(c.data.tokenizer));
  w.key("seq_len", c.data.seq_len);

  const TrainingConfig& t = c.training;
  w.section("training");
  w.key("micro_batch_size", t.micro_batch_size);
  w.key("global_batch_tokens", t.global_batch_tokens);
  w.key("max_steps", t.max_steps);
  w.key("precision", quoted(t.precision));
  w.key("grad_clip", number(t.grad_clip));
  w.key("eval_every", t.eval_every);
  w.key("eval_steps", t.eval_steps);
  w.key("log_every", t.log_every);
  w.key("checkpoint_every", t.checkpoint_every);
  w.key("keep_checkpoints", t.keep_checkpoints);
  w.key("resume", quoted(t.resume));
  w.key("sample_every", t.sample_every);
  w.key("sample_tokens", t.sample_tokens);

  const OptimizerConfig& o = c.optimizer;
  w.section("optimizer");
  w.key("name", quoted(o.name));
  w.key("lr", number(o.lr));
  w.key("betas", detail::concat("[", number(o.beta1), ", ", number(o.beta2), "]"));
  w.key("eps", number(o.eps));
  w.key("weight_decay", number(o.weight_decay));
  w.key("momentum", number(o.momentum));

  w.section("scheduler");
  w.key("name", quoted(c.scheduler.name));
  w.key("warmup_steps", c.scheduler.warmup_steps);
  w.key("min_lr_ratio", number(c.scheduler.min_lr_ratio));
  w.key("decay_ratio", number(c.scheduler.decay_ratio));

  w.section("logging");
  w.key("jsonl", boolean(c.logging.jsonl));
  w.key("tensorboard", boolean(c.logging.tensorboard));
  w.key("progress", quoted(c.logging.progress));

  w.section("kernels");
  w.key("gemm", quoted(c.kernels.gemm));
  w.key("attention", quoted(c.kernels.attention));
  w.key("tf32", boolean(c.kernels.tf32));

  w.section("distributed");
  w.key("backend", quoted(c.distributed.backend));
  w.key("bucket_mb", c.distributed.bucket_mb);
  w.key("zero_stage", c.distributed.zero_stage);
  w.key("timeout_s", c.distributed.timeout_s);
  return w.text();
}

uint64_t config_hash(const Config& c) {
  Config without_source = c;
  without_source.source_path.clear();
  uint64_t hash = kFnvOffsetBasis;
  for (const char ch : config_to_yaml(without_source)) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= kFnvPrime;
  }
  return hash;
}

}  // namespace anvil::train
