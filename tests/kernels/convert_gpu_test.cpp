// CUDA casts and strided copies: casts round like the CPU (kernels/cpu/convert.h), strided copies
// gather and scatter 1/2/4/8-byte elements exactly. Skips without a GPU (label gpu).
#include <cstring>

#include "kernels/cpu/convert.h"
#include "kernels/cuda/convert.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
namespace cpu = kernels::cpu;
using gputest::DeviceTensor;
using gputest::random_normal;

TEST(ConvertGpu, StridedCopyGathersAndScattersAnyElementSize) {
  ANVIL_SKIP_WITHOUT_GPU();
  // A (3, 5, 7) source read as its (7, 3, 5) permutation into a contiguous destination, then
  // scattered back through the same strides into a zeroed buffer: the round trip is the identity.
  const int64_t shape[3] = {7, 3, 5};
  const int64_t src_strides[3] = {1, 35, 7};  // permute(2, 0, 1) of a contiguous (3, 5, 7)
  const int64_t dst_strides[3] = {15, 5, 1};
  const int64_t n = 105;
  for (int64_t esz : {1, 2, 4, 8}) {
    SCOPED_TRACE(esz);
    std::vector<uint8_t> src(size_t(n * esz));
    for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t((i * 37 + 11) & 0xff);
    std::vector<uint8_t> want(src.size());
    for (int64_t a = 0; a < 7; ++a)
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t c = 0; c < 5; ++c) {
          const int64_t so = a * src_strides[0] + b * src_strides[1] + c * src_strides[2];
          const int64_t d = a * dst_strides[0] + b * dst_strides[1] + c * dst_strides[2];
          std::memcpy(&want[size_t(d * esz)], &src[size_t(so * esz)], size_t(esz));
        }
    auto dsrc = gputest::to_device(src);
    gputest::DeviceBuffer ddst(src.size()), dback(src.size());
    cuda::strided_copy(esz, dsrc.get(), src_strides, ddst.get(), dst_strides, shape, 3, nullptr);
    EXPECT_EQ(gputest::to_host<uint8_t>(ddst, src.size()), want);
    kernels::cuda_memset_zero(dback.get(), src.size(), 0);
    cuda::strided_copy(esz, ddst.get(), dst_strides, dback.get(), src_strides, shape, 3, nullptr);
    EXPECT_EQ(gputest::to_host<uint8_t>(dback, src.size()), src);
  }
}

TEST(ConvertGpu, CastsRoundLikeTheCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t n = 3001;
  auto x = random_normal(n, 51, 100.0f);
  x[0] = 1e-7f;   // f16 subnormal
  x[1] = 7e4f;    // f16 overflow
  for (DType t : {DType::BF16, DType::F16}) {
    std::vector<uint16_t> want(n);
    cpu::convert(x.data(), DType::F32, want.data(), t, n);
    DeviceTensor src(x, DType::F32);
    gputest::DeviceBuffer dst(n * 2);
    cuda::cast(src.data(), DType::F32, dst.get(), t, n, nullptr);
    auto got = gputest::to_host<uint16_t>(dst, n);
    EXPECT_EQ(got, want) << "f32 -> " << dtype_name(t) << " must round bit-identically to the CPU";
    // back to f32 is exact
    DeviceTensor back(n, DType::F32);
    cuda::cast(dst.get(), t, back.data(), DType::F32, n, nullptr);
    std::vector<float> want_back(n);
    cpu::convert(want.data(), t, want_back.data(), DType::F32, n);
    auto got_back = back.read();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(f32_bits(got_back[i]), f32_bits(want_back[i])) << "element " << i;
  }
}

}  // namespace
}  // namespace anvil
