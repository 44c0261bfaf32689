// Embedding lookup: gather rows of a (V, C) table by id, and the backward scatter-add.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// out (n, C) = weight (V, C)[ids (n)] (=), rows copied as raw bytes (any dtype of elem_size bytes).
// ids are already validated to lie in [0, V).
void embedding_forward(const void* weight, int64_t elem_size, const int64_t* ids, int64_t n, int64_t C, void* out);

// grad_weight (V, C) += grad_out[k, :] at row ids[k], for k = 0..n-1 in order (+=, as on CUDA: the
// caller zeroes grad_weight).
// Deterministic: threads split the C columns, and each walks the ids in the same order.
void embedding_backward_f32(const float* grad_out, const int64_t* ids, int64_t n, int64_t C, int64_t V,
                            float* grad_weight);

}  // namespace anvil::kernels::cpu
