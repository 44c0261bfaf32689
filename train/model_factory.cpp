#include "train/model_factory.h"

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "core/models/hf.h"
#include "train/checkpoint/checkpoint.h"

namespace anvil::train {

namespace fs = std::filesystem;

models::ModelConfig to_model_config(const ModelConfig& m) {
  models::ModelConfig r;
  r.arch = m.arch;
  r.n_layer = m.n_layer;
  r.n_head = m.n_head;
  r.n_kv_head = m.n_kv_head;
  r.d_model = m.d_model;
  r.d_ff = m.d_ff;
  r.vocab_size = m.vocab_size;
  r.max_seq_len = m.max_seq_len;
  r.norm_eps = float(m.norm_eps);
  r.rope_theta = float(m.rope_theta);
  r.tie_embeddings = m.tie_embeddings;
  r.dropout = float(m.dropout);
  r.init_std = float(m.init_std);
  return r;
}

namespace {

void copy_shape_into(ModelConfig& m, const models::ModelConfig& r) {
  m.arch = r.arch;
  m.n_layer = r.n_layer;
  m.n_head = r.n_head;
  m.n_kv_head = r.n_kv_head;
  m.d_model = r.d_model;
  m.d_ff = r.d_ff;
  m.vocab_size = r.vocab_size;
  m.max_seq_len = r.max_seq_len;
  m.norm_eps = r.norm_eps;
  m.rope_theta = r.rope_theta;
  m.tie_embeddings = r.tie_embeddings;
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
  auto model = models::make_uninitialized_model(to_model_config(cfg.model));
  load_parameters(*model, data.model, ck / "model.safetensors");
  if (cfg_out) *cfg_out = cfg;
  return model;
}

std::unique_ptr<models::CausalLM> build_model(Config& cfg, Generator& init_rng) {
  if (cfg.model.init_from.empty()) {
    models::ModelConfig mc = to_model_config(cfg.model);
    models::validate_config(mc, "model");
    return models::make_model(mc, init_rng);
  }
  auto model = load_model_dir(cfg.model.init_from);
  copy_shape_into(cfg.model, model->config());
  validate_config(cfg);
  return model;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const Config& cfg, const models::CausalLM& model) {
  auto groups = optim::default_param_groups(model.named_parameters(), float(cfg.optimizer.weight_decay));
  if (cfg.optimizer.name == "sgd") return optim::make_sgd(std::move(groups), float(cfg.optimizer.momentum));
  return optim::make_adamw(std::move(groups), float(cfg.optimizer.beta1), float(cfg.optimizer.beta2),
                           float(cfg.optimizer.eps));
}

}  // namespace anvil::train
