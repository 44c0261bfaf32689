// CUDA embedding: the forward gathers exactly; the backward equals a double-precision scatter-add
// with repeated ids across several vocab buckets and column chunks, accumulates (+=), and is
// bitwise reproducible run to run.
#include <cmath>

#include "kernels/cuda/embedding.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;

std::vector<int64_t> random_ids(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = int64_t(Philox4x32::word(seed, i) % uint64_t(vocab));
  for (int64_t i = 0; i < n; i += 7) ids[i] = 5;  // a heavily repeated id
  return ids;
}

TEST(EmbeddingGpu, ForwardGathersRows) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t vocab = 613, dim = 301, n = 333;
  for (DType t : {DType::F32, DType::BF16}) {
    auto table = round_to(random_normal(vocab * dim, 1), t);
    auto ids = random_ids(n, vocab, 2);
    DeviceTensor dtable(table, t), out(n * dim, t);
    auto dids = gputest::to_device(ids);
    cuda::embedding_forward(t, dtable.data(), dids.as<int64_t>(), out.data(), n, vocab, dim, nullptr);
    const auto got = out.read();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < dim; ++c) ASSERT_EQ(got[i * dim + c], table[ids[i] * dim + c]) << i << "," << c;
  }
}

TEST(EmbeddingGpu, BackwardScatterAddsDeterministically) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t vocab = 700, dim = 300, n = 1001;  // 3 vocab buckets, 2 column chunks, 4 id chunks
  for (DType t : {DType::F32, DType::BF16}) {
    auto dout = round_to(random_normal(n * dim, 11), t);
    auto ids = random_ids(n, vocab, 12);
    auto prior = random_normal(vocab * dim, 13);
    std::vector<double> want(prior.begin(), prior.end());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < dim; ++c) want[ids[i] * dim + c] += dout[i * dim + c];
    DeviceTensor ddout(dout, t), g1(prior, DType::F32), g2(prior, DType::F32);
    auto dids = gputest::to_device(ids);
    cuda::embedding_backward(t, ddout.data(), dids.as<int64_t>(), g1.buf.as<float>(), n, vocab, dim, nullptr);
    cuda::embedding_backward(t, ddout.data(), dids.as<int64_t>(), g2.buf.as<float>(), n, vocab, dim, nullptr);
    const auto a = g1.read(), b = g2.read();
    EXPECT_TRUE(all_close(a, want, {1e-5, 1e-5}, "embedding backward"));
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(f32_bits(a[i]), f32_bits(b[i])) << "run-to-run difference at " << i;
  }
}

}  // namespace
}  // namespace anvil
