// CUDA rotary position embedding (RoPE), forward and backward, in place or out of place.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// x and y are (B, T, heads, head_dim) read/written through element strides (head_dim contiguous),
// so RoPE can run on the q and k slices of a fused projection; y may equal x.
struct RopeArgs {
  DType dtype = DType::BF16;
  const void* x = nullptr;
  void* y = nullptr;
  int64_t batch = 0, seq_len = 0, heads = 0, head_dim = 0;
  int64_t x_strides[3] = {0, 0, 0};  // batch, seq, head
  int64_t y_strides[3] = {0, 0, 0};
  int64_t rotary_dim = 0;            // even, <= head_dim; 0 means head_dim; dims past it pass through
  float theta = 10000.0f;            // base of the frequencies theta^(-2i / rotary_dim)
  const int64_t* positions = nullptr;  // (B, T) device positions, or null for position_offset + t
  int64_t position_offset = 0;
  void* stream = nullptr;
};

// Rotate-half convention (GPT-NeoX / Llama): pairs (d, d + rotary_dim/2), angle pos * freq_d,
//   y_d = x_d cos - x_{d+h} sin, y_{d+h} = x_{d+h} cos + x_d sin   (=).
void rope_forward(const RopeArgs& args);
// The transpose rotation (angle -pos * freq): dx from dy, with x := dy and y := dx in args (`=`).
void rope_backward(const RopeArgs& args);

}  // namespace anvil::kernels::cuda
