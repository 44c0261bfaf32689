// Learning-rate schedules: the lr to use at a (0-based) optimizer step.
//
// Every schedule starts with linear warmup in the llm.c / nanoGPT convention,
// lr * (step + 1) / warmup_steps for step < warmup_steps, so the first step already moves. After
// warmup, with min = lr * min_lr_ratio:
//   constant  lr
//   cosine    min + (lr - min) * 0.5 * (1 + cos(pi * progress)),  progress = (step - warmup) / (max_steps - warmup)
//   linear    lr - (lr - min) * progress
//   wsd       warmup-stable-decay: lr until the last decay_ratio of max_steps, then linear to min over
//             those steps
// Decays reach min at step == max_steps (as llm.c), and stay there for any later step.
#pragma once

#include <cstdint>
#include <string>

namespace anvil::optim {

struct ScheduleOptions {
  std::string name = "cosine";  // constant | cosine | linear | wsd
  float lr = 3e-4f;
  int64_t warmup_steps = 0;
  int64_t max_steps = 1;
  float min_lr_ratio = 0.0f;  // min lr as a fraction of lr, in [0, 1]
  float decay_ratio = 0.2f;   // wsd only: fraction of max_steps spent decaying, in [0, 1]
};

// Throws anvil::ConfigError on an unknown name or out-of-range option, naming the option.
void validate_schedule(const ScheduleOptions& o);

// The learning rate at step (0-based). Validates o (unknown name -> anvil::ConfigError).
float learning_rate(const ScheduleOptions& o, int64_t step);

}  // namespace anvil::optim
