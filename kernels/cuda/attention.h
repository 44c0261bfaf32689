// CUDA flash attention, forward and backward: causal or full, head_dim 64 or 128, grouped-query
// heads (num_kv_heads divides num_heads), bf16/f16 in, fp32 accumulation. Never materializes the
// T x T score matrix; the forward saves only the log-sum-exp per (batch, head, query row).
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// A (B, T, heads, head_dim) tensor read through element strides; head_dim is contiguous.
// Strides let q, k and v be slices of one fused (B, T, (H + 2 Hkv) * D) projection.
struct AttentionInput {
  const void* data = nullptr;
  int64_t batch_stride = 0, seq_stride = 0, head_stride = 0;
};
struct AttentionOutput {
  void* data = nullptr;
  int64_t batch_stride = 0, seq_stride = 0, head_stride = 0;
};

struct AttentionArgs {
  int64_t batch = 0, seq_len = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  DType dtype = DType::BF16;  // q, k, v, out, dout, dq, dk, dv
  bool causal = true;         // query t sees keys 0..t
  float scale = 0.0f;         // 0 means 1/sqrt(head_dim)
  AttentionInput q, k, v;     // (B, T, H, D), (B, T, Hkv, D), (B, T, Hkv, D)
  AttentionOutput out;        // (B, T, H, D), written by the forward
  float* lse = nullptr;       // (B, H, T) contiguous f32, natural log; written by the forward
  // Backward only: out and lse as the forward wrote them, plus
  AttentionInput dout;        // (B, T, H, D)
  AttentionOutput dq, dk, dv; // written with `=`, same shapes as q, k, v
  float* delta = nullptr;     // (B, H, T) f32 scratch the caller provides
  void* stream = nullptr;
};

// The forward writes out and lse (=); the backward writes dq, dk, dv (=), as the CPU kernels do.
void attention_forward(const AttentionArgs& args);   // out, lse (=)
void attention_backward(const AttentionArgs& args);  // dq, dk, dv (=)

// The simple path (the end of attention.cu) for what the flash kernels do not cover: f32, any head
// dim up to kSimpleAttentionMaxHeadDim, and any KV length S (query t sees keys s <= t + S - T
// when causal; a row that sees none gets a zero output and lse = -inf, as on the CPU). One thread per query row (and per key row in the backward); slow
// but exact in structure: online softmax, log-sum-exp saved, probabilities rebuilt in backward.
// Layouts are contiguous f32: q (B, Hq, T, D), k and v (B, Hkv, S, D), out (B, Hq, T, D),
// lse and delta (B, Hq, T). Hq % Hkv == 0; q head h reads kv head h / (Hq / Hkv).
constexpr int64_t kSimpleAttentionMaxHeadDim = 256;
struct SimpleAttentionArgs {
  int64_t batch = 0, num_heads = 0, num_kv_heads = 0, q_len = 0, kv_len = 0, head_dim = 0;
  bool causal = true;
  float scale = 0.0f;  // > 0 (the op resolves the default)
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  float* out = nullptr;  // forward writes
  float* lse = nullptr;  // forward writes; backward reads
  // Backward: reads out, dout; writes dq (B, Hq, T, D) and dk, dv per query head (B, Hq, S, D)
  // (the caller sums each group of Hq / Hkv heads); delta is (B, Hq, T) scratch.
  const float* dout = nullptr;
  float *dq = nullptr, *dk_per_qhead = nullptr, *dv_per_qhead = nullptr, *delta = nullptr;
  void* stream = nullptr;
};
// Every output written with `=`, as by kernels/cpu/attention.h.
void attention_simple_forward_f32(const SimpleAttentionArgs& args);   // out, lse (=)
void attention_simple_backward_f32(const SimpleAttentionArgs& args);  // dq, dk/dv per query head (=)

}  // namespace anvil::kernels::cuda
