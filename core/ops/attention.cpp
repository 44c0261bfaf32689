// scaled_dot_product_attention: softmax(scale * q k^T + causal mask) v with grouped-query heads
// and the causal offset of a KV cache (query t sees keys s <= t + S - T).
//
// The CPU kernel never materializes the (T, S) score matrix (online softmax over key blocks) and
// saves the per-row log-sum-exp; the backward recomputes the probabilities from it. Key/value
// gradients are produced per query head and summed over each group of Hq / Hkv heads here.
#include <cmath>

#include "core/ops/op_utils.h"
#include "kernels/cpu/attention.h"

namespace anvil::ops {

using namespace detail;

namespace {

void check_attention_args(const Tensor& q, const Tensor& k, const Tensor& v) {
  check_floating(q, "attention", "q");
  check_floating(k, "attention", "k");
  check_floating(v, "attention", "v");
  check_same_device(q, k, "attention");
  check_same_device(q, v, "attention");
  check_cpu(q, "attention");
  ANVIL_CHECK_OP(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
                 "[attention] expects q (B, Hq, T, D), k and v (B, Hkv, S, D); got q ", q.str(), ", k ", k.str(),
                 ", v ", v.str());
  ANVIL_CHECK_OP(k.shape() == v.shape(), "[attention] k ", k.str(), " and v ", v.str(), " must have the same shape");
  ANVIL_CHECK_OP(q.size(0) == k.size(0) && q.size(3) == k.size(3), "[attention] q ", q.str(), " and k ", k.str(),
                 " differ in batch or head dim (expected q (B, Hq, T, D), k (B, Hkv, S, D))");
  ANVIL_CHECK_OP(k.size(1) > 0 && q.size(1) % k.size(1) == 0, "[attention] query heads Hq = ", q.size(1),
                 " must be a multiple of kv heads Hkv = ", k.size(1), " (q ", q.str(), ", k ", k.str(), ")");
  ANVIL_CHECK_OP(q.size(3) > 0, "[attention] head dim D must be positive, got q ", q.str());
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float scale) {
  check_attention_args(q, k, v);
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2);
  const int64_t group = Hq / Hkv;
  const float sm_scale = scale > 0.0f ? scale : float(1.0 / std::sqrt(double(D)));
  Tensor qf = f32_contiguous(q);                      // (B, Hq, T, D)
  Tensor kf = f32_contiguous(k);                      // (B, Hkv, S, D)
  Tensor vf = f32_contiguous(v);                      // (B, Hkv, S, D)
  // Keys transposed once so the kernel's score loops run over contiguous keys.
  Tensor kf_t = kf.transpose(2, 3).contiguous();      // (B, Hkv, D, S)
  Tensor out = Tensor::empty(q.shape(), DType::F32);  // (B, Hq, T, D)
  Tensor lse = Tensor::empty({B, Hq, T}, DType::F32);
  kernels::cpu::attention_forward_f32(qf.data<float>(), kf_t.data<float>(), vf.data<float>(), B, Hq, Hkv, T, S, D,
                                      causal, sm_scale, out.data<float>(), lse.data<float>());
  // Saved detached: the output's own node must not hold a handle to the output (a cycle).
  Tensor out_saved = out.detach();
  const DType q_dtype = q.dtype(), k_dtype = k.dtype(), v_dtype = v.dtype();
  return record_op(
      "AttentionBackward", {q, k, v}, cast_result(out, q_dtype),
      [=](const Tensor& g, const std::vector<bool>& needs) {
        Tensor gf = f32_contiguous(g);                  // (B, Hq, T, D)
        Tensor vf_t = vf.transpose(2, 3).contiguous();  // (B, Hkv, D, S)
        Tensor dq = Tensor::empty({B, Hq, T, D}, DType::F32);
        Tensor dk_per_qhead = Tensor::empty({B, Hq, S, D}, DType::F32);
        Tensor dv_per_qhead = Tensor::empty({B, Hq, S, D}, DType::F32);
        kernels::cpu::attention_backward_f32(qf.data<float>(), kf.data<float>(), kf_t.data<float>(),
                                             vf_t.data<float>(), out_saved.data<float>(), gf.data<float>(), lse.data<float>(), B, Hq,
                                             Hkv, T, S, D, causal, sm_scale, dq.data<float>(),
                                             dk_per_qhead.data<float>(), dv_per_qhead.data<float>());
        // (B, Hkv * group, S, D) -> sum over the group -> (B, Hkv, S, D).
        auto sum_group = [&](const Tensor& per_qhead) {
          return group == 1 ? per_qhead : sum(per_qhead.view({B, Hkv, group, S, D}), {2});
        };
        return std::vector<Tensor>{needs[0] ? cast_result(dq, q_dtype) : Tensor(),
                                   needs[1] ? cast_result(sum_group(dk_per_qhead), k_dtype) : Tensor(),
                                   needs[2] ? cast_result(sum_group(dv_per_qhead), v_dtype) : Tensor()};
      });
}

}  // namespace anvil::ops
