// Dtype conversion and strided (layout) copies on the CPU, and the load/store path every CPU op uses
// (bf16/f16 stored values are computed in f32). kernels/cuda/convert.h is the CUDA side.
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cpu {

// dst[i] = convert(src[i]) for n contiguous elements   (=).
void convert(const void* src, DType src_type, void* dst, DType dst_type, int64_t n);

// Copies a strided view (shape, strides in elements, src already offset) into a contiguous buffer
// of the same dtype   (=).
void strided_copy(const void* src, int64_t elem_size, const int64_t* shape, const int64_t* strides,
                  int ndim, void* dst);

// Writes contiguous src into a strided destination (dst already offset), same element size   (=).
void strided_scatter(const void* src, int64_t elem_size, void* dst, const int64_t* shape, const int64_t* dst_strides,
                     int ndim);

// Reads element i of a contiguous buffer as float / writes one (for any floating or int type).
float load_as_f32(const void* p, DType t, int64_t i);        // returns the value
void store_from_f32(void* p, DType t, int64_t i, float v);  // p[i] = v   (=)

}  // namespace anvil::kernels::cpu
