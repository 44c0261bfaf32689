// Setup and resume: everything before a run's first step (see session.h).
//
// Order matters: every check that can fail on the user's input (capabilities, paths, the
// checkpoint to resume, the tokenizer, the shards, the model's source) runs before the first file
// is written, so a bad config never leaves a half-made run folder behind.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/base/fs.h"
#include "core/ops/ops.h"
#include "core/tensor/runtime.h"
#include "data/loader/loader.h"
#include "data/shards/shard.h"
#include "distributed/launch.h"
#include "distributed/zero.h"
#include "train/generate.h"
#include "train/model_factory.h"
#include "train/session.h"

namespace anvil::train {

namespace fs = std::filesystem;

namespace {

// Every rank must train the same config: rank 0's hash is broadcast and compared everywhere, and
// the verdict is shared so that all ranks stop together.
void check_same_config(distributed::Communicator& comm, const Config& cfg) {
  const uint64_t mine = config_hash(cfg);
  uint64_t root = mine;
  comm.broadcast(&root, sizeof root, 0);
  double differ = mine != root ? 1.0 : 0.0;
  comm.all_reduce_sum(&differ, 1);
  if (differ == 0) return;
  if (mine != root)
    throw ConfigError(detail::concat("distributed: rank ", comm.rank(), "'s config (hash ", mine,
                                     ") differs from rank 0's (hash ", root,
                                     "); every rank must get the same config file and overrides"));
  throw ConfigError(detail::concat("distributed: ", differ, " rank(s) have a config different from rank 0's; every "
                                   "rank must get the same config file and overrides"));
}

// Every rank must resume from the same step (checkpoints live on a filesystem all ranks see).
void check_same_step(distributed::Communicator& comm, int64_t step) {
  int64_t root = step;
  comm.broadcast(&root, sizeof root, 0);
  double differ = step != root ? 1.0 : 0.0;
  comm.all_reduce_sum(&differ, 1);
  ANVIL_CHECK_AS(CheckpointError, differ == 0, "distributed: rank ", comm.rank(), " resumes at step ", step,
                 " but rank 0 at step ", root, "; ", differ,
                 " rank(s) disagree. Checkpoints must be on a filesystem every rank sees");
}

// The machine can run cfg.run.device (after check_supported, which knows nothing of the machine).
void check_device(const Config& cfg, const distributed::Communicator& comm) {
  const Device device = Device::parse(cfg.run.device);
  if (!device.is_cuda()) return;
  // CUDA: one GPU, fp32, through the ops' CUDA kernels (not yet run on a GPU: see bench/RESULTS.md).
  ANVIL_CHECK_AS(ConfigError, runtime::cuda_built(), "run.device: ", cfg.run.device,
                 " needs a build with CUDA (configure with -DANVIL_CUDA=ON where nvcc is installed), or set "
                 "run.device=cpu");
  ANVIL_CHECK_AS(ConfigError, device.index < runtime::cuda_device_count(), "run.device: ", cfg.run.device,
                 " but this machine has ", runtime::cuda_device_count(), " CUDA device(s); set run.device=cpu");
  // DDP and ZeRO-1 reduce device buffers: only NCCL takes them (MPI here is not CUDA-aware).
  ANVIL_CHECK_AS(ConfigError, comm.world_size() == 1 || comm.backend() == "nccl", "run.device: ", cfg.run.device,
                 " with ", comm.world_size(), " ranks needs distributed.backend nccl (the ", comm.backend(),
                 " backend reduces host memory); use nccl, one process, or run.device cpu");
  runtime::set_cuda_device(device.index);
}

void check_glob(const char* key, const std::string& pattern) {
  try {
    data::expand_glob(pattern);  // throws DataError when nothing matches
  } catch (const DataError& e) {
    throw ConfigError(detail::concat(key, ": ", e.what(), " (paths are relative to the folder anvil runs in: ",
                                     fs::current_path().string(), "; make shards with `anvil prepare`)"));
  }
}

// The nearest folder at or above `p` that exists.
fs::path nearest_existing(fs::path p) {
  p = fs::absolute(p).lexically_normal();
  std::error_code ec;
  while (!p.empty() && !fs::exists(p, ec) && p != p.root_path()) p = p.parent_path();
  return p;
}

std::optional<fs::path> find_resume_checkpoint(const Config& c, const CheckpointManager& ckpts) {
  const std::string& r = c.training.resume;
  if (r == "never") return std::nullopt;
  if (r == "auto") return ckpts.latest();
  if (!is_checkpoint_dir(r))
    throw CheckpointError(detail::concat("training.resume: ", r,
                                         " is not an anvil checkpoint folder (expected state.json and model.safetensors)"));
  return fs::path(r);
}

// Dropout counters one micro-batch forward takes from the model's RNG (a pure function of the
// shapes), measured with a throw-away forward; the RNG is left as it was.
uint64_t dropout_draws_per_micro_batch(models::CausalLM& model, int64_t B, int64_t T) {
  NoGradGuard no_grad;
  Generator& g = model.dropout_rng();
  const uint64_t before = g.offset;
  model.forward(Tensor::zeros({B, T}, DType::I32));
  const uint64_t draws = g.offset - before;
  g.offset = before;
  return draws;
}

void restore_checkpoint(TrainSession& s, const fs::path& dir) {
  CheckpointData ck = load_checkpoint(dir);
  const std::string arch = ck.state.value("arch", "");
  if (!arch.empty() && arch != s.cfg.model.arch)
    throw CheckpointError(detail::concat(dir.string(), ": checkpoint is of architecture '", arch,
                                         "' but model.arch is '", s.cfg.model.arch, "'"));
  load_parameters(*s.model, ck.model, dir / "model.safetensors");
  s.optimizer->load_state(ck.optimizer, ck.state.at("optimizer"));  // ZeRO-1: this rank's shard
  s.train_data->restore(ck.state.at("loader"));
  s.model->dropout_rng().seed = ck.state.at("dropout_rng").at("seed").get<uint64_t>();
  s.model->dropout_rng().offset = ck.state.at("dropout_rng").at("offset").get<uint64_t>();
  s.step = ck.state.at("step").get<int64_t>();
}

std::unique_ptr<data::TokenLoader> make_loader(const Config& cfg, const std::string& pattern, int rank, int world,
                                               bool for_training) {
  data::LoaderOptions lo;
  lo.pattern = pattern;
  lo.batch_size = cfg.training.micro_batch_size;
  lo.seq_len = cfg.data.seq_len;
  lo.rank = rank;
  lo.world_size = world;
  lo.seed = cfg.run.seed;
  lo.vocab_size = cfg.model.vocab_size;
  lo.shuffle = for_training;
  lo.prefetch = for_training;
  return std::make_unique<data::TokenLoader>(lo);
}

}  // namespace

void check_supported(const Config& cfg) {
  ANVIL_CHECK_AS(ConfigError, cfg.training.precision == "fp32", "training.precision: ", cfg.training.precision,
                 " is not wired into the trainer yet; set training.precision: fp32");
  // ZeRO-1 shards AdamW's moments (the config loader accepts any combination of these two keys).
  ANVIL_CHECK_AS(ConfigError, cfg.distributed.zero_stage == 0 || cfg.optimizer.name == "adamw",
                 "distributed.zero_stage: 1 shards AdamW's moments, but optimizer.name is ", cfg.optimizer.name);
  // The vendor backends are keys of the schema but not wired into the ops' dispatch yet: refuse
  // rather than train on anvil's kernels while the config says otherwise.
  ANVIL_CHECK_AS(ConfigError, cfg.kernels.gemm == "anvil", "kernels.gemm: ", cfg.kernels.gemm,
                 " is not wired into the ops yet (every GEMM runs anvil's kernels); set kernels.gemm: anvil");
  ANVIL_CHECK_AS(ConfigError, cfg.kernels.attention == "anvil", "kernels.attention: ", cfg.kernels.attention,
                 " is not wired into the ops yet (attention runs anvil's kernels); set kernels.attention: anvil");
  // The CUDA attention kernels' limit, checked here so that the op never sees a config it rejects.
  if (Device::parse(cfg.run.device).is_cuda())
    ANVIL_CHECK_AS(ConfigError, cfg.model.head_dim() <= ops::attention_max_head_dim_cuda(),
                   "model: head dim d_model / n_head = ", cfg.model.d_model, " / ", cfg.model.n_head, " = ",
                   cfg.model.head_dim(), " is above the CUDA attention kernels' limit of ",
                   ops::attention_max_head_dim_cuda(), "; use more heads or run.device=cpu");
}

void check_config_paths(const Config& cfg) {
  check_glob("data.train", cfg.data.train);
  if (!cfg.data.val.empty() && cfg.training.eval_every > 0) check_glob("data.val", cfg.data.val);
  std::error_code ec;
  if (!cfg.data.tokenizer.empty()) {
    try {
      data::BpeTokenizer::vocabulary_file(cfg.data.tokenizer);  // what load() would read, or why not
    } catch (const DataError& e) {
      throw ConfigError(detail::concat("data.tokenizer: ", e.what(), "; `anvil prepare --tokenizer DIR` writes one, "
                                       "or leave data.tokenizer empty to train without samples"));
    }
  }
  if (!cfg.model.init_from.empty())
    ANVIL_CHECK_AS(ConfigError, fs::exists(cfg.model.init_from, ec), "model.init_from: '", cfg.model.init_from,
                   "' not found (expected an anvil checkpoint or run folder, or a Hugging Face model folder)");
  const fs::path out = cfg.run.output_dir;
  ANVIL_CHECK_AS(ConfigError, !fs::exists(out, ec) || fs::is_directory(out, ec), "run.output_dir: '", out.string(),
                 "' exists and is not a folder");
  const fs::path base = nearest_existing(out);
  ANVIL_CHECK_AS(ConfigError, fs::is_directory(base, ec), "run.output_dir: '", out.string(), "' cannot be created: '",
                 base.string(), "' is not a folder");
  ANVIL_CHECK_AS(ConfigError, ::access(base.c_str(), W_OK | X_OK) == 0, "run.output_dir: '", out.string(),
                 "' is not writable: the folder '", base.string(), "' does not allow writing");
}

optim::ScheduleOptions schedule_for(const Config& c, std::vector<std::string>* warnings) {
  optim::ScheduleOptions s;
  s.name = c.scheduler.name;
  s.lr = float(c.optimizer.lr);
  s.warmup_steps = c.scheduler.warmup_steps;
  s.max_steps = c.training.max_steps;
  s.min_lr_ratio = float(c.scheduler.min_lr_ratio);
  s.decay_ratio = float(c.scheduler.decay_ratio);
  // wsd keeps its final decay; the warmup gives way to it.
  const int64_t decay_steps =
      s.name == "wsd" ? int64_t(std::llround(double(s.decay_ratio) * double(s.max_steps))) : 0;
  const int64_t room = std::max<int64_t>(s.max_steps - decay_steps, 0);
  if (s.warmup_steps > room) {
    if (warnings)
      warnings->push_back(detail::concat(
          "scheduler.warmup_steps (", s.warmup_steps, ") is longer than training.max_steps (", s.max_steps, ")",
          decay_steps > 0 ? detail::concat(" less the wsd decay (", decay_steps, " steps)") : std::string(),
          ": the warmup is clamped to ", room, " steps"));
    s.warmup_steps = room;
  }
  optim::validate_schedule(s);
  return s;
}

std::unique_ptr<TrainSession> setup_session(const Config& cfg_in, const TrainOptions& options) {
  auto session = std::make_unique<TrainSession>();
  TrainSession& s = *session;
  s.cfg = cfg_in;
  Config& cfg = s.cfg;
  s.comm = options.communicator;
  if (!s.comm)
    s.comm = distributed::make_communicator(cfg.distributed.backend,
                                            distributed::detect_launch(distributed::launch_environment()),
                                            cfg.run.device, cfg.distributed.timeout_s);
  s.world = s.comm->world_size();
  s.rank = s.comm->rank();
  if (s.world > 1) check_same_config(*s.comm, cfg);

  // 1. Checks that need nothing loaded.
  check_supported(cfg);
  check_device(cfg, *s.comm);
  s.device = Device::parse(cfg.run.device);
  check_config_paths(cfg);
  std::vector<std::string> warnings;
  s.schedule = schedule_for(cfg, &warnings);
  if (s.rank == 0 && !options.quiet)
    for (const std::string& w : warnings) std::cerr << "warning: " << w << "\n";

  // 2. The checkpoint to resume; a run already at max_steps has nothing to do and touches nothing.
  const fs::path out_dir = cfg.run.output_dir;
  s.checkpoints = std::make_unique<CheckpointManager>(out_dir / "checkpoints", cfg.training.keep_checkpoints);
  s.resumed_from = find_resume_checkpoint(cfg, *s.checkpoints);
  if (s.resumed_from) {
    const int64_t at = read_checkpoint_step(*s.resumed_from);
    if (at >= cfg.training.max_steps) {
      s.step = at;
      s.already_complete = true;
      return session;
    }
  }

  // 3. Model, optimizer, data and tokenizer (all may still fail on the user's files).
  build_model_and_optimizer(s);
  s.train_data = make_loader(cfg, cfg.data.train, s.rank, s.world, /*for_training=*/true);
  if (!cfg.data.val.empty() && cfg.training.eval_every > 0)
    s.val_data = make_loader(cfg, cfg.data.val, s.rank, s.world, /*for_training=*/false);
  if (!cfg.data.tokenizer.empty()) {
    s.tokenizer = std::make_unique<data::BpeTokenizer>(data::BpeTokenizer::load(cfg.data.tokenizer));
    // Samples must decode: the same check as `anvil generate`, before any file is written.
    try {
      s.sample_vocab_limit = check_tokenizer_fits_model(*s.tokenizer, cfg.data.tokenizer, cfg.model.vocab_size);
    } catch (const InputError& e) {
      throw ConfigError(detail::concat("data.tokenizer: ", e.what(), " (model.vocab_size is ", cfg.model.vocab_size,
                                       ")"));
    }
  }
  if (s.resumed_from) restore_checkpoint(s, *s.resumed_from);

  // 4. Data parallelism: one starting point (rank 0's parameters; the optimizer state and RNG came
  // from the same config or checkpoint on every rank) and bucketed gradient averaging.
  if (s.world > 1) {
    check_same_step(*s.comm, s.step);
    distributed::broadcast_parameters(*s.comm, s.model->parameters(), 0);
    // ZeRO-1 reduce-scatters the gradients in its clip/step instead of all-reducing them in buckets.
    if (!dynamic_cast<distributed::ZeroAdamW*>(s.optimizer.get()))
      s.grad_sync = std::make_unique<distributed::GradSync>(s.comm, s.model->parameters(),
                                                            cfg.distributed.bucket_mb * (int64_t(1) << 20));
    // Rank r's micro-batch m is the single process's micro-batch m*world + r; giving it that
    // micro-batch's dropout counters makes the masks the single process would draw.
    if (cfg.model.dropout > 0)
      s.dropout_draws = dropout_draws_per_micro_batch(*s.model, cfg.training.micro_batch_size, cfg.data.seq_len);
  }

  // 5. Only now the run's files (rank 0). On resume, metrics past the checkpoint's step are dropped
  // so that the curves show one line.
  if (s.rank == 0) {
    fs::create_directories(out_dir);
    write_file_atomic(out_dir / "config.yaml", config_to_yaml(cfg));
    const std::optional<int64_t> resumed_step = s.resumed_from ? std::optional<int64_t>(s.step) : std::nullopt;
    if (cfg.logging.jsonl) s.jsonl = std::make_unique<JsonlWriter>(out_dir / "metrics.jsonl", resumed_step);
    if (cfg.logging.tensorboard) s.tensorboard = std::make_unique<TensorBoardWriter>(out_dir / "tb", resumed_step);
  }
  return session;
}

void build_model_and_optimizer(TrainSession& s) {
  // The run's matmul precision on CUDA (train and bench both come through here).
  ops::set_allow_tf32(s.cfg.kernels.tf32);
  Generator init_rng(s.cfg.run.seed);
  s.model = build_model(s.cfg, init_rng);
  s.model->train(true);
  if (!s.device.is_cpu()) s.model->to(s.device);  // before the optimizer, whose state follows the parameters
  s.optimizer = make_optimizer(s.cfg, *s.model, s.comm);
  s.accum = grad_accum_steps(s.cfg, s.world);
}

fs::path save_session_checkpoint(TrainSession& s) {
  // ZeRO-1: every rank takes part in gathering the full moments; then, as always, rank 0 writes.
  std::map<std::string, Tensor> optimizer_state = s.optimizer->state_tensors();
  if (s.rank != 0) return {};  // every rank holds the same state; rank 0 writes it
  CheckpointData ck;
  for (auto& [name, p] : s.model->named_parameters()) ck.model[name] = p.detach();
  ck.optimizer = std::move(optimizer_state);
  ck.config_yaml = config_to_yaml(s.cfg);
  ck.state = {{"step", s.step},
              {"arch", s.cfg.model.arch},
              {"optimizer", s.optimizer->state_scalars()},
              {"loader", s.train_data->state()},
              {"dropout_rng", {{"seed", s.model->dropout_rng().seed}, {"offset", s.model->dropout_rng().offset}}},
              {"config_hash", config_hash(s.cfg)}};
  return s.checkpoints->save(s.step, ck);
}

}  // namespace anvil::train
