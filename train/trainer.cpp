// The training loop. See trainer.h and docs/ARCHITECTURE.md ("A training step").
//
// Bit-for-bit resume: everything that decides the next step is either recomputed from the config
// or saved in the checkpoint: parameters, optimizer moments and step count, the dropout RNG's
// (seed, offset), the train loader's position; the LR schedule is a pure function of the step.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "core/base/fs.h"
#include "core/models/hf.h"
#include "core/models/model.h"
#include "data/bpe/tokenizer.h"
#include "data/loader/loader.h"
#include "distributed/ddp.h"
#include "distributed/launch.h"
#include "distributed/zero.h"
#include "kernels/device_runtime.h"
#include "optim/optim.h"
#include "train/checkpoint/checkpoint.h"
#include "train/generate.h"
#include "train/metrics/metrics.h"
#include "train/model_factory.h"
#include "train/progress.h"

namespace anvil::train {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// (B, T+1) windows -> ids (B, T) and targets (B, T), views of one i32 tensor on `device`.
std::pair<Tensor, Tensor> batch_tensors(const data::TokenBatch& b, Device device) {
  const int64_t B = b.batch_size, T = b.seq_len;
  Tensor all = Tensor::empty({B, T + 1}, DType::I32);
  std::memcpy(all.data_ptr(), b.tokens.data(), b.tokens.size() * sizeof(int32_t));
  if (!device.is_cpu()) all = all.to(device);
  return {all.slice(1, 0, T), all.slice(1, 1, T + 1)};
}

double evaluate(models::CausalLM& model, data::TokenLoader& loader, int64_t steps, distributed::Communicator& comm,
                Device device) {
  NoGradGuard no_grad;
  model.eval();
  loader.reset();
  const int64_t world = comm.world_size(), rank = comm.rank();
  double total = 0;
  for (int64_t i = 0; i * world + rank < steps; ++i) {
    auto [ids, targets] = batch_tensors(loader.next(), device);
    total += model.loss(model.forward(ids), targets).item();
  }
  if (world > 1) comm.all_reduce_sum(&total, 1);
  model.train(true);
  return total / double(std::max<int64_t>(steps, 1));
}

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

std::map<std::string, Tensor> model_state(const models::CausalLM& model) {
  std::map<std::string, Tensor> m;
  for (auto& [name, p] : model.named_parameters()) m[name] = p.detach();
  return m;
}

optim::ScheduleOptions schedule_options(const Config& c) {
  optim::ScheduleOptions s;
  s.name = c.scheduler.name;
  s.lr = float(c.optimizer.lr);
  s.warmup_steps = c.scheduler.warmup_steps;
  s.max_steps = c.training.max_steps;
  s.min_lr_ratio = float(c.scheduler.min_lr_ratio);
  s.decay_ratio = float(c.scheduler.decay_ratio);
  return s;
}

std::optional<fs::path> find_resume_checkpoint(const Config& c, const CheckpointManager& ckpts) {
  const std::string& r = c.training.resume;
  if (r == "never") return std::nullopt;
  if (r == "auto") return ckpts.latest();
  if (!is_checkpoint_dir(r))
    throw CheckpointError(detail::concat("training.resume: ", r, " is not an anvil checkpoint folder (expected state.json and model.safetensors)"));
  return fs::path(r);
}

std::vector<std::string> draw_samples(models::CausalLM& model, const data::BpeTokenizer& tok, const Config& c,
                                      int count) {
  std::vector<std::string> out;
  uint32_t start = tok.eot_id();
  for (int i = 0; i < count; ++i) {
    SamplingOptions so;
    so.max_new_tokens = c.training.sample_tokens;
    so.temperature = 0.8f;
    so.top_k = 40;
    so.seed = c.run.seed + uint64_t(i);
    so.stop_token = start;
    auto ids = generate_tokens(model, {start}, so);
    if (!ids.empty() && ids.back() == start) ids.pop_back();
    out.push_back(tok.decode(ids));
  }
  return out;
}

}  // namespace

