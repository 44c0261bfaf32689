// CUDA dtype casts and strided (layout) copies: the CUDA side of kernels/cpu/convert.h.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

constexpr int kMaxCopyDims = 8;

// dst[i] = convert(src[i]) between f32, bf16 and f16 (round to nearest even)   (=)
void cast(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, void* stream);
// Element-by-element copy over `shape` (ndim <= kMaxCopyDims) with both sides addressed through
// element strides: makes strided views contiguous and scatters into strided destinations. Any
// dtype: elements are moved as raw elem_size-byte words (1, 2, 4 or 8); no conversion   (=).
void strided_copy(int64_t elem_size, const void* src, const int64_t* src_strides, void* dst,
                  const int64_t* dst_strides, const int64_t* shape, int ndim, void* stream);

}  // namespace anvil::kernels::cuda
