// scaled_dot_product_attention: softmax(scale * q k^T + causal mask) v with grouped-query heads
// and the causal offset of a KV cache (query t sees keys s <= t + S - T).
//
// The CPU kernel never materializes the (T, S) score matrix (online softmax over key blocks) and
// saves the per-row log-sum-exp; the backward recomputes the probabilities from it. Key/value
// gradients are produced per query head and summed over each group of Hq / Hkv heads here.
// On CUDA, bf16/f16 inputs with head dim 64 or 128 and S == T take the flash kernels (dk/dv per
// kv head directly); everything else takes the simple f32 kernels, which mirror the CPU structure.
#include <cmath>

#include "core/ops/op_utils.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.h"

namespace anvil::ops {

using namespace detail;

namespace {

void check_attention_args(const Tensor& q, const Tensor& k, const Tensor& v) {
  check_floating(q, "attention", "q");
  check_floating(k, "attention", "k");
  check_floating(v, "attention", "v");
  check_same_device(q, k, "attention");
  check_same_device(q, v, "attention");
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

int64_t attention_max_head_dim_cuda() { return kernels::cuda::kSimpleAttentionMaxHeadDim; }

namespace {

// The CUDA f32 path: the simple kernels at the end of kernels/cuda/attention.cu, with the same saved
// state (f32 q, k, v, out and the log-sum-exp) and group sum of dk/dv as the CPU path.
Tensor attention_cuda(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float sm_scale) {
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2);
  const int64_t group = Hq / Hkv;
  ANVIL_CHECK_OP(D <= kernels::cuda::kSimpleAttentionMaxHeadDim, "[attention] head dim ", D,
                 " is above the CUDA f32 path's limit of ", kernels::cuda::kSimpleAttentionMaxHeadDim, " (q ",
                 q.str(), ")");
  const Device dev = q.device();
  Tensor qf = f32_contiguous(q);                           // (B, Hq, T, D)
  Tensor kf = f32_contiguous(k);                           // (B, Hkv, S, D)
  Tensor vf = f32_contiguous(v);                           // (B, Hkv, S, D)
  Tensor out = Tensor::empty(q.shape(), DType::F32, dev);  // (B, Hq, T, D)
  Tensor lse = Tensor::empty({B, Hq, T}, DType::F32, dev);
  kernels::cuda::SimpleAttentionArgs args;
  args.batch = B;
  args.num_heads = Hq;
  args.num_kv_heads = Hkv;
  args.q_len = T;
  args.kv_len = S;
  args.head_dim = D;
  args.causal = causal;
  args.scale = sm_scale;
  args.q = qf.data<float>();
  args.k = kf.data<float>();
  args.v = vf.data<float>();
  args.out = out.data<float>();
  args.lse = lse.data<float>();
  args.stream = cuda_stream(q);
  kernels::cuda::attention_simple_forward_f32(args);
  Tensor out_saved = out.detach();  // not the output's own handle (no cycle through its node)
  const DType q_dtype = q.dtype(), k_dtype = k.dtype(), v_dtype = v.dtype();
  return record_op(
      "AttentionBackward", {q, k, v}, cast_result(out, q_dtype),
      [=](const Tensor& g, const std::vector<bool>& needs) {
        Tensor gf = f32_contiguous(g);  // (B, Hq, T, D)
        Tensor dq = Tensor::empty({B, Hq, T, D}, DType::F32, dev);
        Tensor dk_per_qhead = Tensor::empty({B, Hq, S, D}, DType::F32, dev);
        Tensor dv_per_qhead = Tensor::empty({B, Hq, S, D}, DType::F32, dev);
        Tensor delta = Tensor::empty({B, Hq, T}, DType::F32, dev);
        kernels::cuda::SimpleAttentionArgs b = args;
        b.q = qf.data<float>();  // naming qf, kf, vf here keeps them alive in the closure
        b.k = kf.data<float>();
        b.v = vf.data<float>();
        b.lse = lse.data<float>();  // and lse: args holds only its pointer, and the forward's
                                    // handle dies on return (the caching allocator would hand
                                    // its block to the next tensor)
        b.out = out_saved.data<float>();
        b.dout = gf.data<float>();
        b.dq = dq.data<float>();
        b.dk_per_qhead = dk_per_qhead.data<float>();
        b.dv_per_qhead = dv_per_qhead.data<float>();
        b.delta = delta.data<float>();
        kernels::cuda::attention_simple_backward_f32(b);
        auto sum_group = [&](const Tensor& per_qhead) {
          return group == 1 ? per_qhead : sum(per_qhead.view({B, Hkv, group, S, D}), {2});
        };
        return std::vector<Tensor>{needs[0] ? cast_result(dq, q_dtype) : Tensor(),
                                   needs[1] ? cast_result(sum_group(dk_per_qhead), k_dtype) : Tensor(),
                                   needs[2] ? cast_result(sum_group(dv_per_qhead), v_dtype) : Tensor()};
      });
}

// The flash kernels (kernels/cuda/attention.cu) cover bf16/f16 q, k, v of one dtype, head dim 64
// or 128, and S == T (no KV-cache offset). They read (B, T, H, D) through strides, so a
// contiguous (B, H, T, D) tensor is passed as batch H*T*D, seq D, head T*D.
bool flash_applies(const Tensor& q, const Tensor& k, const Tensor& v) {
  const DType dt = q.dtype();
  const int64_t D = q.size(3);
  return (dt == DType::BF16 || dt == DType::F16) && k.dtype() == dt && v.dtype() == dt && (D == 64 || D == 128) &&
         k.size(2) == q.size(2);
}

template <typename View>
View bhtd_view(const Tensor& t) {  // t contiguous (B, H, T, D)
  View view;
  view.data = t.data_ptr();
  view.batch_stride = t.size(1) * t.size(2) * t.size(3);
  view.seq_stride = t.size(3);
  view.head_stride = t.size(2) * t.size(3);
  return view;
}

Tensor attention_flash(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float sm_scale) {
  using kernels::cuda::AttentionInput;
  using kernels::cuda::AttentionOutput;
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3), Hkv = k.size(1);
  const Device dev = q.device();
  const DType dt = q.dtype();
  Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous(), vc = v.detach().contiguous();
  Tensor out = Tensor::empty(q.shape(), dt, dev);  // (B, Hq, T, D)
  Tensor lse = Tensor::empty({B, Hq, T}, DType::F32, dev);
  kernels::cuda::AttentionArgs args;
  args.batch = B;
  args.seq_len = T;
  args.num_heads = Hq;
  args.num_kv_heads = Hkv;
  args.head_dim = D;
  args.dtype = dt;
  args.causal = causal;
  args.scale = sm_scale;
  args.q = bhtd_view<AttentionInput>(qc);
  args.k = bhtd_view<AttentionInput>(kc);
  args.v = bhtd_view<AttentionInput>(vc);
  args.out = bhtd_view<AttentionOutput>(out);
  args.lse = lse.data<float>();
  args.stream = cuda_stream(q);
  kernels::cuda::attention_forward(args);
  Tensor out_saved = out.detach();  // not the output's own handle (no cycle through its node)
  return record_op("AttentionBackward", {q, k, v}, out, [=](const Tensor& g, const std::vector<bool>& needs) {
    Tensor gc = g.detach().to(dt).contiguous();  // (B, Hq, T, D)
    Tensor dq = Tensor::empty({B, Hq, T, D}, dt, dev);
    Tensor dk = Tensor::empty({B, Hkv, T, D}, dt, dev);
    Tensor dv = Tensor::empty({B, Hkv, T, D}, dt, dev);
    Tensor delta = Tensor::empty({B, Hq, T}, DType::F32, dev);
    kernels::cuda::AttentionArgs b = args;
    b.q = bhtd_view<AttentionInput>(qc);  // naming qc, kc, vc here keeps them alive in the closure
    b.k = bhtd_view<AttentionInput>(kc);
    b.v = bhtd_view<AttentionInput>(vc);
    b.lse = lse.data<float>();  // keeps the forward's log-sum-exp alive too (args has only its pointer)
    b.out = bhtd_view<AttentionOutput>(out_saved);
    b.dout = bhtd_view<AttentionInput>(gc);
    b.dq = bhtd_view<AttentionOutput>(dq);
    b.dk = bhtd_view<AttentionOutput>(dk);
    b.dv = bhtd_view<AttentionOutput>(dv);
    b.delta = delta.data<float>();
    kernels::cuda::attention_backward(b);
    return std::vector<Tensor>{needs[0] ? dq : Tensor(), needs[1] ? dk : Tensor(), needs[2] ? dv : Tensor()};
  });
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float scale) {
  check_attention_args(q, k, v);
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2);
  const int64_t group = Hq / Hkv;
  const float sm_scale = scale > 0.0f ? scale : float(1.0 / std::sqrt(double(D)));
  if (q.device().is_cuda())
    return flash_applies(q, k, v) ? attention_flash(q, k, v, causal, sm_scale) : attention_cuda(q, k, v, causal, sm_scale);
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
