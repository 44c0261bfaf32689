// cross_entropy(logits (N, V), targets (N), ignore_index): the mean negative log-likelihood over
// rows whose target is not ignore_index (0 when every row is ignored, with a zero gradient).
// Fused log-softmax: forward saves the f32 logits, one log-sum-exp per row and the targets;
// backward = (softmax - onehot) * g / count, with softmax rebuilt from the saved lse.
#include "core/ops/op_utils.h"
#include "kernels/cpu/loss.h"
#include "kernels/cuda/loss.h"

namespace anvil::ops {

using namespace detail;

namespace {

// The CUDA path: one pass of the fused softmax + cross-entropy kernel. Without grad it writes only
// the per-row losses. With grad it also writes dlogits / count, into the f32 copy of the logits
// when that copy is private (bf16/f16 or strided logits) or into a clone (the input itself must
// stay intact), so the backward only scales by the upstream gradient instead of rerunning the
// kernel. Targets are checked and counted on the host (N values, one copy).
Tensor cross_entropy_cuda(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  const int64_t N = logits.size(0), V = logits.size(1);
  const std::vector<int64_t> th = targets.to_i64_vector();
  int64_t count = 0;
  for (int64_t r = 0; r < N; ++r) {
    const int64_t t = th[size_t(r)];
    if (t == ignore_index) continue;
    ANVIL_CHECK_OP(t >= 0 && t < V, "[cross_entropy] target ", t, " in row ", r, " is outside [0, ", V,
                   ") for logits ", logits.str(), " (ignore_index is ", ignore_index, ")");
    ++count;
  }
  const Device dev = logits.device();
  const bool want_grad = any_requires_grad({&logits});
  Tensor t64 = targets.detach().contiguous().to(DType::I64);  // (N) on the device
  Tensor x = f32_contiguous(logits);                          // (N, V)
  // With grad, the buffer the kernel overwrites with dlogits: never the caller's logits.
  Tensor gx = want_grad && x.data_ptr() == logits.data_ptr() ? x.clone() : x;
  Tensor loss_rows = Tensor::empty({N}, DType::F32, dev);  // (N)
  kernels::cuda::CrossEntropyArgs args;
  args.dtype = DType::F32;
  args.logits = gx.data<float>();
  args.rows = N;
  args.vocab = V;
  args.ld = V;
  args.targets = t64.data<int64_t>();
  args.ignore_index = ignore_index;
  args.losses = loss_rows.data<float>();
  args.write_dlogits = want_grad;
  args.dloss_scale = count > 0 ? 1.0f / float(count) : 0.0f;  // no kept rows: the loss is the constant 0
  args.stream = cuda_stream(logits);
  if (N > 0) kernels::cuda::cross_entropy_fused(args);
  // Summed on the host in double over the kept rows, as the CPU path does.
  const std::vector<float> lr = loss_rows.to_f32_vector();
  double total = 0;
  for (int64_t r = 0; r < N; ++r)
    if (th[size_t(r)] != ignore_index) total += lr[size_t(r)];
  const float mean_loss = count > 0 ? float(total / double(count)) : 0.0f;
  const DType dtype = logits.dtype();
  Tensor out = Tensor::full({}, mean_loss, dtype, dev);
  if (!want_grad) return out;
  return record_op("CrossEntropyBackward", {logits, targets}, out,
                   [gx, dtype](const Tensor& g, const std::vector<bool>&) {
                     const float scale = g.item();  // (the loss was just read on the host: no new wait)
                     Tensor grad = scale == 1.0f ? gx : mul_scalar(gx, scale);
                     return std::vector<Tensor>{cast_result(grad, dtype), Tensor()};
                   });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  check_floating(logits, "cross_entropy", "logits");
  check_index(targets, "cross_entropy", "targets");
  check_same_device(logits, targets, "cross_entropy");
  ANVIL_CHECK_OP(logits.dim() == 2, "[cross_entropy] logits must be (N, V), got ", logits.str());
  const int64_t N = logits.size(0), V = logits.size(1);
  ANVIL_CHECK_OP(targets.dim() == 1 && targets.size(0) == N, "[cross_entropy] targets ", targets.str(),
                 " do not match logits ", logits.str(), " (expected targets of shape [", N, "])");
  ANVIL_CHECK_OP(V > 0, "[cross_entropy] logits have no classes: ", logits.str());

  if (logits.device().is_cuda()) return cross_entropy_cuda(logits, targets, ignore_index);
  Tensor t64 = targets.detach().contiguous().to(DType::I64);  // (N)
  const int64_t* tp = t64.data<int64_t>();
  int64_t count = 0;
  for (int64_t r = 0; r < N; ++r) {
    if (tp[r] == ignore_index) continue;
    ANVIL_CHECK_OP(tp[r] >= 0 && tp[r] < V, "[cross_entropy] target ", tp[r], " in row ", r,
                   " is outside [0, ", V, ") for logits ", logits.str(), " (ignore_index is ", ignore_index, ")");
    ++count;
  }

  Tensor x = f32_contiguous(logits);              // (N, V)
  Tensor lse = Tensor::empty({N}, DType::F32);      // (N)
  Tensor loss_rows = Tensor::empty({N}, DType::F32);  // (N)
  kernels::cpu::cross_entropy_forward_f32(x.data<float>(), tp, N, V, ignore_index, lse.data<float>(),
                                          loss_rows.data<float>());
  double total = 0;
  const float* lr = loss_rows.data<float>();
  for (int64_t r = 0; r < N; ++r) total += lr[r];
  const float mean_loss = count > 0 ? float(total / double(count)) : 0.0f;
  const DType dtype = logits.dtype();
  Tensor out = Tensor::full({}, mean_loss, dtype);
  if (!any_requires_grad({&logits})) return out;
  return record_op("CrossEntropyBackward", {logits, targets}, out,
                   [x, t64, lse, N, V, ignore_index, count, dtype](const Tensor& g, const std::vector<bool>&) {
                     Tensor gx = Tensor::empty({N, V}, DType::F32);
                     // With no kept rows the loss is the constant 0: scale 0 zeroes every row.
                     const float scale = count > 0 ? g.item() / float(count) : 0.0f;
                     kernels::cpu::cross_entropy_backward_f32(x.data<float>(), t64.data<int64_t>(),
                                                              lse.data<float>(), N, V, ignore_index, scale,
                                                              gx.data<float>());
                     return std::vector<Tensor>{cast_result(gx, dtype), Tensor()};
                   });
}

}  // namespace anvil::ops
