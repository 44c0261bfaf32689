// Per-kernel speed of anvil's CUDA GEMM and flash attention at GPT-2 124M's shapes (8 x 1024 tokens),
// as JSON lines for tools/gpu-check.sh, which sets the same shapes on PyTorch (cuBLAS, SDPA) beside
// them (tools/torch_kernel_peers.py). Times: the median of --iters launches after warm-up, host
// clock around a device synchronization, so launch overhead is included as a training step sees it.
//
//   build/bin/kernels_bench [--iters N]
// Needs a CUDA device; says so and exits 2 without one (there is nothing to time on the emulator).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/matmul.h"
#include "kernels/device_runtime.h"

namespace {

using namespace anvil;
namespace cuda = kernels::cuda;
using Clock = std::chrono::steady_clock;

// Device memory for one operand: inputs hold small nonzero values (the tensor cores' time does not
// depend on them, but readers of the numbers should not meet NaNs); outputs are only zeroed.
struct DeviceBlock {
  enum Fill { kInput, kOutput };
  DeviceBlock(size_t bytes, Fill fill) : p(kernels::cuda_malloc_or_null(bytes, 0)) {
    if (!p) throw std::runtime_error("kernels_bench: out of device memory");
    if (fill == kOutput) {
      kernels::cuda_memset_zero(p, bytes, 0);
      return;
    }
    std::vector<uint16_t> host(bytes / 2, 0x3c00);  // 1.0 in f16, ~0.0078 in bf16, small as f32 pairs
    kernels::cuda_memcpy(p, host.data(), host.size() * 2, kernels::CopyKind::HostToDevice, 0);
  }
  ~DeviceBlock() { kernels::cuda_free(p, 0); }
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
  void* p;
};

double median_ms(int iters, const std::function<void()>& run) {
  for (int i = 0; i < 3; ++i) run();  // warm-up
  kernels::cuda_synchronize(0);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    run();
    kernels::cuda_synchronize(0);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void report(const std::string& name, double flops, double ms) {
  std::printf("{\"kernel\": \"%s\", \"ms\": %.4f, \"tflops\": %.2f}\n", name.c_str(), ms, flops / (ms * 1e-3) / 1e12);
  std::fflush(stdout);
}

void gemm_case(const char* label, int64_t M, int64_t N, int64_t K, DType in, bool tf32, int iters) {
  const int64_t esz = dtype_size(in);
  DeviceBlock A(size_t(M * K * esz), DeviceBlock::kInput), B(size_t(K * N * esz), DeviceBlock::kInput),
      C(size_t(M * N * 4), DeviceBlock::kOutput);
  cuda::GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.input_dtype = in;
  g.A = A.p;
  g.lda = K;
  g.B = B.p;
  g.ldb = K;
  g.b_transposed = true;  // a Linear weight (N, K), as every layer multiplies
  g.C = C.p;
  g.ldc = N;
  g.output_dtype = DType::F32;
  g.allow_tf32 = tf32;
  cuda::GemmBackend used = cuda::GemmBackend::Auto;
  const double ms = median_ms(iters, [&] { used = cuda::gemm(g); });
  const char* backend = used == cuda::GemmBackend::TensorCore ? "tensor-core"
                        : used == cuda::GemmBackend::Tf32     ? "tf32"
                                                              : "simple";
  char name[160];
  std::snprintf(name, sizeof name, "gemm %s %s %lldx%lldx%lld (%s)", label, std::string(dtype_name(in)).c_str(),
                static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(K), backend);
  report(name, 2.0 * double(M) * double(N) * double(K), ms);
}

void attention_case(int64_t B, int64_t H, int64_t T, int64_t D, int iters) {
  const size_t elems = size_t(B * T * H * D);
  const auto I = DeviceBlock::kInput, O = DeviceBlock::kOutput;
  DeviceBlock q(elems * 2, I), k(elems * 2, I), v(elems * 2, I), dout(elems * 2, I), o(elems * 2, O), dq(elems * 2, O),
      dk(elems * 2, O), dv(elems * 2, O), lse(size_t(B * H * T) * 4, O), delta(size_t(B * H * T) * 4, O);
  auto in = [&](const DeviceBlock& b) {
    return cuda::AttentionInput{b.p, T * H * D, H * D, D};
  };
  auto out = [&](DeviceBlock& b) { return cuda::AttentionOutput{b.p, T * H * D, H * D, D}; };
  cuda::AttentionArgs a;
  a.batch = B;
  a.seq_len = T;
  a.num_heads = a.num_kv_heads = H;
  a.head_dim = D;
  a.dtype = DType::BF16;
  a.causal = true;
  a.q = in(q);
  a.k = in(k);
  a.v = in(v);
  a.out = out(o);
  a.lse = static_cast<float*>(lse.p);
  a.dout = in(dout);
  a.dq = out(dq);
  a.dk = out(dk);
  a.dv = out(dv);
  a.delta = static_cast<float*>(delta.p);
  // Causal attention: half the 4 B H T^2 D multiply-adds of the forward's two products; the
  // backward does 2.5x the forward's (FlashAttention-2's count).
  const double fwd_flops = 4.0 * double(B * H) * double(T) * double(T) * double(D) / 2.0;
  const double fwd = median_ms(iters, [&] { cuda::attention_forward(a); });
  const double both = median_ms(iters, [&] {
    cuda::attention_forward(a);
    cuda::attention_backward(a);
  });
  char name[128];
  std::snprintf(name, sizeof name, "attention fwd bf16 causal B%lld H%lld T%lld D%lld", static_cast<long long>(B),
                static_cast<long long>(H), static_cast<long long>(T), static_cast<long long>(D));
  report(name, fwd_flops, fwd);
  std::snprintf(name, sizeof name, "attention fwd+bwd bf16 causal B%lld H%lld T%lld D%lld", static_cast<long long>(B),
                static_cast<long long>(H), static_cast<long long>(T), static_cast<long long>(D));
  report(name, 3.5 * fwd_flops, both);
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: kernels_bench [--iters N]\n");
      return 2;
    }
  }
  if (kernels::cuda_device_count() == 0 || kernels::cuda_emulated()) {
    std::fprintf(stderr, "kernels_bench: no CUDA device to time (an emulated one's times would mean nothing)\n");
    return 2;
  }
  try {
    const int64_t tokens = 8 * 1024;  // GPT-2 124M: d 768, 12 heads of 64, MLP 3072, vocab 50304
    struct Shape {
      const char* label;
      int64_t N, K;
    };
    for (const Shape& s : {Shape{"qkv", 2304, 768}, Shape{"attn-proj", 768, 768}, Shape{"mlp-fc", 3072, 768},
                           Shape{"mlp-proj", 768, 3072}, Shape{"lm-head", 50304, 768}}) {
      gemm_case(s.label, tokens, s.N, s.K, DType::BF16, false, iters);
      gemm_case(s.label, tokens, s.N, s.K, DType::F32, true, iters);
    }
    attention_case(8, 12, 1024, 64, iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernels_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
