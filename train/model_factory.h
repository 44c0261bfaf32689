// From config or checkpoint to a model: the one place that knows the two kinds of model folder (an
// anvil checkpoint, a Hugging Face folder with config.json + model.safetensors).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/models/model.h"
#include "distributed/communicator.h"
#include "optim/optimizer.h"
#include "train/config/config.h"

namespace anvil::train {

// The model the config describes: fresh weights drawn from init_rng, or the weights of
// model.init_from. With init_from, cfg.model's shape keys are replaced by the loaded model's.
std::unique_ptr<models::CausalLM> build_model(Config& cfg, Generator& init_rng);

// The optimizer the config names (adamw | sgd) over the model's parameters, with the default
// decay grouping (optim::default_param_groups). Its state lives on the parameters' device, so
// move the model first. With distributed.zero_stage 1 and a communicator of several ranks, AdamW
// is ZeRO-1's sharded AdamW (distributed/zero.h) behind the same interface.
std::unique_ptr<optim::Optimizer> make_optimizer(const Config& cfg, const models::CausalLM& model,
                                                 std::shared_ptr<distributed::Communicator> comm = nullptr);

// Copies named tensors into the model's parameters. A missing tensor, an unexpected one or a shape
// mismatch is a CheckpointError naming `file` and the tensor.
void load_parameters(models::CausalLM& model, const std::map<std::string, Tensor>& tensors,
                     const std::filesystem::path& file);

// A model for inference from an anvil checkpoint folder, a run's output folder (its newest
// checkpoint) or a Hugging Face folder. When cfg_out is given it receives the run's config (for a
// checkpoint) or a default config with the model section filled in (for an HF folder).
std::unique_ptr<models::CausalLM> load_model_dir(const std::filesystem::path& dir, Config* cfg_out = nullptr);

}  // namespace anvil::train
