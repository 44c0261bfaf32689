// The training loop. See trainer.h, session.h (the parts) and docs/ARCHITECTURE.md ("A training
// step").
//
// Bit-for-bit resume: everything that decides the next step is either recomputed from the config
// or saved in the checkpoint: parameters, optimizer moments and step count, the dropout RNG's
// (seed, offset), the train loader's position; the LR schedule is a pure function of the step.
#include "train/trainer.h"

#include <chrono>
#include <cmath>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "train/generate.h"
#include "train/progress.h"
#include "train/session.h"

namespace anvil::train {

namespace {

using Clock = std::chrono::steady_clock;

// Samples use only the ids the tokenizer decodes (setup_session checked it against the model).
std::vector<std::string> draw_samples(const TrainSession& s, int count) {
  models::CausalLM& model = *s.model;
  const data::BpeTokenizer& tok = *s.tokenizer;
  const Config& c = s.cfg;
  std::vector<std::string> out;
  uint32_t start = tok.eot_id();
  for (int i = 0; i < count; ++i) {
    SamplingOptions so;
    so.max_new_tokens = c.training.sample_tokens;
    so.temperature = 0.8f;
    so.top_k = 40;
    so.seed = c.run.seed + uint64_t(i);
    so.stop_token = start;
    so.vocab_limit = s.sample_vocab_limit;
    auto ids = generate_tokens(model, {start}, so);
    if (!ids.empty() && ids.back() == start) ids.pop_back();
    out.push_back(tok.decode(ids));
  }
  return out;
}

std::string run_description(const TrainSession& s) {
  const Config& cfg = s.cfg;
  std::string text = detail::concat("model: ", cfg.model.arch, " ", s.model->num_parameters(), " parameters; ",
                                    s.accum, " micro-batch(es) of ", cfg.training.micro_batch_size, "x",
                                    cfg.data.seq_len, " tokens per step");
  if (s.world > 1)
    text += detail::concat(" on each of ", s.world, " ranks (", s.comm->backend(), ", ",
                           s.grad_sync ? detail::concat(s.grad_sync->bucket_count(), " gradient bucket(s)")
                                       : std::string("ZeRO-1: AdamW moments sharded"),
                           ")");
  return text;
}

}  // namespace

TrainSummary train(const Config& config, const TrainOptions& options) {
  std::unique_ptr<TrainSession> session = setup_session(config, options);
  TrainSession& s = *session;
  const Config& cfg = s.cfg;
  TrainSummary summary;
  summary.rank = s.rank;
  summary.world_size = s.world;
  summary.steps_done = s.step;
  if (s.already_complete) {
    summary.already_complete = true;
    summary.resumed_from = s.step;
    summary.complete_checkpoint = s.resumed_from->string();
    return summary;
  }
  if (s.resumed_from) summary.resumed_from = s.step;

  const int64_t last_step =
      options.stop_after_step >= 0 ? std::min(options.stop_after_step, cfg.training.max_steps) : cfg.training.max_steps;
  Progress progress(cfg.logging.progress, cfg.training.max_steps, options.quiet || s.rank != 0);
  if (s.resumed_from) progress.message("resumed from " + s.resumed_from->string() + " at step " + std::to_string(s.step));
  progress.message(run_description(s));

  auto interval_start = Clock::now();
  int64_t interval_tokens = 0;
  const auto run_start = Clock::now();
  const int64_t start_step = s.step;

  auto check_finite = [&](const StepRecord& h) {
    ANVIL_CHECK_AS(RuntimeFailure, std::isfinite(h.loss), "the loss became ", h.loss, " at step ", h.step,
                   "; lower optimizer.lr or check the data");
  };
  // Steps whose loss and gradient norm are still on the device (one CUDA device): read together,
  // with one copy, before anything uses them (a log line, an evaluation, a sample, a checkpoint, the
  // end), and checked for a non-finite loss there, in step order.
  std::vector<std::pair<size_t, StepResult>> unread;
  auto read_results = [&] {
    std::vector<Tensor> parts;
    const Device device = unread.front().second.loss_on_device.device();
    for (const auto& [index, r] : unread) {
      parts.push_back(r.loss_on_device);
      parts.push_back(r.grad_norm_on_device.to(device).reshape({1}));
    }
    const std::vector<float> values = ops::concat(parts, 0).to_f32_vector();
    for (size_t i = 0; i < unread.size(); ++i) {
      StepRecord& h = summary.history[unread[i].first];
      h.loss = values[2 * i];
      h.grad_norm = values[2 * i + 1];
      check_finite(h);
    }
    unread.clear();
  };

  while (s.step < last_step) {
    const float lr = optim::learning_rate(s.schedule, s.step);
    const StepResult r = optimizer_step(s, lr);
    const int64_t step = s.step;
    interval_tokens += r.tokens;
    summary.history.push_back({step, r.loss, lr, r.grad_norm});
    const bool log_now = cfg.training.log_every > 0 && (step % cfg.training.log_every == 0 || step == last_step);
    const bool eval_now = s.val_data && (step % cfg.training.eval_every == 0 || step == cfg.training.max_steps);
    const bool sample_now =
        s.rank == 0 && s.tokenizer && cfg.training.sample_every > 0 && step % cfg.training.sample_every == 0;
    const bool periodic = cfg.training.checkpoint_every > 0 && step % cfg.training.checkpoint_every == 0;
    if (r.loss_on_device.defined()) {
      unread.push_back({summary.history.size() - 1, r});
      if (!(log_now || eval_now || sample_now || periodic || step == last_step)) continue;
      read_results();
    } else {
      check_finite(summary.history.back());
    }
    const StepRecord& latest = summary.history.back();
    summary.last_train_loss = latest.loss;

    if (log_now) {
      const double secs = std::chrono::duration<double>(Clock::now() - interval_start).count();
      const double tps = double(interval_tokens) / std::max(secs, 1e-9);
      const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
      const double eta = elapsed / double(step - start_step) * double(cfg.training.max_steps - step);
      progress.update(step, latest.loss, lr, latest.grad_norm, tps, eta);
      if (s.jsonl)
        s.jsonl->write(step,
                       {{"loss", latest.loss}, {"lr", lr}, {"grad_norm", latest.grad_norm}, {"tokens_per_s", tps}});
      if (s.tensorboard) {
        s.tensorboard->add_scalar("train/loss", latest.loss, step);
        s.tensorboard->add_scalar("train/lr", lr, step);
        s.tensorboard->add_scalar("train/grad_norm", latest.grad_norm, step);
        s.tensorboard->add_scalar("train/tokens_per_s", tps, step);
      }
      interval_start = Clock::now();
      interval_tokens = 0;
    }
    if (eval_now) {
      const double val = evaluate(*s.model, *s.val_data, cfg.training.eval_steps, *s.comm, s.device);
      summary.last_val_loss = val;
      progress.message(detail::concat("step ", step, ": val loss ", val, " (perplexity ", std::exp(val), ")"));
      if (s.jsonl) s.jsonl->write(step, {{"val_loss", val}, {"val_perplexity", std::exp(val)}});
      if (s.tensorboard) s.tensorboard->add_scalar("val/loss", val, step);
    }
    if (sample_now) {
      for (auto& text : draw_samples(s, 1)) progress.message("sample: " + text);
    }
    if (periodic || step == last_step) {
      const std::filesystem::path saved = save_session_checkpoint(s);
      if (!saved.empty()) progress.message("saved checkpoint " + saved.string());
    }
  }
  progress.finish();
  summary.steps_done = s.step;
  if (s.world > 1) s.comm->barrier();  // rank 0's files are complete when train() returns anywhere
  if (s.rank == 0 && s.tokenizer && s.step == cfg.training.max_steps && !options.quiet) {
    summary.samples = draw_samples(s, 3);
    if (s.jsonl)
      for (size_t i = 0; i < summary.samples.size(); ++i) s.jsonl->write(s.step, {}, {{"sample", summary.samples[i]}});
  }
  return summary;
}

}  // namespace anvil::train
