// Progress output for the trainer: a one-line bar redrawn in place when stderr is a terminal,
// plain log lines otherwise (CI logs, files).
#pragma once

#include <cstdint>
#include <string>

namespace anvil::train {

class Progress {
 public:
  // mode: auto (bar when stderr is a TTY) | always | never (plain lines).
  Progress(std::string mode, int64_t total_steps, bool quiet);
  // Called every log step.
  void update(int64_t step, double loss, double lr, double grad_norm, double tokens_per_s, double eta_s);
  // A message on its own line (evaluation results, checkpoints), not erased by the bar.
  void message(const std::string& text);
  void finish();

 private:
  bool bar_ = false;
  bool quiet_ = false;
  bool bar_drawn_ = false;
  int64_t total_ = 0;
};

std::string format_duration(double seconds);

}  // namespace anvil::train
