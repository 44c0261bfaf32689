// GPT-2 and Llama against Hugging Face transformers' own outputs (fixtures in
// shared/data/golden/{gpt2_tiny,llama_tiny}, see their README.md): logits, loss, every parameter
// gradient, greedy generation through the KV cache; HF export round trips; malformed checkpoints
// (truncated, bad header, missing/unexpected tensor, wrong shape/dtype, unknown architecture) give
// CheckpointErrors naming file and tensor. Also the nn module system (names, tying, train mode,
// Linear's weight-transform and adapter hooks) and fresh-model initialization.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/io/safetensors.h"
#include "core/models/gpt2.h"
#include "core/models/hf.h"
#include "core/nn/layers.h"
#include "core/ops/ops.h"
#include "tests/support/gradcheck.h"
#include "tests/support/test_paths.h"

namespace anvil::models {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kLossRelTol = 1e-5;
constexpr double kLogitsRelTol = 1e-4;
constexpr double kGradRelTol = 1e-4;
constexpr float kGreedyTieGap = 1e-4f;  // README: only steps whose top-2 gap exceeds this are compared

fs::path golden_dir(const std::string& name) { return test::shared_dir() / "data/golden" / name; }

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// A writable copy of a golden model folder (config.json + model.safetensors) under `base` (the
// test's scratch folder: test::scratch_dir() empties it, so call that once per test).
fs::path copy_model(const std::string& name, const fs::path& base) {
  const fs::path dst = base / name;
  fs::create_directories(dst);
  for (const char* f : {"config.json", "model.safetensors"}) {
    fs::copy_file(golden_dir(name) / f, dst / f, fs::copy_options::overwrite_existing);
    fs::permissions(dst / f, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
  }
  return dst;
}

// Loads dir and expects a CheckpointError whose message holds every fragment.
void expect_load_error(const fs::path& dir, const std::vector<std::string>& fragments) {
  try {
    load_hf_model(dir);
    FAIL() << "loading " << dir << " did not fail";
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

// (argmax, gap between the two largest) of a row of logits.
std::pair<int64_t, float> top2(const std::vector<float>& row) {
  int64_t best = 0;
  for (size_t i = 1; i < row.size(); ++i)
    if (row[i] > row[size_t(best)]) best = int64_t(i);
  float second = -INFINITY;
  for (size_t i = 0; i < row.size(); ++i)
    if (int64_t(i) != best) second = std::max(second, row[i]);
  return {best, row[size_t(best)] - second};
}

std::vector<float> last_row(const Tensor& logits) {  // logits (1, T, V) -> the last position's V values
  const int64_t T = logits.size(1);
  return logits.slice(1, T - 1, T).contiguous().to_f32_vector();
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, LogitsLossAndGradientsMatchTransformers) {
  const fs::path dir = golden_dir(GetParam());
  auto model = load_hf_model(dir);
  auto io_ref = io::read_safetensors(dir / "expected_logits.safetensors");
  const Tensor ids = io_ref.tensors.at("input_ids");  // (3, 20) i64
  const Tensor ref_logits = io_ref.tensors.at("logits");
  const double ref_loss = read_json(dir / "expected.json")["loss"].get<double>();

  Tensor logits = model->forward(ids);
  ASSERT_EQ(logits.shape(), ref_logits.shape());
  EXPECT_LT(test::norm_rel_error(logits, ref_logits), kLogitsRelTol);
  Tensor loss = model->next_token_loss(logits, ids);
  EXPECT_LT(std::abs(loss.item() - ref_loss) / ref_loss, kLossRelTol) << loss.item() << " vs " << ref_loss;

  loss.backward();
  auto grads = hf_gradients(*model);
  auto ref_grads = io::read_safetensors(dir / "expected_grads.safetensors").tensors;
  ASSERT_EQ(grads.size(), ref_grads.size());
  for (const auto& [name, ref] : ref_grads) {
    ASSERT_TRUE(grads.count(name)) << "no gradient for " << name;
    ASSERT_EQ(grads.at(name).shape(), ref.shape()) << name;
    EXPECT_LT(test::norm_rel_error(grads.at(name), ref), kGradRelTol) << name;
  }
}

TEST_P(Golden, GreedyGenerationWithKvCacheMatchesTransformers) {
  const fs::path dir = golden_dir(GetParam());
  auto model = load_hf_model(dir);
  const json expected = read_json(dir / "expected.json");
  const auto prompt = expected["greedy_prompt"].get<std::vector<int64_t>>();
  const auto want = expected["greedy_output"].get<std::vector<int64_t>>();
  NoGradGuard no_grad;

  // Free-running greedy decoding, one token per step through the cache.
  KVCache cache;
  Tensor step_logits = model->forward(Tensor::from_ints(prompt, {1, int64_t(prompt.size())}), &cache);
  std::vector<int64_t> got = prompt;
  int compared = 0;
  bool diverged = false;
  while (got.size() < want.size()) {
    auto [next, gap] = top2(last_row(step_logits));
    const size_t pos = got.size();
    if (!diverged && gap > kGreedyTieGap) {
      EXPECT_EQ(next, want[pos]) << "greedy step at position " << pos;
      ++compared;
    } else if (next != want[pos]) {
      diverged = true;  // a near-tie went the other way; later steps are not comparable
    }
    got.push_back(next);
    step_logits = model->forward(Tensor::from_ints({next}, {1, 1}), &cache);
  }
  EXPECT_GT(compared, 0);
  EXPECT_EQ(cache.length(), int64_t(want.size()));

  // Teacher-forced over the expected continuation: cached one-step logits equal a full forward.
  KVCache cache2;
  Tensor full = model->forward(Tensor::from_ints(want, {1, int64_t(want.size())}));  // (1, T, V)
  model->forward(Tensor::from_ints(prompt, {1, int64_t(prompt.size())}), &cache2);
  for (size_t pos = prompt.size(); pos < want.size(); ++pos) {
    Tensor one = model->forward(Tensor::from_ints({want[pos]}, {1, 1}), &cache2);  // (1, 1, V)
    Tensor ref = full.slice(1, int64_t(pos), int64_t(pos) + 1);
    EXPECT_LT(test::norm_rel_error(one, ref), kLogitsRelTol) << "position " << pos;
  }
}

TEST_P(Golden, ExportRoundTripsBitExactly) {
  const fs::path src = golden_dir(GetParam());
  auto model = load_hf_model(src);
  const fs::path out = test::scratch_dir() / "export";
  save_hf_model(*model, out);
  auto orig = io::read_safetensors(src / "model.safetensors").tensors;
  auto saved = io::read_safetensors(out / "model.safetensors").tensors;
  ASSERT_EQ(saved.size(), orig.size());
  for (const auto& [name, t] : orig) {
    ASSERT_TRUE(saved.count(name)) << name;
    EXPECT_EQ(saved.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(saved.at(name).to_f32_vector(), t.to_f32_vector()) << name;
  }
  // The exported config describes the same model.
  const ModelConfig a = model_config_from_hf(read_json(src / "config.json"), src / "config.json");
  const ModelConfig b = model_config_from_hf(read_json(out / "config.json"), out / "config.json");
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.d_ff, b.d_ff);
  EXPECT_EQ(a.n_kv_head, b.n_kv_head);
  EXPECT_EQ(a.max_seq_len, b.max_seq_len);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_FLOAT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_FLOAT_EQ(a.rope_theta, b.rope_theta);
}

TEST_P(Golden, Bf16CheckpointLoadsAsRoundedF32) {
  const fs::path dir = copy_model(GetParam(), test::scratch_dir());
  auto orig = io::read_safetensors(dir / "model.safetensors").tensors;
  io::TensorMap half;
  for (auto& [name, t] : orig) half[name] = t.to(DType::BF16);
  io::write_safetensors(dir / "model.safetensors", half);
  auto model = load_hf_model(dir);
  for (const auto& spec : model->hf_tensors()) {
    Tensor p = spec.transposed ? spec.param.transpose(0, 1).contiguous() : spec.param;
    EXPECT_EQ(p.dtype(), DType::F32);
    EXPECT_EQ(p.to_f32_vector(), half.at(spec.name).to_f32_vector()) << spec.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Golden, ::testing::Values("gpt2_tiny", "llama_tiny"));

// ---- malformed checkpoints -------------------------------------------------------------------------

TEST(HfCheckpointErrors, TruncatedWeights) {
  const fs::path dir = copy_model("gpt2_tiny", test::scratch_dir());
  const fs::path file = dir / "model.safetensors";
  const auto size = fs::file_size(file);
  fs::resize_file(file, size - 1000);
  expect_load_error(dir, {file.string(), "transformer.wte.weight", "out of range"});
}

TEST(HfCheckpointErrors, BadHeader) {
  const fs::path dir = copy_model("llama_tiny", test::scratch_dir());
  const fs::path file = dir / "model.safetensors";
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(8);
  f << "[[[";  // corrupt the JSON
  f.close();
  expect_load_error(dir, {file.string(), "malformed JSON"});
}

TEST(HfCheckpointErrors, MissingTensor) {
  const fs::path dir = copy_model("gpt2_tiny", test::scratch_dir());
  auto t = io::read_safetensors(dir / "model.safetensors").tensors;
  t.erase("transformer.h.1.ln_2.weight");
  io::write_safetensors(dir / "model.safetensors", t);
  expect_load_error(dir, {"model.safetensors", "missing tensor 'transformer.h.1.ln_2.weight'", "[48]"});
}

TEST(HfCheckpointErrors, WrongShapeNamesExpectedShape) {
  const fs::path dir = copy_model("gpt2_tiny", test::scratch_dir());
  auto t = io::read_safetensors(dir / "model.safetensors").tensors;
  // Our internal (out, in) layout instead of Conv1D's (in, out).
  t["transformer.h.2.attn.c_attn.weight"] = t["transformer.h.2.attn.c_attn.weight"].transpose(0, 1).contiguous();
  io::write_safetensors(dir / "model.safetensors", t);
  expect_load_error(dir, {"model.safetensors", "transformer.h.2.attn.c_attn.weight", "[144, 48]", "expected [48, 144]"});
}

TEST(HfCheckpointErrors, UnexpectedTensorAndWrongDtype) {
  const fs::path dir = copy_model("llama_tiny", test::scratch_dir());
  auto t = io::read_safetensors(dir / "model.safetensors").tensors;
  t["model.layers.7.mlp.up_proj.weight"] = Tensor::zeros({128, 48});
  io::write_safetensors(dir / "model.safetensors", t);
  expect_load_error(dir, {"model.safetensors", "unexpected tensor 'model.layers.7.mlp.up_proj.weight'"});
  t.erase("model.layers.7.mlp.up_proj.weight");
  t["model.norm.weight"] = Tensor::zeros({48}, DType::I32);
  io::write_safetensors(dir / "model.safetensors", t);
  expect_load_error(dir, {"model.safetensors", "'model.norm.weight'", "dtype I32"});
}

TEST(HfCheckpointErrors, UnknownArchitectureAndUnsupportedOptions) {
  const fs::path scratch = test::scratch_dir();
  const fs::path dir = copy_model("gpt2_tiny", scratch);
  json cfg = read_json(dir / "config.json");
  auto write_cfg = [&](const json& j) { std::ofstream(dir / "config.json") << j.dump(); };
  json bert = cfg;
  bert["model_type"] = "bert";
  write_cfg(bert);
  expect_load_error(dir, {"config.json", "model_type 'bert'"});
  json relu = cfg;
  relu["activation_function"] = "relu";
  write_cfg(relu);
  expect_load_error(dir, {"config.json", "activation_function 'relu'"});
  json no_type = cfg;
  no_type.erase("model_type");
  no_type["architectures"] = {"T5ForConditionalGeneration"};
  write_cfg(no_type);
  expect_load_error(dir, {"config.json", "T5ForConditionalGeneration"});
  json missing = cfg;
  missing.erase("n_embd");
  write_cfg(missing);
  expect_load_error(dir, {"config.json", "n_embd"});

  const fs::path ldir = copy_model("llama_tiny", scratch);
  json lcfg = read_json(ldir / "config.json");
  lcfg["head_dim"] = 16;
  std::ofstream(ldir / "config.json") << lcfg.dump();
  expect_load_error(ldir, {"config.json", "head_dim 16"});
  expect_load_error(scratch / "nothing_here", {"nothing_here"});
}

TEST(HfCheckpoint, OriginalGpt2NamesAndMaskBuffersLoad) {
  // openai-community/gpt2 omits the "transformer." prefix and stores the causal-mask buffers.
  const fs::path dir = copy_model("gpt2_tiny", test::scratch_dir());
  auto t = io::read_safetensors(dir / "model.safetensors").tensors;
  io::TensorMap old;
  for (auto& [name, v] : t) old[name.substr(std::string("transformer.").size())] = v;
  old["h.0.attn.bias"] = Tensor::ones({1, 1, 32, 32});
  old["h.0.attn.masked_bias"] = Tensor::from_vector({-1e4f}, {});
  old["lm_head.weight"] = t["transformer.wte.weight"];
  io::write_safetensors(dir / "model.safetensors", old);
  auto model = load_hf_model(dir);
  auto ref = load_hf_model(golden_dir("gpt2_tiny"));
  Tensor ids = Tensor::from_ints({1, 5, 9, 300}, {1, 4});
  NoGradGuard no_grad;
  EXPECT_EQ(model->forward(ids).to_f32_vector(), ref->forward(ids).to_f32_vector());
}

TEST(HfCheckpoint, ConfigParsing) {
  const fs::path g = golden_dir("gpt2_tiny") / "config.json";
  ModelConfig c = model_config_from_hf(read_json(g), g);
  EXPECT_EQ(c.arch, "gpt2");
  EXPECT_EQ(c.d_ff, 4 * 48);  // n_inner null
  EXPECT_EQ(c.max_seq_len, 32);
  EXPECT_TRUE(c.tie_embeddings);
  const fs::path l = golden_dir("llama_tiny") / "config.json";
  ModelConfig d = model_config_from_hf(read_json(l), l);
  EXPECT_EQ(d.arch, "llama");
  EXPECT_EQ(d.n_kv_head, 2);
  EXPECT_EQ(d.d_ff, 128);
  EXPECT_FLOAT_EQ(d.norm_eps, 1e-6f);
  EXPECT_FALSE(d.tie_embeddings);
  json top = read_json(l);  // transformers 4 spelling: rope_theta at the top level
  top.erase("rope_parameters");
  top["rope_theta"] = 500000.0;
  EXPECT_FLOAT_EQ(model_config_from_hf(top, l).rope_theta, 500000.0f);
  top["rope_scaling"] = {{"rope_type", "llama3"}};
  EXPECT_THROW(model_config_from_hf(top, l), CheckpointError);
}

// ---- fresh models --------------------------------------------------------------------------------

ModelConfig tiny(const std::string& arch) {
  ModelConfig c;
  c.arch = arch;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = arch == "llama" ? 2 : 4;
  c.d_model = 32;
  c.d_ff = 64;
  c.vocab_size = 50;
  c.max_seq_len = 16;
  c.tie_embeddings = arch == "gpt2";
  return c;
}

TEST(MakeModel, NamesMatchHuggingFaceAndInitFollowsGpt2) {
  Generator gen(3);
  ModelConfig c = tiny("gpt2");
  c.n_layer = 3;
  c.d_model = 48;
  c.d_ff = 192;
  c.vocab_size = 384;
  c.max_seq_len = 32;
  auto model = make_model(c, gen);
  std::set<std::string> ours, theirs;
  for (auto& s : model->hf_tensors()) ours.insert(s.name);
  for (auto& [n, e] : io::read_safetensors_header(golden_dir("gpt2_tiny") / "model.safetensors")) theirs.insert(n);
  EXPECT_EQ(ours, theirs);

  auto std_of = [](const Tensor& t) {
    double s = 0, s2 = 0;
    auto v = t.to_f32_vector();
    for (float x : v) s += x, s2 += double(x) * x;
    return std::sqrt(s2 / double(v.size()) - (s / double(v.size())) * (s / double(v.size())));
  };
  auto* m = dynamic_cast<GPT2Model*>(model.get());
  ASSERT_NE(m, nullptr);
  auto& block = (*m->transformer->h)[0];
  EXPECT_NEAR(std_of(m->transformer->wte->weight), 0.02, 0.002);
  EXPECT_NEAR(std_of(block.attn->c_attn->weight), 0.02, 0.002);
  EXPECT_NEAR(std_of(block.mlp->c_proj->weight), 0.02 / std::sqrt(6.0), 0.001);
  EXPECT_EQ(block.attn->c_attn->bias.to_f32_vector(), std::vector<float>(144, 0.0f));
  EXPECT_EQ(block.ln_1->weight.to_f32_vector(), std::vector<float>(48, 1.0f));
}

TEST(MakeModel, LlamaNamesMatchAndCacheAgreesWithFullForward) {
  Generator gen(5);
  ModelConfig c = tiny("llama");
  auto model = make_model(c, gen);
  auto names = model->named_parameters();
  EXPECT_EQ(names.front().first, "model.embed_tokens.weight");
  EXPECT_EQ(names.back().first, "lm_head.weight");
  EXPECT_EQ(names[1].first, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(model->named_parameters().size(), size_t(2 + 2 * 9 + 1));
  model->eval();
  NoGradGuard no_grad;
  Tensor ids = Tensor::from_ints({1, 7, 3, 9, 22, 4, 41, 0}, {2, 4});
  Tensor full = model->forward(ids);  // (2, 4, V)
  KVCache cache;
  Tensor a = model->forward(ids.slice(1, 0, 3), &cache);
  Tensor b = model->forward(ids.slice(1, 3, 4), &cache);
  EXPECT_LT(test::norm_rel_error(a, full.slice(1, 0, 3)), 1e-5);
  EXPECT_LT(test::norm_rel_error(b, full.slice(1, 3, 4)), 1e-5);
  EXPECT_THROW(model->forward(Tensor::zeros({1, 17}, DType::I64)), InputError);  // beyond max_seq_len
}

TEST(MakeModel, DropoutOnlyInTrainingModeAndSeeded) {
  Generator gen(9);
  ModelConfig c = tiny("gpt2");
  c.dropout = 0.5f;
  auto model = make_model(c, gen);
  Tensor ids = Tensor::from_ints({1, 2, 3, 4}, {1, 4});
  NoGradGuard no_grad;
  model->eval();
  auto e1 = model->forward(ids).to_f32_vector();
  EXPECT_EQ(e1, model->forward(ids).to_f32_vector());
  model->train();
  EXPECT_TRUE((*dynamic_cast<GPT2Model&>(*model).transformer->h)[1].mlp->dropout->is_training());
  EXPECT_NE(model->forward(ids).to_f32_vector(), e1);
  EXPECT_GT(model->dropout_rng().offset, 0u);
  EXPECT_THROW(make_model(ModelConfig{.arch = "gpt3"}, gen), ConfigError);
}

// ---- nn modules ----------------------------------------------------------------------------------

struct ScaleAdapter : nn::LinearAdapter {
  explicit ScaleAdapter(int64_t dim) { scale = register_parameter("scale", Tensor::full({dim}, 0.5f)); }
  Tensor forward(const Tensor& x) override { return ops::mul(x, scale); }
  Tensor scale;
};

TEST(NnModules, LinearWeightTransformAndAdapterCarryGradients) {
  Generator gen(11);
  nn::Linear lin(3, 3, true);
  ops::copy_(lin.weight, test::random_tensor({3, 3}, gen));
  ops::copy_(lin.bias, test::random_tensor({3}, gen));
  Tensor x = test::random_tensor({2, 3}, gen);
  Tensor base = lin.forward(x);

  // Transform: forward uses 2 * W; dL/dW picks up the factor 2.
  lin.set_weight_transform([](const Tensor& w) { return ops::mul_scalar(w, 2.0f); });
  Tensor y = lin.forward(x);
  Tensor expect = ops::linear(x, ops::mul_scalar(lin.weight.detach(), 2.0f), lin.bias.detach());
  EXPECT_LT(test::norm_rel_error(y, expect), 1e-6);
  ops::sum(y).backward();
  // d sum(x (2W)^T) / dW[o][i] = 2 * sum_b x[b][i]
  auto xs = x.to_f32_vector();
  auto gw = lin.weight.grad().to_f32_vector();
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(gw[size_t(o * 3 + i)], 2.0f * (xs[size_t(i)] + xs[size_t(3 + i)]), 1e-5);

  // Adapter: output adds 0.5 * x, its parameter gets a gradient and appears under "adapter".
  lin.set_weight_transform(nullptr);
  auto adapter = std::make_shared<ScaleAdapter>(3);
  lin.set_adapter(adapter);
  lin.zero_grad();
  Tensor z = lin.forward(x);
  EXPECT_LT(test::norm_rel_error(z, ops::add(base, ops::mul_scalar(x, 0.5f))), 1e-6);
  ops::sum(z).backward();
  ASSERT_TRUE(adapter->scale.grad().defined());
  auto gs = adapter->scale.grad().to_f32_vector();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(gs[size_t(i)], xs[size_t(i)] + xs[size_t(3 + i)], 1e-5);
  EXPECT_TRUE(lin.weight.grad().defined());
  auto names = lin.named_parameters();
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[2].first, "adapter.scale");
  lin.set_adapter(nullptr);
  EXPECT_EQ(lin.named_parameters().size(), 2u);
  EXPECT_LT(test::norm_rel_error(lin.forward(x), base), 1e-6);
}

TEST(NnModules, HierarchicalNamesTyingTrainModeAndDevice) {
  struct Inner : nn::Module {
    Inner() { norm = register_module("norm", std::make_shared<nn::LayerNorm>(4, 1e-5f)); }
    std::shared_ptr<nn::LayerNorm> norm;
  };
  struct Outer : nn::Module {
    Outer() {
      emb = register_module("emb", std::make_shared<nn::Embedding>(10, 4));
      blocks = register_module("blocks", std::make_shared<nn::ModuleList<Inner>>());
      blocks->push_back(std::make_shared<Inner>());
      blocks->push_back(std::make_shared<Inner>());
      tied = register_parameter("tied", emb->weight);  // the same tensor twice: listed once
    }
    std::shared_ptr<nn::Embedding> emb;
    std::shared_ptr<nn::ModuleList<Inner>> blocks;
    Tensor tied;
  };
  Outer m;
  std::vector<std::string> names;
  for (auto& [n, p] : m.named_parameters()) names.push_back(n);
  // A module's own parameters come before its children's; the tied tensor keeps its first name.
  EXPECT_EQ(names, (std::vector<std::string>{"tied", "blocks.0.norm.weight", "blocks.0.norm.bias",
                                             "blocks.1.norm.weight", "blocks.1.norm.bias"}));
  EXPECT_EQ(m.num_parameters(), 40 + 4 * 4);
  EXPECT_EQ(m.named_modules().size(), 7u);  // "", emb, blocks, blocks.{0,1}, blocks.{0,1}.norm
  m.eval();
  EXPECT_FALSE(m.blocks->operator[](1).norm->is_training());
  m.train();
  EXPECT_TRUE(m.blocks->operator[](1).norm->is_training());
  for (auto& p : m.parameters()) EXPECT_TRUE(p.requires_grad());
  Tensor before = m.emb->weight;
  m.to(Device::cpu());
  EXPECT_EQ(before.impl(), m.emb->weight.impl());
  ops::sum(m.blocks->operator[](0).norm->forward(Tensor::ones({2, 4}))).backward();
  EXPECT_TRUE(m.blocks->operator[](0).norm->bias.grad().defined());
  m.zero_grad();
  EXPECT_FALSE(m.blocks->operator[](0).norm->bias.grad().defined());
}

}  // namespace
}  // namespace anvil::models
