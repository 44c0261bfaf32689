// Learning-rate schedules; the formulas are in schedule.h. Computed in double, returned as float.
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/base/error.h"

namespace anvil::optim {
namespace {

// Number of final steps over which wsd decays.
int64_t wsd_decay_steps(const ScheduleOptions& o) {
  return int64_t(std::llround(double(o.decay_ratio) * double(o.max_steps)));
}

}  // namespace

void validate_schedule(const ScheduleOptions& o) {
  ANVIL_CHECK_AS(ConfigError, o.name == "constant" || o.name == "cosine" || o.name == "linear" || o.name == "wsd",
                 "lr schedule '", o.name, "' is unknown; expected one of constant, cosine, linear, wsd");
  ANVIL_CHECK_AS(ConfigError, std::isfinite(o.lr) && o.lr >= 0.0f, "lr schedule: lr must be >= 0, got ", o.lr);
  ANVIL_CHECK_AS(ConfigError, o.max_steps > 0, "lr schedule: max_steps must be > 0, got ", o.max_steps);
  ANVIL_CHECK_AS(ConfigError, o.warmup_steps >= 0 && o.warmup_steps <= o.max_steps,
                 "lr schedule: warmup_steps must be in [0, max_steps = ", o.max_steps, "], got ", o.warmup_steps);
  ANVIL_CHECK_AS(ConfigError, o.min_lr_ratio >= 0.0f && o.min_lr_ratio <= 1.0f,
                 "lr schedule: min_lr_ratio must be in [0, 1], got ", o.min_lr_ratio);
  if (o.name == "wsd") {
    ANVIL_CHECK_AS(ConfigError, o.decay_ratio >= 0.0f && o.decay_ratio <= 1.0f,
                   "lr schedule: decay_ratio must be in [0, 1], got ", o.decay_ratio);
    ANVIL_CHECK_AS(ConfigError, o.warmup_steps + wsd_decay_steps(o) <= o.max_steps, "lr schedule: wsd warmup_steps (",
                   o.warmup_steps, ") plus decay steps (decay_ratio ", o.decay_ratio, " of ", o.max_steps, " = ",
                   wsd_decay_steps(o), ") exceed max_steps");
  }
}

float learning_rate(const ScheduleOptions& o, int64_t step) {
  validate_schedule(o);
  const double lr = o.lr;
  const double min_lr = lr * double(o.min_lr_ratio);
  if (step < o.warmup_steps) return float(lr * double(step + 1) / double(o.warmup_steps));
  if (o.name == "constant") return float(lr);
  if (step >= o.max_steps) return float(min_lr);

  if (o.name == "wsd") {
    const int64_t decay_steps = wsd_decay_steps(o);
    const int64_t decay_start = o.max_steps - decay_steps;
    if (step < decay_start) return float(lr);
    const double progress = double(step - decay_start) / double(decay_steps);
    return float(lr - (lr - min_lr) * progress);
  }
  // warmup_steps == max_steps leaves no decay phase; step >= max_steps returned above.
  const double progress = double(step - o.warmup_steps) / double(o.max_steps - o.warmup_steps);
  if (o.name == "linear") return float(lr - (lr - min_lr) * progress);
  return float(min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

}  // namespace anvil::optim
