// Tensor views, dtype conversion, the caching allocator's bookkeeping and the autograd engine.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "core/tensor/caching_allocator.h"
#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

TEST(Tensor, ViewsShareStorageAndMatchContiguousCopies) {
  Generator gen(1);
  Tensor a = test::random_tensor({3, 4, 5}, gen);
  Tensor t = a.transpose(0, 2);  // (5, 4, 3), a view
  EXPECT_EQ(t.storage(), a.storage());
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  auto va = a.to_f32_vector(), vc = c.to_f32_vector();
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(vc[size_t((i * 4 + j) * 3 + k)], va[size_t((k * 4 + j) * 5 + i)]);
  Tensor s = a.slice(1, 1, 4, 2);  // rows 1 and 3
  EXPECT_EQ(s.shape(), (Shape{3, 2, 5}));
  auto vs = s.to_f32_vector();
  EXPECT_EQ(vs[5], va[3 * 5]);
  Tensor e = a.slice(0, 0, 1).expand({2, 3, 4, 5});
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.to_f32_vector()[60 + 7], va[7]);
}

TEST(Tensor, ViewOfNonContiguousTensorWhereStridesAllow) {
  Generator gen(2);
  Tensor a = test::random_tensor({4, 6, 8}, gen);
  Tensor p = a.permute({1, 0, 2});          // (6, 4, 8): last dim still contiguous
  Tensor v = p.reshape({6, 32});            // needs a copy: (4, 8) are not adjacent in memory order
  Tensor w = a.slice(2, 0, 4).reshape({24, 4});  // merging dims 0 and 1 works as a view
  EXPECT_EQ(w.storage(), a.storage());
  EXPECT_EQ(v.to_f32_vector(), p.contiguous().reshape({6, 32}).to_f32_vector());
  EXPECT_EQ(w.to_f32_vector(), a.slice(2, 0, 4).contiguous().reshape({24, 4}).to_f32_vector());
  EXPECT_THROW(p.view({6, 32}), OpError);
}

TEST(Tensor, HalfPrecisionConversionsRoundToNearest) {
  Tensor a = Tensor::from_vector({1.0f, -2.5f, 3.14159265f, 65504.0f, 1e-7f, 70000.0f}, {6});
  auto bf = a.to(DType::BF16).to(DType::F32).to_f32_vector();
  auto hf = a.to(DType::F16).to(DType::F32).to_f32_vector();
  EXPECT_EQ(bf[0], 1.0f);
  EXPECT_EQ(bf[1], -2.5f);
  EXPECT_NEAR(bf[2], 3.140625f, 1e-6);  // 8 bits of mantissa
  EXPECT_NEAR(hf[2], 3.140625f, 1e-3);
  EXPECT_EQ(hf[3], 65504.0f);
  EXPECT_NEAR(hf[4], 1.1920929e-7f, 1e-9);  // f16 subnormal
  EXPECT_TRUE(std::isinf(hf[5]));
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // a tie rounds to even
}

TEST(Tensor, PhiloxIsCounterBasedAndDeterministic) {
  Generator g1(42), g2(42);
  Tensor a = Tensor::randn({1000}, g1);
  Tensor b = Tensor::randn({600}, g2);
  Tensor c = Tensor::randn({400}, g2);
  auto va = a.to_f32_vector(), vb = b.to_f32_vector(), vc = c.to_f32_vector();
  for (size_t i = 0; i < 600; ++i) EXPECT_EQ(va[i], vb[i]);
  for (size_t i = 0; i < 400; ++i) EXPECT_EQ(va[600 + i], vc[i]);
  double mean = 0, var = 0;
  for (float x : va) mean += x;
  mean /= 1000;
  for (float x : va) var += (x - mean) * (x - mean);
  var /= 1000;
  EXPECT_NEAR(mean, 0.0, 0.1);
  EXPECT_NEAR(var, 1.0, 0.15);
}

