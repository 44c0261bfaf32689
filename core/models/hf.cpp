// Hugging Face config and weight mapping (see hf.h). The tensor list comes from each model's
// hf_tensors(), so this file knows nothing about individual layers beyond config keys.
#include "core/models/hf.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/base/fs.h"
#include "core/io/safetensors.h"
#include "core/ops/ops.h"

namespace anvil::models {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

[[noreturn]] void fail(const fs::path& path, const std::string& what) { throw CheckpointError(path.string() + ": " + what); }

json read_json_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "file not found");
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::parse_error& e) {
    fail(path, std::string("malformed JSON: ") + e.what());
  }
}

// Typed config accessors: a missing required key or a wrong type names the key.
int64_t get_int(const json& j, const char* key, const fs::path& path) {
  if (!j.contains(key) || j[key].is_null()) fail(path, std::string("missing required key \"") + key + "\"");
  if (!j[key].is_number_integer()) fail(path, std::string("\"") + key + "\" must be an integer, got " + j[key].dump());
  return j[key].get<int64_t>();
}
int64_t get_int_or(const json& j, const char* key, int64_t fallback, const fs::path& path) {
  return j.contains(key) && !j[key].is_null() ? get_int(j, key, path) : fallback;
}
double get_number_or(const json& j, const char* key, double fallback, const fs::path& path) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) fail(path, std::string("\"") + key + "\" must be a number, got " + j[key].dump());
  return j[key].get<double>();
}
bool get_bool_or(const json& j, const char* key, bool fallback, const fs::path& path) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) fail(path, std::string("\"") + key + "\" must be true or false, got " + j[key].dump());
  return j[key].get<bool>();
}
std::string get_string_or(const json& j, const char* key, const std::string& fallback, const fs::path& path) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string()) fail(path, std::string("\"") + key + "\" must be a string, got " + j[key].dump());
  return j[key].get<std::string>();
}

// "gpt2" / "llama" from model_type, else from architectures[0].
std::string detect_arch(const json& j, const fs::path& path) {
  std::string what;
  if (j.contains("model_type") && j["model_type"].is_string()) {
    what = j["model_type"].get<std::string>();
    if (what == "gpt2" || what == "llama") return what;
    fail(path, "unsupported model_type '" + what + "' (supported: gpt2, llama)");
  }
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    what = j["architectures"][0].get<std::string>();
    if (what == "GPT2LMHeadModel") return "gpt2";
    if (what == "LlamaForCausalLM") return "llama";
    fail(path, "unsupported architecture '" + what + "' (supported: GPT2LMHeadModel, LlamaForCausalLM)");
  }
  fail(path, "has neither \"model_type\" nor \"architectures\"; cannot tell the architecture");
}

ModelConfig gpt2_config(const json& j, const fs::path& path) {
  ModelConfig c;
  c.arch = "gpt2";
  c.d_model = get_int(j, "n_embd", path);
  c.n_layer = get_int(j, "n_layer", path);
  c.n_head = get_int(j, "n_head", path);
  c.n_kv_head = c.n_head;
  c.vocab_size = get_int(j, "vocab_size", path);
  c.max_seq_len = get_int_or(j, "n_positions", 1024, path);
  c.d_ff = get_int_or(j, "n_inner", 4 * c.d_model, path);
  c.norm_eps = get_number_or(j, "layer_norm_epsilon", 1e-5, path);
  c.tie_embeddings = get_bool_or(j, "tie_word_embeddings", true, path);
  c.dropout = get_number_or(j, "resid_pdrop", 0.1, path);
  c.init_std = get_number_or(j, "initializer_range", 0.02, path);
  const std::string act = get_string_or(j, "activation_function", "gelu_new", path);
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    fail(path, "unsupported activation_function '" + act + "' (supported: gelu_new, gelu_pytorch_tanh)");
  if (!get_bool_or(j, "scale_attn_weights", true, path)) fail(path, "scale_attn_weights=false is not supported");
  if (get_bool_or(j, "scale_attn_by_inverse_layer_idx", false, path))
    fail(path, "scale_attn_by_inverse_layer_idx=true is not supported");
  if (get_bool_or(j, "add_cross_attention", false, path)) fail(path, "add_cross_attention=true is not supported");
  return c;
}

