// The CUDA emulator's own test (built only with -DANVIL_CUDA=EMULATE; labels emu, cpu): every kind
// of bug it promises to catch is planted in a kernel (planted_bugs.cu) and must be reported with the
// right words, and each planted kernel's fixed twin must run clean. Beyond faults: cp.async data lands
// only at its wait, the tensor-core primitives compute a product the CPU computes independently,
// and the scheduler's order changes with the seed.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/base/dtype.h"
#include "tests/emu/planted_bugs.h"

namespace anvil::emutest {
namespace {

::testing::AssertionResult reports(const std::string& name, const std::vector<std::string>& words) {
  const std::string error = run_case(name);
  if (error.empty()) return ::testing::AssertionFailure() << name << ": ran clean, the bug went unnoticed";
  for (const std::string& w : words)
    if (error.find(w) == std::string::npos)
      return ::testing::AssertionFailure() << name << ": error lacks \"" << w << "\": " << error;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult clean(const std::string& name) {
  const std::string error = run_case(name);
  if (error.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << name << ": " << error;
}

TEST(Emulator, GlobalAccessesAreCheckedAgainstTheirAllocation) {
  EXPECT_TRUE(reports("read past the end", {"cudaErrorIllegalAddress", "shift_read", "out of bounds", "read",
                                            "offset 256 of an allocation of 256 bytes", "thread (63, 0, 0)"}));
  EXPECT_TRUE(clean("read in bounds"));
  EXPECT_TRUE(reports("write past the end", {"cudaErrorIllegalAddress", "out of bounds", "write"}));
  EXPECT_TRUE(reports("host pointer", {"cudaErrorIllegalAddress", "no live device allocation"}));
  EXPECT_TRUE(reports("use after free", {"cudaErrorIllegalAddress", "no live device allocation"}));
}

TEST(Emulator, MisalignedAccessesFault) {
  EXPECT_TRUE(reports("misaligned float4", {"cudaErrorMisalignedAddress", "16-byte read", "not 16-byte aligned"}));
  EXPECT_TRUE(clean("aligned float4"));
  EXPECT_TRUE(reports("misaligned word", {"cudaErrorMisalignedAddress", "4-byte read"}));
  EXPECT_TRUE(reports("cp.async from a misaligned source", {"cudaErrorMisalignedAddress", "cp.async global source"}));
}

TEST(Emulator, SharedMemoryRacesAreFound) {
  EXPECT_TRUE(reports("missing __syncthreads", {"shared-memory race", "since the last barrier"}));
  EXPECT_TRUE(clean("with __syncthreads"));
  // Which of the two racing accesses comes second depends on the schedule; either is reported.
  EXPECT_TRUE(reports("write after an unordered read", {"shared-memory race", "since the last barrier"}));
  EXPECT_TRUE(clean("write after a barrier"));
  EXPECT_TRUE(reports("missing __syncwarp", {"shared-memory race"}));
  EXPECT_TRUE(clean("with __syncwarp"));
  EXPECT_TRUE(reports("unwritten shared", {"no thread of this block had written"}));
}

TEST(Emulator, LaunchLimitsAndDynamicSharedMemory) {
  EXPECT_TRUE(reports("dynamic shared above 48 KiB without the attribute",
                      {"cudaErrorInvalidValue", "65536 bytes of dynamic shared memory", "cudaFuncSetAttribute"}));
  EXPECT_TRUE(clean("dynamic shared above 48 KiB with the attribute"));
  EXPECT_TRUE(reports("dynamic shared past the launch's bytes",
                      {"cudaErrorIllegalAddress", "past the 256 bytes the launch requested"}));
  EXPECT_TRUE(reports("block of 2048 threads", {"cudaErrorInvalidConfiguration", "at most 1024 threads"}));
  EXPECT_TRUE(reports("grid y of 70000", {"cudaErrorInvalidConfiguration", "[1, 65535]"}));
}

TEST(Emulator, WarpCollectivesCheckTheirMembers) {
  EXPECT_TRUE(clean("warp sum"));
  EXPECT_TRUE(reports("shuffle with an exited lane", {"exited"}));
  EXPECT_TRUE(reports("shuffle from outside the mask", {"not in the member mask"}));
  EXPECT_TRUE(reports("barrier against a shuffle", {"deadlock", "__syncthreads"}));
  EXPECT_TRUE(reports("warp sum in a partial warp", {"do not exist"}));
}

TEST(Emulator, CpAsyncDataLandsAtTheWait) {
  const auto waited = async_copy_result(true);
  const auto early = async_copy_result(false);
  for (size_t i = 0; i < 128; ++i) {
    EXPECT_EQ(waited[i], float(i) + 0.5f) << i;
    EXPECT_EQ(early[i], -1.0f) << i << ": read before cp.async.wait_group saw the copy";
  }
}

TEST(Emulator, MmaAndLdmatrixComputeTheProduct) {
  std::vector<float> A(256), B(128);
  for (size_t i = 0; i < A.size(); ++i) A[i] = bf16_to_f32(f32_to_bf16(std::sin(0.37f * float(i))));
  for (size_t i = 0; i < B.size(); ++i) B[i] = bf16_to_f32(f32_to_bf16(std::cos(0.11f * float(i) + 0.5f)));
  std::vector<double> want(128);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      double s = 1.0;
      for (int k = 0; k < 16; ++k) s += double(A[size_t(r * 16 + k)]) * double(B[size_t(k * 8 + c)]);
      want[size_t(r * 8 + c)] = s;
    }
  for (bool ldmatrix : {false, true}) {
    const auto got = mma_result(ldmatrix, A, B);
    for (size_t i = 0; i < 128; ++i)
      EXPECT_NEAR(got[i], want[i], 1e-5 * (1.0 + std::fabs(want[i]))) << "element " << i << (ldmatrix ? " (ldmatrix)" : "");
  }
}

TEST(Emulator, TheScheduleDependsOnTheSeedOnly) {
  const auto a = arrival_order_for_seed(1), b = arrival_order_for_seed(1), c = arrival_order_for_seed(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 256; ++i) ASSERT_EQ(sorted[size_t(i)], i);
}

}  // namespace
}  // namespace anvil::emutest
