// Helpers shared by the op families: argument checks and the f32 load/store path of CPU kernels.
#pragma once

#include <string_view>

#include "core/base/error.h"
#include "core/ops/ops.h"

namespace anvil::ops::detail {

// Normalizes a possibly negative dim; OpError "[op] dim d out of range for shape ..." otherwise.
int64_t normalize_dim(int64_t dim, int64_t ndim, std::string_view op);
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);
void check_floating(const Tensor& t, std::string_view op, std::string_view arg);
void check_index(const Tensor& t, std::string_view op, std::string_view arg);
void check_same_device(const Tensor& a, const Tensor& b, std::string_view op);
void check_cpu(const Tensor& t, std::string_view op);  // for ops that have no CUDA kernel yet

// The anvil stream (cudaStream_t as void*) of a CUDA tensor's device: every CUDA launch of the op
// layer goes there, so launches, copies and allocator reuse stay ordered on one stream.
void* cuda_stream(const Tensor& t);

// A contiguous f32 copy (or the tensor itself when it already is one): CPU kernels compute in f32.
Tensor f32_contiguous(const Tensor& t);
// Converts an f32 result back to the dtype the op's inputs had.
Tensor cast_result(const Tensor& f32_result, DType dtype);

}  // namespace anvil::ops::detail
