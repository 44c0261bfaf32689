#include "train/checkpoint/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "core/base/error.h"
#include "core/base/fs.h"
#include "core/io/safetensors.h"

namespace anvil::train {

namespace fs = std::filesystem;

namespace {
constexpr const char* kPrefix = "step_";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "state.json";
constexpr const char* kConfigFile = "config.yaml";

// Completed checkpoint folders, oldest first (names sort by step: zero-padded).
std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind(kPrefix, 0) == 0 && is_checkpoint_dir(e.path())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%08lld", kPrefix, static_cast<long long>(step));
  return buf;
}

bool is_checkpoint_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kStateFile, ec) && fs::is_regular_file(dir / kModelFile, ec);
}

CheckpointManager::CheckpointManager(fs::path dir, int64_t keep) : dir_(std::move(dir)), keep_(keep) {}

fs::path CheckpointManager::save(int64_t step, const CheckpointData& data) {
  fs::path final_dir = dir_ / checkpoint_name(step);
  std::random_device rd;
  fs::path tmp = dir_ / detail::concat(".", checkpoint_name(step), ".tmp-", rd());
  try {
    fs::create_directories(tmp);
    io::write_safetensors(tmp / kModelFile, data.model);
    io::write_safetensors(tmp / kOptimizerFile, data.optimizer);
    write_file_atomic(tmp / kConfigFile, data.config_yaml);
    // state.json last: its presence marks a complete checkpoint.
    write_file_atomic(tmp / kStateFile, data.state.dump(1));
    std::error_code ec;
    if (fs::exists(final_dir, ec)) fs::remove_all(final_dir, ec);  // a re-save of the same step
    fs::rename(tmp, final_dir);
    fsync_dir(dir_);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw RuntimeFailure(detail::concat("saving checkpoint ", final_dir.string(), " failed: ", e.what(),
                                        "; earlier checkpoints are unchanged"));
  }
  if (keep_ > 0) {
    auto all = list_checkpoints(dir_);
    for (size_t i = 0; i + size_t(keep_) < all.size(); ++i) {
      std::error_code ec;
      fs::remove_all(all[i], ec);
    }
  }
  return final_dir;
}

std::optional<fs::path> CheckpointManager::latest() const {
  auto all = list_checkpoints(dir_);
  if (all.empty()) return std::nullopt;
  return all.back();
}

namespace {
void require_checkpoint_dir(const fs::path& dir) {
  if (!is_checkpoint_dir(dir))
    throw CheckpointError(detail::concat(dir.string(), " is not an anvil checkpoint (expected ", kStateFile, " and ",
                                         kModelFile, " inside)"));
}

nlohmann::json read_state_json(const fs::path& dir) {
  try {
    return nlohmann::json::parse(read_file(dir / kStateFile));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(detail::concat((dir / kStateFile).string(), ": malformed JSON: ", e.what()));
  } catch (const InputError& e) {
    throw CheckpointError(e.what());
  }
}
}  // namespace

CheckpointData load_checkpoint(const fs::path& dir) {
  require_checkpoint_dir(dir);
  CheckpointData d;
  d.model = io::read_safetensors(dir / kModelFile).tensors;
  if (fs::exists(dir / kOptimizerFile)) d.optimizer = io::read_safetensors(dir / kOptimizerFile).tensors;
  d.state = read_state_json(dir);
  if (fs::exists(dir / kConfigFile)) d.config_yaml = read_file(dir / kConfigFile);
  return d;
}

int64_t read_checkpoint_step(const fs::path& dir) {
  require_checkpoint_dir(dir);
  const nlohmann::json state = read_state_json(dir);
  if (!state.is_object() || !state.contains("step") || !state["step"].is_number_integer() ||
      state["step"].get<int64_t>() < 0)
    throw CheckpointError(detail::concat((dir / kStateFile).string(), ": expected a non-negative integer \"step\""));
  return state["step"].get<int64_t>();
}

}  // namespace anvil::train
