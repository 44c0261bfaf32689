// CUDA embedding lookup and its deterministic backward.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// out (n, dim) = table (vocab, dim) rows ids[i] (=). An id outside [0, vocab) gives a NaN row (device
// code cannot throw; the op layer validates ids when it can afford to).
void embedding_forward(DType dtype, const void* table, const int64_t* ids, void* out, int64_t n, int64_t vocab,
                       int64_t dim, void* stream);
// dtable (vocab, dim) f32 += sum over i with ids[i] == v of dout (n, dim) row i, in increasing i
// for every v (+=, as on the CPU: the caller zeroes dtable): bitwise reproducible, no atomics.
// Out-of-range ids are skipped.
void embedding_backward(DType dtype, const void* dout, const int64_t* ids, float* dtable, int64_t n, int64_t vocab,
                        int64_t dim, void* stream);

}  // namespace anvil::kernels::cuda
