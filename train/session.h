// The trainer's parts (internal to train/; trainer.h is the public face). One training run is a
// TrainSession that setup_session() builds, that optimizer_step() and evaluate() advance, and that
// train() in trainer.cpp drives through the loop:
//
//   setup.cpp     everything before the first step: the communicator, capability and path checks,
//                 finding the checkpoint to resume (and noticing a run that is already complete),
//                 the model, optimizer, batch sources and tokenizer, restoring the checkpoint, the
//                 data-parallel starting point, and only then the run's files. Every check that can
//                 fail on the user's input runs before anything is written.
//   step.cpp      one optimizer step: micro-batches with gradient accumulation, gradient sync,
//                 clipping and the update, through the Optimizer interface (plain or ZeRO-1 alike).
//   evaluate.cpp  the loss over a BatchSource without gradients (validation, `anvil eval`).
//   trainer.cpp   the loop: schedule, step, metrics, evaluation, samples, checkpoints.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/models/model.h"
#include "data/bpe/tokenizer.h"
#include "data/loader/batch.h"
#include "distributed/communicator.h"
#include "distributed/ddp.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/checkpoint/checkpoint.h"
#include "train/evaluate.h"
#include "train/config/config.h"
#include "train/metrics/metrics.h"
#include "train/trainer.h"

namespace anvil::train {

struct TrainSession {
  Config cfg;
  std::shared_ptr<distributed::Communicator> comm;
  int rank = 0, world = 1;
  Device device = Device::cpu();

  std::unique_ptr<models::CausalLM> model;
  std::unique_ptr<optim::Optimizer> optimizer;       // AdamW, SGD or ZeRO-1's sharded AdamW
  std::unique_ptr<distributed::GradSync> grad_sync;  // DDP bucketed averaging (plain optimizers, world > 1)
  std::unique_ptr<data::BatchSource> train_data;
  std::unique_ptr<data::BatchSource> val_data;        // null: no evaluation
  std::unique_ptr<data::BpeTokenizer> tokenizer;     // null: no samples
  int64_t sample_vocab_limit = 0;  // ids a sample may use: the tokenizer's (checked against the model)
  optim::ScheduleOptions schedule;
  int64_t accum = 1;               // micro-batches per optimizer step on each rank
  uint64_t dropout_draws = 0;      // dropout counters per micro-batch (data parallelism with dropout)

  std::unique_ptr<CheckpointManager> checkpoints;
  std::optional<std::filesystem::path> resumed_from;
  int64_t step = 0;                // optimizer steps done
  bool already_complete = false;   // the resumed checkpoint is at training.max_steps: nothing to do

  // Rank 0's outputs (null elsewhere, or when the config turns them off).
  std::unique_ptr<JsonlWriter> jsonl;
  std::unique_ptr<TensorBoardWriter> tensorboard;
};

// ---- setup.cpp -----------------------------------------------------------------------------------

// Every path the config names, checked before anything is written: data.train (and data.val when
// evaluating) must match files, data.tokenizer must be a tokenizer folder, model.init_from must
// exist, run.output_dir must be a folder that can be created or written. Throws ConfigError
// naming the key and the path.
void check_config_paths(const Config& cfg);

// The LR schedule of the config. A warmup longer than the run is clamped to the run (the schedule
// still works, as in PyTorch), with a warning naming both keys appended to `warnings`.
optim::ScheduleOptions schedule_for(const Config& cfg, std::vector<std::string>* warnings);

// The model (from the config, or model.init_from), in training mode on s.device, its optimizer and
// the micro-batches per step: what setup_session and `anvil bench` build the same way. Needs cfg,
// comm, world and device set.
void build_model_and_optimizer(TrainSession& s);

// Builds the session (see the file comment). When the run is already complete, returns a session
// with already_complete set and no model, having written nothing.
std::unique_ptr<TrainSession> setup_session(const Config& cfg, const TrainOptions& options);

// Writes a checkpoint of the session at its current step (collective under ZeRO-1: every rank
// calls it; rank 0 writes). Returns the folder, empty on other ranks.
std::filesystem::path save_session_checkpoint(TrainSession& s);

// ---- step.cpp ------------------------------------------------------------------------------------

struct StepResult {
  double loss = 0;       // mean over the step's micro-batches (and ranks)
  float grad_norm = 0;   // before clipping
  int64_t tokens = 0;    // tokens of the global batch
  // On one CUDA device the step does not wait for the GPU: loss and grad_norm are then left unset
  // and these 1-element f32 tensors hold them, possibly still being computed, until the trainer
  // reads a batch of steps at once (train/trainer.cpp, once per log interval).
  Tensor loss_on_device, grad_norm_on_device;
};

// One optimizer step at learning rate lr: accum micro-batches forward and backward, gradients
// averaged across ranks, clipped to training.grad_clip, the update, gradients dropped.
StepResult optimizer_step(TrainSession& s, float lr);

// ---- evaluate.cpp: see evaluate.h -------------------------------------------------------------

}  // namespace anvil::train
