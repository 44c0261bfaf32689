// Shape-op kernels: the block copy concat is built from.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// Copies `blocks` runs of block_bytes each: run b goes from src + b * block_bytes (contiguous
// source) to dst + b * dst_stride_bytes (=). concat along dim d is one call per input, with
// block_bytes = size_d(input) * inner * elem and dst_stride_bytes = size_d(output) * inner * elem.
void copy_blocks(const void* src, int64_t block_bytes, int64_t blocks, void* dst, int64_t dst_stride_bytes);

}  // namespace anvil::kernels::cpu
