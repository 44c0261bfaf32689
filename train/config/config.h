// A training run's configuration: plain option structs with defaults, loaded from YAML.
//
// Only train/ sees yaml-cpp; everything else reads these structs. load_config() follows a file's
// `base:` chain (each file's keys win over its base's), applies command-line overrides
// ("training.max_steps=5", the value parsed as a YAML scalar or flow node), fills the derived
// defaults (d_ff, tie_embeddings, n_kv_head) and runs the cross-field checks. Every user mistake is
// an anvil::ConfigError whose message says where (`file:line:` or `override 'k=v'`), which key, what
// was expected, and for unknown keys the closest valid one.
//
// Trick: files are not merged as YAML trees; each file in the chain (base first) and then each
// override is applied in turn onto one Config, so every value keeps the place it came from and
// errors, even cross-field ones, point at the line that set the offending key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/models/model.h"

namespace anvil::train {

struct RunConfig {
  std::string name = "tiny";
  std::string output_dir = "runs/tiny";
  uint64_t seed = 1337;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  bool operator==(const RunConfig&) const = default;
};

// The `model:` section: the model's shape (models::ModelConfig, the one definition shared with
// core/models and the Hugging Face loader; d_ff 0, tie_embeddings and n_kv_head left out are
// resolved on load) plus where its weights come from.
struct ModelSection : models::ModelConfig {
  // An HF model folder or an anvil checkpoint. When set, the trainer takes the shape keys from it
  // (the values here are then placeholders) and should call validate_config() again.
  std::string init_from;
  bool operator==(const ModelSection&) const = default;
};

struct DataConfig {
  std::string train = "data/tiny/train_*.bin";  // glob of token shards
  std::string val = "data/tiny/val_*.bin";      // empty: no evaluation
  std::string tokenizer = "data/tiny/tokenizer";
  int64_t seq_len = 256;
  bool operator==(const DataConfig&) const = default;
};

struct TrainingConfig {
  int64_t micro_batch_size = 16;
  int64_t global_batch_tokens = 8192;  // multiple of micro_batch_size*seq_len*world_size
  int64_t max_steps = 2000;
  std::string precision = "fp32";  // fp32 | bf16 | fp16
  double grad_clip = 1.0;          // 0: no clipping
  int64_t eval_every = 200;        // 0: never
  int64_t eval_steps = 10;
  int64_t log_every = 10;
  int64_t checkpoint_every = 500;  // 0: only the final checkpoint
  int64_t keep_checkpoints = 3;    // 0: keep all
  std::string resume = "auto";     // auto | never | PATH
  int64_t sample_every = 0;        // 0: never
  int64_t sample_tokens = 64;
  bool operator==(const TrainingConfig&) const = default;
};

struct OptimizerConfig {
  std::string name = "adamw";  // adamw | sgd
  double lr = 1.0e-3;
  double beta1 = 0.9;   // YAML: betas: [beta1, beta2]
  double beta2 = 0.95;
  double eps = 1.0e-8;
  double weight_decay = 0.1;
  double momentum = 0.9;  // sgd only
  bool operator==(const OptimizerConfig&) const = default;
};

struct SchedulerConfig {
  std::string name = "cosine";  // constant | cosine | linear | wsd
  int64_t warmup_steps = 100;
  double min_lr_ratio = 0.1;  // the final lr as a fraction of the peak
  double decay_ratio = 0.2;   // wsd: fraction of max_steps spent in the final decay
  bool operator==(const SchedulerConfig&) const = default;
};

struct LoggingConfig {
  bool jsonl = true;
  bool tensorboard = true;
  std::string progress = "auto";  // auto | always | never
  bool operator==(const LoggingConfig&) const = default;
};

struct KernelsConfig {
  std::string gemm = "anvil";       // anvil | cublas
  std::string attention = "anvil";  // anvil | cudnn
  bool tf32 = false;                // f32 matmuls on CUDA may use TF32 tensor cores (ops::set_allow_tf32)
  bool operator==(const KernelsConfig&) const = default;
};

struct DistributedConfig {
  std::string backend = "auto";  // auto | nccl | mpi | none
  int64_t bucket_mb = 25;
  int64_t zero_stage = 0;  // 0 | 1
  int64_t timeout_s = 300;
  bool operator==(const DistributedConfig&) const = default;
};

struct Config {
  RunConfig run;
  ModelSection model;
  DataConfig data;
  TrainingConfig training;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  LoggingConfig logging;
  KernelsConfig kernels;
  DistributedConfig distributed;
  std::string source_path;  // the file load_config() was given; not part of config_hash()
  bool operator==(const Config&) const = default;
};

// Loads `file` (following base:), applies overrides "a.b=value", fills derived defaults and
// validates. Throws anvil::ConfigError.
Config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});

// The built-in defaults with derived values resolved (what an empty file loads as).
Config default_config();

// Cross-field checks on a resolved config (batch divisibility, seq_len <= max_seq_len, head
// counts, ...). load_config() runs them; call again after changing fields (e.g. after init_from).
void validate_config(const Config& c);

// The resolved config as YAML with every key written out; load_config() reads it back equal.
std::string config_to_yaml(const Config& c);

// Stable 64-bit FNV-1a hash of config_to_yaml(c) (source_path excluded), for ranks to agree on.
uint64_t config_hash(const Config& c);

// Micro-batches accumulated per optimizer step on each of world_size ranks:
// global_batch_tokens / (micro_batch_size * seq_len * world_size). Throws ConfigError when that
// does not divide evenly.
int64_t grad_accum_steps(const Config& c, int world_size);

// d_ff for a given arch and width when the file leaves it 0: 4*d_model for gpt2; for llama
// 2/3 of 4*d_model rounded up to a multiple of 64.
int64_t derived_d_ff(const std::string& arch, int64_t d_model);

}  // namespace anvil::train
