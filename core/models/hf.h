// Hugging Face checkpoints: config.json <-> ModelConfig, model.safetensors (or a sharded
// model.safetensors.index.json) <-> model parameters.
//
// Loading is strict: every parameter must be present with the expected HF shape and a floating
// dtype (bf16/f16 are converted to f32), and every tensor in the files must be a parameter or a
// known buffer (GPT-2's attn.bias / attn.masked_bias, Llama's rotary inv_freq). Every violation is
// a CheckpointError naming the file and the tensor (and the expected shape). Tied lm_heads may be
// absent. GPT-2's Conv1D weights are transposed between HF's (in, out) and our (out, in).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/models/model.h"

namespace anvil::models {

// Parses a transformers config.json (GPT2LMHeadModel or LlamaForCausalLM). `path` names the file
// in messages. Unknown architecture / model_type, a missing key or an unsupported option
// (activation, rope scaling, biases in Llama) -> CheckpointError naming config.json and the value.
ModelConfig model_config_from_hf(const nlohmann::json& config_json, const std::filesystem::path& path);
// The config.json that transformers reads back to the same model.
nlohmann::json model_config_to_hf(const ModelConfig& cfg);

// Copies the tensors of an HF checkpoint folder into `model` (names via hf_tensors()).
void load_hf_weights(CausalLM& model, const std::filesystem::path& dir);

std::unique_ptr<CausalLM> load_hf_model(const std::filesystem::path& dir);
// Writes config.json and model.safetensors (f32, HF names and layouts) atomically into dir (created).
void save_hf_model(const CausalLM& model, const std::filesystem::path& dir);

// The parameters' gradients under HF names and layouts (Conv1D gradients transposed; GPT-2's tied
// gradient under transformer.wte.weight). A parameter without a gradient gets zeros.
std::map<std::string, Tensor> hf_gradients(const CausalLM& model);

}  // namespace anvil::models
