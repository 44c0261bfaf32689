// CUDA softmax forward and backward (kernels/cuda/softmax.h) against double-precision formulas.
#include <cmath>

#include "kernels/cuda/softmax.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;
using gputest::softmax_row;

TEST(SoftmaxGpu, SoftmaxForwardBackward) {
  ANVIL_SKIP_WITHOUT_GPU();
  for (DType t : {DType::F32, DType::BF16}) {
    for (int64_t cols : {1, 37, 1500}) {
      const int64_t rows = 6;
      auto x = round_to(random_normal(rows * cols, 10 + cols, 3.0f), t);
      auto dy = round_to(random_normal(rows * cols, 20 + cols), t);
      std::vector<double> y(rows * cols), dx(rows * cols);
      std::vector<float> y_stored(rows * cols);
      for (int64_t r = 0; r < rows; ++r) {
        auto yr = softmax_row(&x[r * cols], cols);
        for (int64_t c = 0; c < cols; ++c) {
          y[r * cols + c] = yr[c];
          y_stored[r * cols + c] = round_to(float(yr[c]), t);
        }
      }
      // The backward reads the stored y, so the reference uses that too.
      for (int64_t r = 0; r < rows; ++r) {
        double dot = 0;
        for (int64_t c = 0; c < cols; ++c) dot += double(y_stored[r * cols + c]) * dy[r * cols + c];
        for (int64_t c = 0; c < cols; ++c) dx[r * cols + c] = y_stored[r * cols + c] * (dy[r * cols + c] - dot);
      }
      DeviceTensor dxin(x, t), dout(rows * cols, t), ddy(dy, t), dgrad(rows * cols, t);
      const auto tol = t == DType::F32 ? gputest::Tolerance{1e-5, 1e-6} : gputest::tolerance_for(t);
      cuda::softmax_forward(t, dxin.data(), dout.data(), rows, cols, nullptr);
      EXPECT_TRUE(all_close(dout.read(), y, tol, "softmax cols=" + std::to_string(cols)));
      cuda::softmax_backward(t, dout.data(), ddy.data(), dgrad.data(), rows, cols, nullptr);
      EXPECT_TRUE(all_close(dgrad.read(), dx, tol, "softmax_backward cols=" + std::to_string(cols)));
    }
  }
}

}  // namespace
}  // namespace anvil
