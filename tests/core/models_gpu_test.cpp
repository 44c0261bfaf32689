// The golden tiny GPT-2 and Llama checks (shared/data/golden/{gpt2_tiny,llama_tiny}, the same
// Hugging Face transformers outputs models_golden_test.cpp checks on the CPU) with the model moved
// to cuda:0: logits and every parameter gradient within 1e-4 relative L2 error, the loss within
// 1e-5 relative, and the KV-cache path (concat + attention with S > T) equal to a full forward.
// Skips without a GPU (label gpu).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/models/hf.h"
#include "core/ops/ops.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/support/gradcheck.h"
#include "tests/support/test_paths.h"

namespace anvil::models {
namespace {

namespace fs = std::filesystem;

constexpr double kLossRelTol = 1e-5;
constexpr double kLogitsRelTol = 1e-4;
constexpr double kGradRelTol = 1e-4;

const Device kCuda = Device::cuda(0);

fs::path golden_dir(const std::string& name) { return test::shared_dir() / "data/golden" / name; }

class GoldenGpu : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ANVIL_SKIP_WITHOUT_GPU(); }
};

TEST_P(GoldenGpu, LogitsLossAndGradientsMatchTransformersOnCuda) {
  const fs::path dir = golden_dir(GetParam());
  auto model = load_hf_model(dir);
  model->to(kCuda);
  for (const auto& [name, p] : model->named_parameters()) ASSERT_EQ(p.device(), kCuda) << name;
  auto io_ref = io::read_safetensors(dir / "expected_logits.safetensors");
  const Tensor ids = io_ref.tensors.at("input_ids").to(kCuda);  // (3, 20)
  const Tensor ref_logits = io_ref.tensors.at("logits");
  std::ifstream json_in(dir / "expected.json");
  const double ref_loss = nlohmann::json::parse(json_in)["loss"].get<double>();

  Tensor logits = model->forward(ids);
  ASSERT_EQ(logits.device(), kCuda);
  ASSERT_EQ(logits.shape(), ref_logits.shape());
  EXPECT_LT(test::norm_rel_error(logits, ref_logits), kLogitsRelTol);
  Tensor loss = model->next_token_loss(logits, ids);
  ASSERT_EQ(loss.device(), kCuda);
  EXPECT_LT(std::abs(loss.item() - ref_loss) / ref_loss, kLossRelTol) << loss.item() << " vs " << ref_loss;

  loss.backward();
  for (const auto& [name, p] : model->named_parameters()) {
    if (p.grad().defined()) {
      EXPECT_EQ(p.grad().device(), kCuda) << name;
    }
  }
  auto grads = hf_gradients(*model);
  auto ref_grads = io::read_safetensors(dir / "expected_grads.safetensors").tensors;
  ASSERT_EQ(grads.size(), ref_grads.size());
  for (const auto& [name, ref] : ref_grads) {
    ASSERT_TRUE(grads.count(name)) << "no gradient for " << name;
    ASSERT_EQ(grads.at(name).shape(), ref.shape()) << name;
    EXPECT_LT(test::norm_rel_error(grads.at(name), ref), kGradRelTol) << name;
  }
}

TEST_P(GoldenGpu, KvCacheStepsEqualAFullForwardOnCuda) {
  const fs::path dir = golden_dir(GetParam());
  auto model = load_hf_model(dir);
  model->to(kCuda);
  NoGradGuard no_grad;
  const Tensor ids = io::read_safetensors(dir / "expected_logits.safetensors").tensors.at("input_ids");  // (3, 20)
  const Tensor row = ids.slice(0, 0, 1).contiguous().to(kCuda);                                        // (1, 20)
  const int64_t T = row.size(1), prompt = 8;
  Tensor full = model->forward(row);  // (1, T, V)
  KVCache cache;
  model->forward(row.slice(1, 0, prompt), &cache);
  for (int64_t pos = prompt; pos < T; ++pos) {
    Tensor one = model->forward(row.slice(1, pos, pos + 1), &cache);  // (1, 1, V)
    EXPECT_LT(test::norm_rel_error(one, full.slice(1, pos, pos + 1)), kLogitsRelTol) << "position " << pos;
  }
  EXPECT_EQ(cache.length(), T);
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenGpu, ::testing::Values("gpt2_tiny", "llama_tiny"));

}  // namespace
}  // namespace anvil::models
