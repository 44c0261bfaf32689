#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace anvil::train {

namespace {
constexpr int kBarWidth = 24;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(std::string mode, int64_t total_steps, bool quiet) : quiet_(quiet), total_(total_steps) {
  bar_ = mode == "always" || (mode == "auto" && isatty(STDERR_FILENO));
}

void Progress::update(int64_t step, double loss, double lr, double grad_norm, double tps, double eta) {
  if (quiet_) return;
  char stats[160];
  std::snprintf(stats, sizeof stats, "step %lld/%lld | loss %.4f | lr %.2e | norm %.3f | %.0f tok/s | ETA %s",
                static_cast<long long>(step), static_cast<long long>(total_), loss, lr, grad_norm, tps,
                format_duration(eta).c_str());
  if (!bar_) {
    std::fprintf(stderr, "%s\n", stats);
    return;
  }
  int filled = total_ > 0 ? int(double(step) / double(total_) * kBarWidth) : 0;
  std::string bar(size_t(filled), '#');
  bar.resize(kBarWidth, '.');
  std::fprintf(stderr, "\r\033[K[%s] %s", bar.c_str(), stats);
  std::fflush(stderr);
  bar_drawn_ = true;
}

void Progress::message(const std::string& text) {
  if (quiet_) return;
  if (bar_drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", text.c_str());
  bar_drawn_ = false;
}

void Progress::finish() {
  if (!quiet_ && bar_drawn_) std::fprintf(stderr, "\n");
  bar_drawn_ = false;
}

}  // namespace anvil::train
