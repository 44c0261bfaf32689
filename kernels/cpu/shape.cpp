// Block copy for concat: dtype-agnostic (bytes), parallel over blocks when there is enough data.
#include "kernels/cpu/shape.h"

#include <cstring>

namespace anvil::kernels::cpu {

namespace {
constexpr int64_t kParallelMinBytes = 1 << 18;  // below 256 KiB one thread copies faster
}

void copy_blocks(const void* src, int64_t block_bytes, int64_t blocks, void* dst, int64_t dst_stride_bytes) {
  const auto* s = static_cast<const char*>(src);
  auto* d = static_cast<char*>(dst);
#pragma omp parallel for if (blocks > 1 && block_bytes * blocks > kParallelMinBytes)
  for (int64_t b = 0; b < blocks; ++b)
    std::memcpy(d + b * dst_stride_bytes, s + b * block_bytes, size_t(block_bytes));
}

}  // namespace anvil::kernels::cpu
