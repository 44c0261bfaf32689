#include "train/model_factory.h"

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "core/models/hf.h"
#include "distributed/zero.h"
#include "train/checkpoint/checkpoint.h"

namespace anvil::train {

namespace fs = std::filesystem;

namespace {

// A loaded model's shape into the model: section; dropout and init_std stay the run's choices.
void copy_shape_into(ModelSection& m, const models::ModelConfig& loaded) {
  const double dropout = m.dropout, init_std = m.init_std;
  static_cast<models::ModelConfig&>(m) = loaded;
  m.dropout = dropout;
  m.init_std = init_std;
}

fs::path resolve_checkpoint(const fs::path& dir) {
  if (is_checkpoint_dir(dir)) return dir;
  CheckpointManager m(dir / "checkpoints", 0);
  if (auto latest = m.latest()) return *latest;
  return {};
}

}  // namespace

void load_parameters(models::CausalLM& model, const std::map<std::string, Tensor>& tensors, const fs::path& file) {
  NoGradGuard no_grad;
  size_t used = 0;
  for (auto& [name, p] : model.named_parameters()) {
    auto it = tensors.find(name);
    if (it == tensors.end())
      throw CheckpointError(detail::concat(file.string(), ": missing tensor '", name, "' (expected shape ",
                                           shape_str(p.shape()), ")"));
    if (it->second.shape() != p.shape())
      throw CheckpointError(detail::concat(file.string(), ": tensor '", name, "' has shape ",
                                           shape_str(it->second.shape()), ", expected ", shape_str(p.shape())));
    Tensor dst = p;
    ops::copy_(dst, it->second);
    ++used;
  }
  if (used != tensors.size()) {
    for (auto& [name, t] : tensors) {
      bool known = false;
      for (auto& [pn, p] : model.named_parameters()) known |= pn == name;
      if (!known)
        throw CheckpointError(detail::concat(file.string(), ": unexpected tensor '", name,
                                             "' (the checkpoint is of another architecture or size)"));
    }
  }
}

std::unique_ptr<models::CausalLM> load_model_dir(const fs::path& dir, Config* cfg_out) {
  if (fs::exists(dir / "config.json")) {
    auto model = models::load_hf_model(dir);
    if (cfg_out) {
      *cfg_out = default_config();
      copy_shape_into(cfg_out->model, model->config());
    }
    return model;
  }
  fs::path ck = resolve_checkpoint(dir);
  if (ck.empty())
    throw CheckpointError(detail::concat(dir.string(),
                                         " is neither an anvil checkpoint (state.json + model.safetensors), a run "
                                         "folder with checkpoints/, nor a Hugging Face folder (config.json)"));
  if (!fs::exists(ck / "config.yaml"))
    throw CheckpointError(detail::concat(ck.string(), ": missing config.yaml"));
  Config cfg = load_config(ck / "config.yaml");
  CheckpointData data = load_checkpoint(ck);
  auto model = models::make_uninitialized_model(cfg.model);
  load_parameters(*model, data.model, ck / "model.safetensors");
  if (cfg_out) *cfg_out = cfg;
  return model;
}

std::unique_ptr<models::CausalLM> build_model(Config& cfg, Generator& init_rng) {
  if (cfg.model.init_from.empty()) {
    models::validate_config(cfg.model, "model");
    return models::make_model(cfg.model, init_rng);
  }
  auto model = load_model_dir(cfg.model.init_from);
  copy_shape_into(cfg.model, model->config());
  validate_config(cfg);
  return model;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const Config& cfg, const models::CausalLM& model,
                                                 std::shared_ptr<distributed::Communicator> comm) {
  auto groups = optim::default_param_groups(model.named_parameters(), float(cfg.optimizer.weight_decay));
  if (cfg.optimizer.name == "sgd") return optim::make_sgd(std::move(groups), float(cfg.optimizer.momentum));
  // ZeRO-1 shards the moments across ranks; with one rank there is nothing to shard.
  if (cfg.distributed.zero_stage == 1 && comm && comm->world_size() > 1)
    return std::make_unique<distributed::ZeroAdamW>(std::move(comm), std::move(groups), float(cfg.optimizer.beta1),
                                                    float(cfg.optimizer.beta2), float(cfg.optimizer.eps));
  return optim::make_adamw(std::move(groups), float(cfg.optimizer.beta1), float(cfg.optimizer.beta2),
                           float(cfg.optimizer.eps));
}

}  // namespace anvil::train