ModelConfig llama_config(const json& j, const fs::path& path) {
  ModelConfig c;
  c.arch = "llama";
  c.d_model = get_int(j, "hidden_size", path);
  c.d_ff = get_int(j, "intermediate_size", path);
  c.n_layer = get_int(j, "num_hidden_layers", path);
  c.n_head = get_int(j, "num_attention_heads", path);
  c.n_kv_head = get_int_or(j, "num_key_value_heads", c.n_head, path);
  c.vocab_size = get_int(j, "vocab_size", path);
  c.max_seq_len = get_int_or(j, "max_position_embeddings", 2048, path);
  c.norm_eps = get_number_or(j, "rms_norm_eps", 1e-6, path);
  c.tie_embeddings = get_bool_or(j, "tie_word_embeddings", false, path);
  c.init_std = get_number_or(j, "initializer_range", 0.02, path);
  c.dropout = 0.0;  // Llama has no residual dropout (attention_dropout is not supported, see below)
  if (c.n_head > 0 && c.d_model % c.n_head == 0) {
    const int64_t head_dim = get_int_or(j, "head_dim", c.d_model / c.n_head, path);
    if (head_dim != c.d_model / c.n_head)
      fail(path, "head_dim " + std::to_string(head_dim) + " must equal hidden_size / num_attention_heads = " +
                     std::to_string(c.d_model / c.n_head));
  }
  const std::string act = get_string_or(j, "hidden_act", "silu", path);
  if (act != "silu") fail(path, "unsupported hidden_act '" + act + "' (supported: silu)");
  if (get_bool_or(j, "attention_bias", false, path)) fail(path, "attention_bias=true is not supported");
  if (get_bool_or(j, "mlp_bias", false, path)) fail(path, "mlp_bias=true is not supported");
  if (get_number_or(j, "attention_dropout", 0.0, path) != 0.0) fail(path, "attention_dropout > 0 is not supported");
  // rope_theta: top level (transformers 4) or inside rope_parameters (transformers 5).
  double theta = 10000.0;
  std::string rope_type = "default";
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const json& rp = j["rope_parameters"];
    theta = get_number_or(rp, "rope_theta", theta, path);
    rope_type = get_string_or(rp, "rope_type", rope_type, path);
  }
  theta = get_number_or(j, "rope_theta", theta, path);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object())
    rope_type = get_string_or(j["rope_scaling"], "rope_type", get_string_or(j["rope_scaling"], "type", "default", path), path);
  if (rope_type != "default") fail(path, "unsupported rope_type '" + rope_type + "' (only default RoPE is supported)");
  c.rope_theta = theta;
  return c;
}

// Floats as short decimals in config.json (1e-05, not 9.99999974737e-06).
double tidy(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return std::strtod(buf, nullptr);
}

// The weight files of a checkpoint folder: model.safetensors or the shards of the index.
std::vector<fs::path> weight_files(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / kWeightsFile, ec)) return {dir / kWeightsFile};
  const fs::path index_path = dir / kIndexFile;
  if (!fs::exists(index_path, ec))
    fail(dir, std::string("no ") + kWeightsFile + " or " + kIndexFile + " in the model folder");
  json index = read_json_file(index_path);
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    fail(index_path, "missing \"weight_map\" object");
  std::set<std::string> shards;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string()) fail(index_path, "weight_map entry '" + it.key() + "' is not a file name");
    shards.insert(it.value().get<std::string>());
  }
  std::vector<fs::path> out;
  for (const auto& s : shards) out.push_back(dir / s);
  return out;
}

}  // namespace

ModelConfig model_config_from_hf(const json& j, const fs::path& path) {
  if (!j.is_object()) fail(path, "is not a JSON object");
  const std::string arch = detect_arch(j, path);
  ModelConfig c = arch == "gpt2" ? gpt2_config(j, path) : llama_config(j, path);
  try {
    validate_config(c, path.string());
  } catch (const ConfigError& e) {
    throw CheckpointError(e.what());
  }
  return c;
}