TEST(CachingAllocator, ReusesFreedBlocksAndTracksPeak) {
  int raw = 0;
  CachingAllocator alloc([&](size_t n) { ++raw; return std::malloc(n); }, [](void* p) { std::free(p); });
  void* a = alloc.allocate(1000);
  void* b = alloc.allocate(5 << 20);
  EXPECT_EQ(raw, 2);
  alloc.deallocate(a, 1000);
  void* c = alloc.allocate(900);  // same rounded size class: reused
  EXPECT_EQ(c, a);
  EXPECT_EQ(raw, 2);
  auto s = alloc.stats();
  EXPECT_EQ(s.allocated_bytes, int64_t(CachingAllocator::round_size(900) + CachingAllocator::round_size(5 << 20)));
  EXPECT_EQ(s.peak_allocated_bytes, s.allocated_bytes);
  alloc.deallocate(b, 5 << 20);
  alloc.deallocate(c, 900);
  EXPECT_EQ(alloc.stats().allocated_bytes, 0);
  EXPECT_GT(alloc.stats().reserved_bytes, 0);
  alloc.empty_cache();
  EXPECT_EQ(alloc.stats().reserved_bytes, 0);
}

// A raw allocation that fails for another reason than memory (on CUDA: a sticky error a faulting
// kernel left) is reported as itself; only nullptr means out of memory, and then the cache goes
// back to the device before one retry.
TEST(CachingAllocator, OnlyANullRawAllocationIsOutOfMemory) {
  CachingAllocator broken([](size_t) -> void* { throw RuntimeFailure("cudaErrorIllegalAddress: an illegal memory access"); },
                          [](void* p) { std::free(p); });
  try {
    broken.allocate(100);
    ADD_FAILURE() << "expected the raw allocation's error";
  } catch (const RuntimeFailure& e) {
    EXPECT_NE(std::string(e.what()).find("cudaErrorIllegalAddress"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("out of device memory"), std::string::npos) << e.what();
  }

  int calls = 0, frees = 0;
  CachingAllocator full([&](size_t n) -> void* { return ++calls == 3 ? nullptr : std::malloc(n); },
                        [&](void* p) { ++frees, std::free(p); });
  void* a = full.allocate(1000);
  full.deallocate(a, 1000);                  // cached
  void* b = full.allocate(4 << 20);          // a new size class: raw call 2
  void* c = full.allocate(8 << 20);          // raw call 3 fails, the cache is freed, call 4 succeeds
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(frees, 1);
  full.deallocate(b, 4 << 20);
  full.deallocate(c, 8 << 20);
  CachingAllocator none([](size_t) -> void* { return nullptr; }, [](void* p) { std::free(p); });
  try {
    none.allocate(100);
    ADD_FAILURE() << "expected out of memory";
  } catch (const RuntimeFailure& e) {
    EXPECT_NE(std::string(e.what()).find("out of device memory"), std::string::npos) << e.what();
  }
}

TEST(Autograd, AccumulatesIntoLeavesAndRunsHooks) {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad(true);
  int hook_calls = 0;
  x.add_post_accumulate_hook([&](Tensor& p) {
    ++hook_calls;
    EXPECT_TRUE(p.grad().defined());
  });
  Tensor y = ops::sum(ops::mul(x, x));  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{2, 4, 6}));
  EXPECT_EQ(hook_calls, 1);
  Tensor z = ops::sum(ops::mul_scalar(x, 3.0f));  // accumulates: 2x + 3
  z.backward();
  EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(hook_calls, 2);
  EXPECT_THROW(y.backward(), std::logic_error);  // graph freed
}

TEST(Autograd, NoGradAndDetachRecordNothing) {
  Tensor x = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  {
    NoGradGuard g;
    Tensor y = ops::mul(x, x);
    EXPECT_FALSE(y.requires_grad());
  }
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), x.storage());
  EXPECT_TRUE(ops::mul(x, x).requires_grad());
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  Tensor x = Tensor::from_vector({0.5f, -1.5f}, {2}).set_requires_grad(true);
  Tensor a = ops::mul_scalar(x, 2.0f);
  Tensor b = ops::mul(a, x);     // 2x^2
  Tensor c = ops::add(a, b);     // 2x + 2x^2 -> 2 + 4x
  ops::sum(c).backward();
  auto g = x.grad().to_f32_vector();
  EXPECT_FLOAT_EQ(g[0], 4.0f);
  EXPECT_FLOAT_EQ(g[1], -4.0f);
}

}  // namespace
}  // namespace anvil
