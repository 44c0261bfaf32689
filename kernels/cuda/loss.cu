// CUDA fused softmax + cross-entropy over the vocabulary (see loss.h for the API).
//
// Math: per row, loss = (m + log S) - x_target with m = max x, S = sum exp(x - m), and
//   dlogits_j = scale * (y_j - [j == target]) with y = softmax(x).
// Trick: one block per row; the online (max, sum) of kernels/cuda/row_max_sum.cuh takes a single
//   read of the row. The kernel reads the target logit before the first barrier, so overwriting
//   the logits with dlogits in place is safe.
// Gradients: dlogits replace the logits (`=`); losses are written with `=`.
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/row_max_sum.cuh"

namespace anvil::kernels::cuda {

namespace {

template <typename T>
__global__ void __launch_bounds__(kRowThreads) cross_entropy_kernel(T* logits, int64_t vocab, int64_t ld,
                                                                    const int64_t* targets, int64_t ignore_index,
                                                                    float* losses, bool write_dlogits, float scale,
                                                                    const float* dloss_per_row) {
  __shared__ float target_logit;
  const int64_t r = blockIdx.x;
  T* row = logits + r * ld;
  const int64_t target = targets[r];
  const bool ignored = target == ignore_index;
  const bool in_range = target >= 0 && target < vocab;
  if (threadIdx.x == 0) target_logit = (!ignored && in_range) ? load(row, target) : 0.0f;
  const MaxSum ms = row_max_sum(row, vocab);  // its barrier also publishes target_logit
  if (threadIdx.x == 0 && losses != nullptr) {
    losses[r] = ignored ? 0.0f : (in_range ? ms.m + __logf(ms.s) - target_logit : NAN);
  }
  if (!write_dlogits) return;
  const float row_scale = ignored ? 0.0f : scale * (dloss_per_row ? dloss_per_row[r] : 1.0f);
  const float inv = 1.0f / ms.s;
  for (int64_t c = threadIdx.x; c < ld; c += kRowThreads) {
    float g = 0.0f;
    if (c < vocab && !ignored) g = row_scale * (__expf(load(row, c) - ms.m) * inv - (c == target ? 1.0f : 0.0f));
    row[c] = from_f32<T>(g);
  }
}

void check_rows(int64_t rows, int64_t cols, const char* op) {
  ANVIL_CHECK_OP(rows >= 0 && cols > 0 && rows <= INT32_MAX, "[", op, "] bad sizes rows=", rows, " cols=", cols);
}
}  // namespace

void cross_entropy_fused(const CrossEntropyArgs& a) {
  check_rows(a.rows, a.vocab, "cross_entropy");
  ANVIL_CHECK_OP(a.ld >= a.vocab, "[cross_entropy] row stride ", a.ld, " is smaller than the vocab ", a.vocab);
  ANVIL_CHECK_OP(a.logits != nullptr && a.targets != nullptr, "[cross_entropy] missing logits or targets");
  if (a.rows == 0) return;
  cudaStream_t s = resolve_stream(a.stream);
  dispatch_float(a.dtype, "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((cross_entropy_kernel<T>), unsigned(a.rows), kRowThreads, 0, s, static_cast<T*>(a.logits), a.vocab,
                 a.ld, a.targets, a.ignore_index, a.losses, a.write_dlogits, a.dloss_scale, a.dloss_per_row);
  });
}

}  // namespace anvil::kernels::cuda
