// CPU scaled-dot-product attention, forward and backward, with grouped-query heads and the causal
// offset of a KV cache. All tensors are contiguous f32:
//   q (B, Hq, T, D), k and v (B, Hkv, S, D), k_t and v_t (B, Hkv, D, S) (the same keys/values
//   transposed, provided by the caller so score loops run over contiguous keys), out (B, Hq, T, D),
//   lse (B, Hq, T).
// Query head h reads kv head h / (Hq / Hkv). Causal: query t sees keys s <= t + (S - T); a query
// that sees no key (only possible when S < T) gets a zero output and lse = -inf.
//
// The forward is flash-style: a tile of query rows visits the keys in blocks with a running max and
// sum per row (online softmax), so no (T, S) matrix is ever stored; its only scratch is a fixed
// tile on the stack. It saves the log-sum-exp of the scaled scores per query row, from which the
// backward recomputes every probability: p = exp(scale * q.k - lse).
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// out and lse are written with `=`.
void attention_forward_f32(const float* q, const float* k_t, const float* v, int64_t B, int64_t Hq, int64_t Hkv,
                           int64_t T, int64_t S, int64_t D, bool causal, float scale, float* out, float* lse);

// dq (B, Hq, T, D) and the per-query-head key/value gradients dk_per_qhead, dv_per_qhead
// (B, Hq, S, D), all written with `=`. The caller sums the latter over each group of Hq / Hkv heads
// (with Hq == Hkv they are dk and dv themselves). Keeping one slice per query head lets every
// (batch, head) run on its own thread with no shared accumulator.
void attention_backward_f32(const float* q, const float* k, const float* k_t, const float* v_t, const float* out,
                            const float* grad_out, const float* lse, int64_t B, int64_t Hq, int64_t Hkv, int64_t T,
                            int64_t S, int64_t D, bool causal, float scale, float* dq, float* dk_per_qhead,
                            float* dv_per_qhead);

}  // namespace anvil::kernels::cpu
