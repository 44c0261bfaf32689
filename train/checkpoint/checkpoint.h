// Training checkpoints: one folder per step under <output_dir>/checkpoints/step_XXXXXXXX holding
//   model.safetensors      parameters under their Hugging Face names
//   optimizer.safetensors  optimizer moments ("m.<param>", "v.<param>", ...)
//   state.json             step, optimizer scalars, RNG (seed, offset), data-loader positions, config hash
//   config.yaml            the resolved config the run used
// A checkpoint is written into a hidden temporary folder which is renamed into place only after
// every file is written and fsynced; a failure (full disk) removes the temporary folder and leaves
// earlier checkpoints as they were. Only the newest `keep` checkpoints are kept.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/tensor/tensor.h"

namespace anvil::train {

struct CheckpointData {
  std::map<std::string, Tensor> model;
  std::map<std::string, Tensor> optimizer;
  nlohmann::json state;
  std::string config_yaml;
};

class CheckpointManager {
 public:
  CheckpointManager(std::filesystem::path dir, int64_t keep);

  // Writes the checkpoint of `step` atomically, then prunes old ones. Returns its folder.
  std::filesystem::path save(int64_t step, const CheckpointData& data);
  // The newest complete checkpoint in the folder, if any.
  std::optional<std::filesystem::path> latest() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int64_t keep_;
};

// Reads a checkpoint folder; any missing or corrupt file is a CheckpointError naming it.
CheckpointData load_checkpoint(const std::filesystem::path& dir);
// The step of a checkpoint folder from its state.json alone (cheap: no tensors are read).
int64_t read_checkpoint_step(const std::filesystem::path& dir);
// True when `dir` looks like an anvil checkpoint folder (has state.json and model.safetensors).
bool is_checkpoint_dir(const std::filesystem::path& dir);
std::string checkpoint_name(int64_t step);

}  // namespace anvil::train