TrainSummary train(const Config& cfg_in, const TrainOptions& options) {
  Config cfg = cfg_in;
  std::shared_ptr<distributed::Communicator> comm = options.communicator;
  if (!comm)
    comm = distributed::make_communicator(cfg.distributed.backend,
                                          distributed::detect_launch(distributed::launch_environment()),
                                          cfg.run.device, cfg.distributed.timeout_s);
  const int world = comm->world_size(), rank = comm->rank();
  // ZeRO-1 shards AdamW's moments across ranks; with one rank there is nothing to shard. (Checked
  // here rather than in the config loader, which accepts any combination of these two keys.)
  ANVIL_CHECK_AS(ConfigError, cfg.distributed.zero_stage == 0 || cfg.optimizer.name == "adamw",
                 "distributed.zero_stage: 1 shards AdamW's moments, but optimizer.name is ", cfg.optimizer.name);
  const bool use_zero = cfg.distributed.zero_stage == 1 && world > 1;
  if (world > 1) check_same_config(*comm, cfg);
  const Device device = Device::parse(cfg.run.device);
  // CUDA: one GPU, fp32, through the ops' CUDA kernels (not yet run on a GPU: see bench/RESULTS.md).
  // Mixed precision and DDP on device tensors (GradSync and ZeRO-1 stage through host memory) are
  // not wired yet.
  if (device.is_cuda()) {
    ANVIL_CHECK_AS(ConfigError, kernels::cuda_built(), "run.device: ", cfg.run.device,
                   " needs a build with CUDA (configure with -DANVIL_CUDA=ON where nvcc is installed)");
    ANVIL_CHECK_AS(ConfigError, device.index < kernels::cuda_device_count(), "run.device: ", cfg.run.device,
                   " but this machine has ", kernels::cuda_device_count(), " CUDA device(s)");
    ANVIL_CHECK_AS(ConfigError, world == 1, "run.device: ", cfg.run.device, " with ", world,
                   " ranks: data parallelism on CUDA tensors is not wired yet; use one process or run.device cpu");
    kernels::cuda_set_device(device.index);
  }
  ANVIL_CHECK_AS(ConfigError, cfg.training.precision == "fp32", "training.precision: ", cfg.training.precision,
                 " is not wired into the trainer yet; use fp32");

  const fs::path out_dir = cfg.run.output_dir;
  if (rank == 0) fs::create_directories(out_dir);
  CheckpointManager ckpts(out_dir / "checkpoints", cfg.training.keep_checkpoints);
  std::optional<fs::path> resume_from = find_resume_checkpoint(cfg, ckpts);

  // Model: fresh, from init_from, or (on resume) shaped by the config and filled from the checkpoint.
  Generator init_rng(cfg.run.seed);
  std::unique_ptr<models::CausalLM> model = build_model(cfg, init_rng);
  model->train(true);
  if (!device.is_cpu()) model->to(device);  // before the optimizer, whose state follows the parameters
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<distributed::ZeroAdamW> zero;
  if (use_zero)
    zero = std::make_unique<distributed::ZeroAdamW>(
        comm, optim::default_param_groups(model->named_parameters(), float(cfg.optimizer.weight_decay)),
        float(cfg.optimizer.beta1), float(cfg.optimizer.beta2), float(cfg.optimizer.eps));
  else
    opt = make_optimizer(cfg, *model);
  const int64_t accum = grad_accum_steps(cfg, world);
  const int64_t B = cfg.training.micro_batch_size, T = cfg.data.seq_len;

  data::LoaderOptions lo;
  lo.pattern = cfg.data.train;
  lo.batch_size = B;
  lo.seq_len = T;
  lo.rank = rank;
  lo.world_size = world;
  lo.seed = cfg.run.seed;
  lo.vocab_size = cfg.model.vocab_size;
  data::TokenLoader train_loader(lo);
  std::unique_ptr<data::TokenLoader> val_loader;
  if (!cfg.data.val.empty() && cfg.training.eval_every > 0) {
    data::LoaderOptions vo = lo;
    vo.pattern = cfg.data.val;
    vo.shuffle = false;
    vo.prefetch = false;
    val_loader = std::make_unique<data::TokenLoader>(vo);
  }

  TrainSummary summary;
  int64_t step = 0;
  if (resume_from) {
    CheckpointData ck = load_checkpoint(*resume_from);
    const std::string arch = ck.state.value("arch", "");
    if (!arch.empty() && arch != cfg.model.arch)
      throw CheckpointError(detail::concat(resume_from->string(), ": checkpoint is of architecture '", arch,
                                           "' but model.arch is '", cfg.model.arch, "'"));
    load_parameters(*model, ck.model, *resume_from / "model.safetensors");
    if (zero) zero->load_state(ck.optimizer, ck.state.at("optimizer"));  // this rank's shard
    else opt->load_state(ck.optimizer, ck.state.at("optimizer"));
    train_loader.restore(ck.state.at("loader"));
    model->dropout_rng().seed = ck.state.at("dropout_rng").at("seed").get<uint64_t>();
    model->dropout_rng().offset = ck.state.at("dropout_rng").at("offset").get<uint64_t>();
    step = ck.state.at("step").get<int64_t>();
    summary.resumed_from = step;
  }
  summary.rank = rank;
  summary.world_size = world;

  // Data parallelism: one starting point (rank 0's parameters; the optimizer state and RNG came
  // from the same config or checkpoint on every rank) and bucketed gradient averaging.
  std::unique_ptr<distributed::GradSync> grad_sync;
  uint64_t dropout_draws = 0;
  if (world > 1) {
    check_same_step(*comm, step);
    distributed::broadcast_parameters(*comm, model->parameters(), 0);
    // ZeRO-1 reduce-scatters the gradients in its step instead of all-reducing them in buckets.
    if (!use_zero)
      grad_sync = std::make_unique<distributed::GradSync>(comm, model->parameters(),
                                                          cfg.distributed.bucket_mb * (int64_t(1) << 20));
    // Rank r's micro-batch m is the single process's micro-batch m*world + r; giving it that
    // micro-batch's dropout counters makes the masks the single process would draw.
    if (cfg.model.dropout > 0) dropout_draws = dropout_draws_per_micro_batch(*model, B, T);
  }

  if (rank == 0) write_file_atomic(out_dir / "config.yaml", config_to_yaml(cfg));
  std::unique_ptr<JsonlWriter> jsonl;
  std::unique_ptr<TensorBoardWriter> tb;
  if (rank == 0 && cfg.logging.jsonl) jsonl = std::make_unique<JsonlWriter>(out_dir / "metrics.jsonl");
  if (rank == 0 && cfg.logging.tensorboard) tb = std::make_unique<TensorBoardWriter>(out_dir / "tb");

  std::unique_ptr<data::BpeTokenizer> tokenizer;
  if (!cfg.data.tokenizer.empty() && fs::exists(cfg.data.tokenizer))
    tokenizer = std::make_unique<data::BpeTokenizer>(data::BpeTokenizer::load(cfg.data.tokenizer));

  const int64_t last_step =
      options.stop_after_step >= 0 ? std::min(options.stop_after_step, cfg.training.max_steps) : cfg.training.max_steps;
  Progress progress(cfg.logging.progress, cfg.training.max_steps, options.quiet || rank != 0);
  if (resume_from) progress.message("resumed from " + resume_from->string() + " at step " + std::to_string(step));
  progress.message(detail::concat("model: ", cfg.model.arch, " ", model->num_parameters(), " parameters; ", accum,
                                  " micro-batch(es) of ", B, "x", T, " tokens per step",
                                  world > 1 ? detail::concat(" on each of ", world, " ranks (", comm->backend(), ", ",
                                                             zero ? std::string("ZeRO-1: AdamW moments sharded")
                                                                  : detail::concat(grad_sync->bucket_count(),
                                                                                   " gradient bucket(s)"),
                                                             ")")
                                            : std::string()));

  const optim::ScheduleOptions sched = schedule_options(cfg);
  const std::vector<Tensor> params = model->parameters();
  auto interval_start = Clock::now();
  int64_t interval_tokens = 0;
  const auto run_start = Clock::now();
  const int64_t start_step = step;

  auto save_checkpoint = [&](int64_t at_step) {
    // ZeRO-1: every rank takes part in gathering the full moments; then, as always, rank 0 writes.
    std::map<std::string, Tensor> zero_state;
    if (zero) zero_state = zero->state_tensors();
    if (rank != 0) return;  // every rank holds the same state; rank 0 writes it
    CheckpointData ck;
    ck.model = model_state(*model);
    ck.optimizer = zero ? std::move(zero_state) : opt->state_tensors();
    ck.config_yaml = config_to_yaml(cfg);
    ck.state = {{"step", at_step},
                {"arch", cfg.model.arch},
                {"optimizer", zero ? zero->state_scalars() : opt->state_scalars()},
                {"loader", train_loader.state()},
                {"dropout_rng", {{"seed", model->dropout_rng().seed}, {"offset", model->dropout_rng().offset}}},
                {"config_hash", config_hash(cfg)}};
    fs::path p = ckpts.save(at_step, ck);
    progress.message("saved checkpoint " + p.string());
  };

  while (step < last_step) {
    const float lr = optim::learning_rate(sched, step);
    double loss_sum = 0;
    const uint64_t dropout_base = model->dropout_rng().offset;
    for (int64_t micro = 0; micro < accum; ++micro) {
      auto [ids, targets] = batch_tensors(train_loader.next(), device);
      if (dropout_draws) model->dropout_rng().offset = dropout_base + uint64_t(micro * world + rank) * dropout_draws;
      // Gradients are communicated once per step: on the last micro-batch, from the hooks.
      if (grad_sync && micro == accum - 1) grad_sync->begin_sync();
      Tensor loss = model->loss(model->forward(ids), targets);
      loss_sum += loss.item();
      ops::mul_scalar(loss, 1.0f / float(accum)).backward();
    }
    if (world > 1) {
      if (grad_sync) grad_sync->finish();  // (ZeRO-1 reduce-scatters in its step instead)
      if (dropout_draws) model->dropout_rng().offset = dropout_base + uint64_t(accum * world) * dropout_draws;
      comm->all_reduce_sum(&loss_sum, 1);
      loss_sum /= double(world);  // the mean over ranks of each rank's micro-batch sum
    }
    float norm = 0;
    if (zero) {
      norm = zero->step(lr, float(cfg.training.grad_clip));  // averages, clips, updates, gathers
    } else {
      norm = optim::clip_grad_norm(params, float(cfg.training.grad_clip));
      opt->step(lr);
      opt->zero_grad();
    }
    ++step;
    interval_tokens += accum * B * T * world;
    const double loss = loss_sum / double(accum);
    ANVIL_CHECK_AS(RuntimeFailure, std::isfinite(loss), "the loss became ", loss, " at step ", step,
                   "; lower optimizer.lr or check the data");
    summary.history.push_back({step, loss, lr, norm});
    summary.last_train_loss = loss;

    if (cfg.training.log_every > 0 && (step % cfg.training.log_every == 0 || step == last_step)) {
      const double secs = std::chrono::duration<double>(Clock::now() - interval_start).count();
      const double tps = double(interval_tokens) / std::max(secs, 1e-9);
      const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
      const double eta = elapsed / double(step - start_step) * double(cfg.training.max_steps - step);
      progress.update(step, loss, lr, norm, tps, eta);
      if (jsonl) jsonl->write(step, {{"loss", loss}, {"lr", lr}, {"grad_norm", norm}, {"tokens_per_s", tps}});
      if (tb) {
        tb->add_scalar("train/loss", loss, step);
        tb->add_scalar("train/lr", lr, step);
        tb->add_scalar("train/grad_norm", norm, step);
        tb->add_scalar("train/tokens_per_s", tps, step);
      }
      interval_start = Clock::now();
      interval_tokens = 0;
    }
    if (val_loader && (step % cfg.training.eval_every == 0 || step == cfg.training.max_steps)) {
      const double val = evaluate(*model, *val_loader, cfg.training.eval_steps, *comm, device);
      summary.last_val_loss = val;
      progress.message(detail::concat("step ", step, ": val loss ", val, " (perplexity ", std::exp(val), ")"));
      if (jsonl) jsonl->write(step, {{"val_loss", val}, {"val_perplexity", std::exp(val)}});
      if (tb) tb->add_scalar("val/loss", val, step);
    }
    if (rank == 0 && tokenizer && cfg.training.sample_every > 0 && step % cfg.training.sample_every == 0) {
      for (auto& s : draw_samples(*model, *tokenizer, cfg, 1)) progress.message("sample: " + s);
    }
    const bool periodic = cfg.training.checkpoint_every > 0 && step % cfg.training.checkpoint_every == 0;
    if (periodic || step == last_step) save_checkpoint(step);
  }
  progress.finish();
  summary.steps_done = step;
  if (world > 1) comm->barrier();  // rank 0's files are complete when train() returns anywhere
  if (rank == 0 && tokenizer && step == cfg.training.max_steps && !options.quiet) {
    summary.samples = draw_samples(*model, *tokenizer, cfg, 3);
    if (jsonl)
      for (size_t i = 0; i < summary.samples.size(); ++i) jsonl->write(step, {}, {{"sample", summary.samples[i]}});
  }
  return summary;
}

}  // namespace anvil::train
