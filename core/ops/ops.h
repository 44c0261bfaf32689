// The differentiable ops: the one list of what the framework can compute.
//
// Each family lives in core/ops/<family>.cpp: argument checks (messages start with "[op]" and
// print the offending shapes), output allocation, dispatch by device to kernels/cpu/<family> or
// kernels/cuda/<family>, and the backward closure right below the forward. ops.def lists the
// families; the op-coverage test walks it.
//
// Conventions: floating tensors may be f32, bf16 or f16 (CPU kernels compute in f32 and convert on
// load/store); integer index tensors are i32 or i64. Inputs may be any strided view. Outputs are
// fresh contiguous tensors on the inputs' device. Broadcasting follows NumPy rules.
//
// Devices: every op runs on CPU tensors and on CUDA tensors (kernels/cuda, launched on the device's
// anvil stream; log_softmax is composed there from max, sub, exp, sum and log). On CUDA, as on the
// CPU, ops compute in f32 and cast back to the input dtype; bf16/f16 operands of one dtype go to
// the binary kernels, the GEMM (tensor cores when the shape allows) and the flash attention
// (head dim 64/128, no KV offset) in their own dtype. Embedding ids and cross-entropy targets are
// range-checked on the host (one small copy per call).
#pragma once

#include <cstdint>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/tensor/tensor.h"

namespace anvil::ops {

// ---- elementwise (elementwise.cpp) -------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor neg(const Tensor& a);

// ---- unary math and activations (unary.cpp) -----------------------------------------------------
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor gelu(const Tensor& a);  // tanh approximation (GPT-2's "gelu_new")
Tensor silu(const Tensor& a);  // x * sigmoid(x)
Tensor relu(const Tensor& a);

// ---- reductions (reduce.cpp) -------------------------------------------------------------------
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor sum(const Tensor& a);  // all elements -> scalar (shape {})
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor max(const Tensor& a, int64_t dim, bool keepdim = false);  // values; gradient to the first argmax

// ---- matmul (matmul.cpp) -----------------------------------------------------------------------
// a (..., M, K) @ b (..., K, N) -> (..., M, N); batch dims broadcast; 1-D b/a not supported.
Tensor matmul(const Tensor& a, const Tensor& b);
// x (..., in) @ weight(out, in)^T + bias(out) -> (..., out): PyTorch nn.Linear's layout. bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Whether f32 matmul/linear on CUDA may run on TF32 tensor cores (10-bit mantissa products, f32
// sums: PyTorch's torch.backends.cuda.matmul.allow_tf32, the config's kernels.tf32). Off by
// default, so f32 products are full f32. Process-wide; the CPU ignores it.
void set_allow_tf32(bool allow);
bool allow_tf32();

// ---- softmax family and loss (softmax.cpp, loss.cpp) ---------------------------------------------
Tensor softmax(const Tensor& a, int64_t dim = -1);
Tensor log_softmax(const Tensor& a, int64_t dim = -1);
// logits (N, V), targets (N) i32/i64 -> scalar mean over targets != ignore_index (0 if none).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100);

// ---- embedding (embedding.cpp) -----------------------------------------------------------------
// weight (V, C), ids (...) i32/i64 -> (..., C). An id outside [0, V) is an OpError naming it.
Tensor embedding(const Tensor& weight, const Tensor& ids);

// ---- normalization (norm.cpp) ------------------------------------------------------------------
// Over the last dim: (x - mean) / sqrt(var + eps) * weight + bias (biased variance).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
// x / sqrt(mean(x^2) + eps) * weight (Llama's RMSNorm).
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps);

// ---- rotary embedding (rope.cpp) ---------------------------------------------------------------
// x (B, H, T, D) with D even; position of time step t is pos_offset + t; Llama's rotate-half layout:
// out[..., i] = x[i] cos - x[i + D/2] sin, out[..., i + D/2] = x[i + D/2] cos + x[i] sin, for i < D/2,
// with angle (pos) * theta^(-2i/D).
Tensor rope(const Tensor& x, int64_t pos_offset, float theta);

// ---- attention (attention.cpp) -----------------------------------------------------------------
// q (B, Hq, T, D), k and v (B, Hkv, S, D), Hq % Hkv == 0 (grouped-query: q head h uses kv head
// h / (Hq/Hkv)). Causal: query t attends keys s <= t + (S - T) (so a KV cache of S >= T works).
// scale <= 0 means 1/sqrt(D). -> (B, Hq, T, D).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = true,
                                    float scale = 0.0f);
// The largest head dimension D the CUDA path takes (any D on the CPU); callers above core check
// their model config against it before building anything.
int64_t attention_max_head_dim_cuda();

// ---- dropout (dropout.cpp) ---------------------------------------------------------------------
// Zeroes each element with probability p and scales the rest by 1/(1-p). The mask of element i is
// Philox uniform(seed, offset + i) < p, so CPU and CUDA agree; gen.offset advances by numel.
Tensor dropout(const Tensor& x, float p, Generator& gen);

// ---- shape ops (shape.cpp) -----------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);

// ---- copies and casts (copy.cpp) ---------------------------------------------------------------
Tensor contiguous(const Tensor& a);          // differentiable
Tensor to_dtype(const Tensor& a, DType dtype);   // differentiable for floating types
Tensor to_device(const Tensor& a, Device device);  // differentiable

// ---- in-place, not differentiable (inplace.cpp): for optimizers and gradient accumulation --------
void add_(Tensor& dst, const Tensor& src, float alpha = 1.0f);  // dst += alpha * src (same shape)
void mul_(Tensor& dst, float s);
void fill_(Tensor& dst, float value);
void copy_(Tensor& dst, const Tensor& src);  // same shape; converts dtype, crosses devices

}  // namespace anvil::ops
