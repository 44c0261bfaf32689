// Fused cross-entropy over logits (N, V) and integer targets (N): log-softmax and the negative
// log-likelihood in one pass per row, never materializing the (N, V) probabilities in forward.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// For each row r: lse[r] = logsumexp(logits[r, :]); loss_rows[r] = lse[r] - logits[r, targets[r]],
// or 0 when targets[r] == ignore_index (both =). Targets are already validated to lie in [0, V).
void cross_entropy_forward_f32(const float* logits, const int64_t* targets, int64_t N, int64_t V,
                               int64_t ignore_index, float* lse, float* loss_rows);

// grad_logits (N, V) = (softmax(logits) - onehot(targets)) * scale for kept rows, 0 for ignored
// rows (=); softmax is recomputed from the saved lse. scale = grad_out / count of kept rows.
void cross_entropy_backward_f32(const float* logits, const int64_t* targets, const float* lse, int64_t N,
                                int64_t V, int64_t ignore_index, float scale, float* grad_logits);

}  // namespace anvil::kernels::cpu
