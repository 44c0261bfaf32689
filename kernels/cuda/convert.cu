// CUDA dtype casts and strided copies (see convert.h for the API).
//
// Trick: one grid-stride kernel each; casts load in f32 and round once on store (round to nearest
// even, as kernels/cpu/convert.cpp); strided copies move raw 1/2/4/8-byte words, decomposing the
// element index through both sides' strides.
// Outputs: written with `=`.
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/convert.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kThreads = 256;

template <typename Src, typename Dst>
__global__ void cast_kernel(const Src* src, Dst* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    store(dst, i, load(src, i));
  }
}

struct CopyShape {
  int ndim;
  int64_t shape[kMaxCopyDims];
  int64_t src_strides[kMaxCopyDims];
  int64_t dst_strides[kMaxCopyDims];
};

template <typename W>
__global__ void strided_copy_kernel(const W* src, W* dst, int64_t n, CopyShape cs) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, so = 0, dof = 0;
    for (int d = cs.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % cs.shape[d];
      rem /= cs.shape[d];
      so += idx * cs.src_strides[d];
      dof += idx * cs.dst_strides[d];
    }
    dst[dof] = src[so];
  }
}

}  // namespace

void cast(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, void* stream) {
  ANVIL_CHECK_OP(n >= 0, "[cast] negative element count ", n);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(src_type, "cast", [&](auto src_tag) {
    using Src = decltype(src_tag);
    dispatch_float(dst_type, "cast", [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      ANVIL_LAUNCH((cast_kernel<Src, Dst>), grid_for(n, kThreads), kThreads, 0, s, static_cast<const Src*>(src),
                   static_cast<Dst*>(dst), n);
    });
  });
}

void strided_copy(int64_t elem_size, const void* src, const int64_t* src_strides, void* dst,
                  const int64_t* dst_strides, const int64_t* shape, int ndim, void* stream) {
  ANVIL_CHECK_OP(ndim >= 0 && ndim <= kMaxCopyDims, "[strided_copy] CUDA kernel supports up to ", kMaxCopyDims,
                 " dims, got ", ndim);
  CopyShape cs{};
  cs.ndim = ndim;
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    ANVIL_CHECK_OP(shape[d] >= 0, "[strided_copy] negative extent ", shape[d], " in dim ", d);
    cs.shape[d] = shape[d];
    cs.src_strides[d] = src_strides[d];
    cs.dst_strides[d] = dst_strides[d];
    n *= shape[d];
  }
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  const unsigned g = grid_for(n, kThreads);
  switch (elem_size) {
    case 1:
      ANVIL_LAUNCH(strided_copy_kernel<uint8_t>, g, kThreads, 0, s, static_cast<const uint8_t*>(src),
                   static_cast<uint8_t*>(dst), n, cs);
      return;
    case 2:
      ANVIL_LAUNCH(strided_copy_kernel<uint16_t>, g, kThreads, 0, s, static_cast<const uint16_t*>(src),
                   static_cast<uint16_t*>(dst), n, cs);
      return;
    case 4:
      ANVIL_LAUNCH(strided_copy_kernel<uint32_t>, g, kThreads, 0, s, static_cast<const uint32_t*>(src),
                   static_cast<uint32_t*>(dst), n, cs);
      return;
    case 8:
      ANVIL_LAUNCH(strided_copy_kernel<uint64_t>, g, kThreads, 0, s, static_cast<const uint64_t*>(src),
                   static_cast<uint64_t*>(dst), n, cs);
      return;
    default: break;
  }
  ANVIL_CHECK_OP(false, "[strided_copy] element size ", elem_size, " is not 1, 2, 4 or 8 bytes");
}

}  // namespace anvil::kernels::cuda
