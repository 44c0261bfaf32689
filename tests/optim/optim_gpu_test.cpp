// Optimizer steps and gradient clipping on CUDA parameters against the same steps on CPU copies:
// AdamW (the fused kernels/cuda/adamw kernel), SGD with and without (Nesterov) momentum, and
// clip_grad_norm (the deterministic two-pass global norm, then the in-place scale). Both sides run
// the same f32 formulas per element, so parameters and moments agree to a few ulps; the norm sums
// in another order (block partials, then double), hence the 1e-6 relative bounds.
// Skips without a GPU (label gpu).
#include <gtest/gtest.h>

#include <cmath>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "optim/optim.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/support/gradcheck.h"

namespace anvil::optim {
namespace {

constexpr double kTol = 1e-6;
const Device kCuda = Device::cuda(0);

struct Twin {
  std::vector<Tensor> cpu, gpu;
};

// Parameters of odd sizes with gradients, and their CUDA copies (same names, same values).
Twin make_params(uint64_t seed) {
  Twin t;
  const std::vector<Shape> shapes = {{7, 13}, {13}, {3, 5, 11}, {1}};
  Generator gen(seed);
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor p = test::random_tensor(shapes[i], gen);
    Tensor g = test::random_tensor(shapes[i], gen, -3.0f, 3.0f);
    const std::string name = detail::concat("p", i);
    Tensor pc = p.clone().set_name(name);
    pc.set_requires_grad(true);
    pc.set_grad(g.clone());
    Tensor pg = p.to(kCuda).set_name(name);
    pg.set_requires_grad(true);
    pg.set_grad(g.to(kCuda));
    t.cpu.push_back(pc);
    t.gpu.push_back(pg);
  }
  return t;
}

std::vector<ParamGroup> groups_of(const std::vector<Tensor>& params) {
  // Two groups, one with weight decay, as the trainer builds them.
  return {ParamGroup{{params[0], params[2]}, 0.1f, "decay"}, ParamGroup{{params[1], params[3]}, 0.0f, "no_decay"}};
}

void expect_same(const std::vector<Tensor>& gpu, const std::vector<Tensor>& cpu, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(gpu[i].device(), kCuda) << what << " " << i;
    EXPECT_LT(test::norm_rel_error(gpu[i], cpu[i]), kTol) << what << " " << i;
  }
}

void expect_same_state(const Optimizer& gpu, const Optimizer& cpu) {
  auto sg = gpu.state_tensors(), sc = cpu.state_tensors();
  ASSERT_EQ(sg.size(), sc.size());
  for (const auto& [name, t] : sc) {
    ASSERT_TRUE(sg.count(name)) << name;
    EXPECT_EQ(sg.at(name).device(), kCuda) << name;
    EXPECT_LT(test::norm_rel_error(sg.at(name), t), kTol) << name;
  }
}

class OptimGpu : public ::testing::Test {
 protected:
  void SetUp() override { ANVIL_SKIP_WITHOUT_GPU(); }
};

TEST_F(OptimGpu, AdamWStepsEqualTheCpuSteps) {
  Twin t = make_params(1);
  auto cpu = make_adamw(groups_of(t.cpu), 0.9f, 0.95f, 1e-8f);
  auto gpu = make_adamw(groups_of(t.gpu), 0.9f, 0.95f, 1e-8f);
  for (int step = 0; step < 3; ++step) {  // bias corrections change with the step
    cpu->step(1e-2f);
    gpu->step(1e-2f);
  }
  expect_same(t.gpu, t.cpu, "adamw parameter");
  expect_same_state(*gpu, *cpu);
  EXPECT_EQ(gpu->step_count(), 3);
}

TEST_F(OptimGpu, SgdStepsEqualTheCpuSteps) {
  for (auto [momentum, nesterov] : {std::pair{0.0f, false}, std::pair{0.9f, false}, std::pair{0.9f, true}}) {
    SCOPED_TRACE("momentum " + std::to_string(momentum) + (nesterov ? " nesterov" : ""));
    Twin t = make_params(2);
    auto cpu = make_sgd(groups_of(t.cpu), momentum, nesterov);
    auto gpu = make_sgd(groups_of(t.gpu), momentum, nesterov);
    for (int step = 0; step < 2; ++step) {
      cpu->step(0.05f);
      gpu->step(0.05f);
    }
    expect_same(t.gpu, t.cpu, "sgd parameter");
    expect_same_state(*gpu, *cpu);
  }
}

TEST_F(OptimGpu, ClipGradNormEqualsTheCpu) {
  Twin t = make_params(3);
  const double norm_cpu = grad_global_norm(t.cpu);
  const double norm_gpu = grad_global_norm(t.gpu);
  EXPECT_NEAR(norm_gpu, norm_cpu, kTol * norm_cpu);
  const float max_norm = float(norm_cpu / 4);  // clips
  const float before_cpu = clip_grad_norm(t.cpu, max_norm);
  const float before_gpu = clip_grad_norm(t.gpu, max_norm);
  EXPECT_NEAR(before_gpu, before_cpu, kTol * before_cpu);
  std::vector<Tensor> gc, gg;
  for (size_t i = 0; i < t.cpu.size(); ++i) {
    gc.push_back(t.cpu[i].grad());
    gg.push_back(t.gpu[i].grad());
  }
  expect_same(gg, gc, "clipped gradient");
  EXPECT_NEAR(grad_global_norm(t.gpu), max_norm, 1e-5 * max_norm);
}

// The trainer's path on one CUDA device: AdamW measures the norm and the clip coefficient on the
// device and applies the coefficient inside its fused update (no host read, no separate scale
// pass). It must match clipping on the host and stepping on the CPU, with and without clipping; a
// host clip_grad_norm afterwards must not reuse a stale coefficient. (The stored gradients are left
// unscaled by the deferred clip: the trainer drops them after the step.)
TEST_F(OptimGpu, DeferredClipInsideAdamWEqualsHostClipThenStep) {
  for (double fraction : {0.25, 4.0}) {  // max_norm below the norm (clips) and above it (does not)
    SCOPED_TRACE("max_norm = norm x " + std::to_string(fraction));
    Twin t = make_params(4);
    auto cpu = make_adamw(groups_of(t.cpu), 0.9f, 0.95f, 1e-8f);
    auto gpu = make_adamw(groups_of(t.gpu), 0.9f, 0.95f, 1e-8f);
    const float max_norm = float(grad_global_norm(t.cpu) * fraction);
    const float norm_cpu = cpu->clip_grad_norm(max_norm);
    const Tensor norm_gpu = gpu->clip_grad_norm_deferred(max_norm);
    EXPECT_EQ(norm_gpu.device(), kCuda);
    EXPECT_NEAR(norm_gpu.item(), norm_cpu, kTol * norm_cpu);
    cpu->step(1e-2f);
    gpu->step(1e-2f);
    expect_same(t.gpu, t.cpu, "adamw parameter after a deferred clip");
    expect_same_state(*gpu, *cpu);
    // A plain step afterwards takes the gradients as they are on both sides. (The host clip scaled
    // the CPU gradients in place, the deferred one only inside the update: give both the same.)
    for (size_t i = 0; i < t.cpu.size(); ++i) t.gpu[i].set_grad(t.cpu[i].grad().to(kCuda));
    gpu->clip_grad_norm(0.0f);
    cpu->step(1e-2f);
    gpu->step(1e-2f);
    expect_same(t.gpu, t.cpu, "adamw parameter after a plain step");
  }
}

}  // namespace
}  // namespace anvil::optim