json model_config_to_hf(const ModelConfig& c) {
  json j;
  if (c.arch == "gpt2") {
    j = {{"architectures", {"GPT2LMHeadModel"}},
         {"model_type", "gpt2"},
         {"n_embd", c.d_model},
         {"n_layer", c.n_layer},
         {"n_head", c.n_head},
         {"n_inner", c.d_ff},
         {"n_positions", c.max_seq_len},
         {"vocab_size", c.vocab_size},
         {"layer_norm_epsilon", tidy(c.norm_eps)},
         {"activation_function", "gelu_new"},
         {"resid_pdrop", tidy(c.dropout)},
         {"embd_pdrop", tidy(c.dropout)},
         {"attn_pdrop", 0.0},
         {"scale_attn_weights", true},
         {"tie_word_embeddings", c.tie_embeddings},
         {"initializer_range", tidy(c.init_std)}};
  } else {
    j = {{"architectures", {"LlamaForCausalLM"}},
         {"model_type", "llama"},
         {"hidden_size", c.d_model},
         {"intermediate_size", c.d_ff},
         {"num_hidden_layers", c.n_layer},
         {"num_attention_heads", c.n_head},
         {"num_key_value_heads", c.n_kv_head},
         {"head_dim", c.head_dim()},
         {"max_position_embeddings", c.max_seq_len},
         {"vocab_size", c.vocab_size},
         {"rms_norm_eps", tidy(c.norm_eps)},
         {"rope_theta", tidy(c.rope_theta)},
         {"rope_parameters", {{"rope_theta", tidy(c.rope_theta)}, {"rope_type", "default"}}},
         {"hidden_act", "silu"},
         {"attention_bias", false},
         {"mlp_bias", false},
         {"tie_word_embeddings", c.tie_embeddings},
         {"initializer_range", tidy(c.init_std)}};
  }
  j["torch_dtype"] = "float32";
  return j;
}

void load_hf_weights(CausalLM& model, const fs::path& dir) {
  std::map<std::string, HfTensor> expected;
  for (auto& spec : model.hf_tensors()) expected.emplace(spec.name, spec);
  std::map<std::string, fs::path> loaded_from;
  NoGradGuard no_grad;
  for (const fs::path& file : weight_files(dir)) {
    io::SafetensorsContents contents = io::read_safetensors(file);
    for (auto& [raw_name, t] : contents.tensors) {
      const std::string name = model.hf_canonical_name(raw_name);
      if (model.hf_ignored_tensor(name)) continue;
      auto it = expected.find(name);
      if (it == expected.end())
        fail(file, "unexpected tensor '" + raw_name + "' (not a parameter of this " + model.config().arch +
                       " model as described by config.json)");
      const HfTensor& spec = it->second;
      if (!is_floating(t.dtype()))
        fail(file, "tensor '" + raw_name + "' has dtype " + std::string(dtype_safetensors_name(t.dtype())) +
                       ", expected a floating dtype (F32, F16 or BF16)");
      if (t.shape() != spec.hf_shape())
        fail(file, "tensor '" + raw_name + "' has shape " + shape_str(t.shape()) + ", expected " +
                       shape_str(spec.hf_shape()) + " (from config.json)");
      if (!loaded_from.emplace(name, file).second)
        fail(file, "tensor '" + raw_name + "' appears twice (also in " + loaded_from[name].string() + ")");
      Tensor src = t.to(DType::F32);
      if (spec.transposed) src = src.transpose(0, 1).contiguous();
      Tensor dst = spec.param;
      ops::copy_(dst, src);
    }
  }
  for (const auto& [name, spec] : expected) {
    if (loaded_from.count(name)) continue;
    const fs::path where = fs::exists(dir / kWeightsFile) ? dir / kWeightsFile : dir / kIndexFile;
    fail(where, "missing tensor '" + name + "' (expected shape " + shape_str(spec.hf_shape()) + ")");
  }
}

std::unique_ptr<CausalLM> load_hf_model(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "model folder not found");
  const fs::path config_path = dir / kConfigFile;
  ModelConfig cfg = model_config_from_hf(read_json_file(config_path), config_path);
  auto model = make_uninitialized_model(cfg);
  load_hf_weights(*model, dir);
  model->eval();  // like transformers' from_pretrained; trainers switch to train()
  return model;
}

void save_hf_model(const CausalLM& model, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw RuntimeFailure(dir.string() + ": cannot create folder: " + ec.message());
  io::TensorMap tensors;
  {
    NoGradGuard no_grad;
    for (const auto& spec : model.hf_tensors()) {
      Tensor v = spec.param.detach().to(Device::cpu()).to(DType::F32);
      if (spec.transposed) v = v.transpose(0, 1);
      tensors[spec.name] = v.contiguous();
    }
  }
  io::write_safetensors(dir / kWeightsFile, tensors, {{"format", "pt"}});
  write_file_atomic(dir / kConfigFile, model_config_to_hf(model.config()).dump(2) + "\n");
}

std::map<std::string, Tensor> hf_gradients(const CausalLM& model) {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> out;
  for (const auto& spec : model.hf_tensors()) {
    Tensor g = spec.param.grad();
    if (!g.defined()) {
      out[spec.name] = Tensor::zeros(spec.hf_shape());
      continue;
    }
    g = g.to(Device::cpu()).to(DType::F32);
    if (spec.transposed) g = g.transpose(0, 1);
    out[spec.name] = g.contiguous();
  }
  return out;
}

}  // namespace anvil::models
