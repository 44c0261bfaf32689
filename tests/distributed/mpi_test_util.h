// Helpers for tests that run under mpiexec (files named *_mpi_test.cpp; see tests/CMakeLists.txt).
//
// Every rank runs every test. MpiTest's TearDown shares each rank's verdict, so a failure on any
// rank fails the test on all ranks (and mpiexec's exit code is non-zero). Tests should use EXPECT_*
// (or ASSERT_* only where every rank takes the same branch) so that all ranks reach TearDown.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "distributed/communicator.h"

namespace anvil::test {

class MpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm = distributed::make_mpi_communicator();
    rank = comm->rank();
    world = comm->world_size();
  }
  void TearDown() override {
    comm->barrier();  // sleeps while another rank finishes (e.g. rank 0 running a reference alone)
    double failed = HasFailure() ? 1.0 : 0.0;
    comm->all_reduce_sum(&failed, 1);
    EXPECT_EQ(failed, 0.0) << "the test failed on " << failed << " of " << world << " ranks";
  }

  // A fresh folder every rank sees: rank 0 empties it, the others wait. Separate per world size
  // so that the 2-rank and 4-rank runs of one test never share it.
  std::filesystem::path shared_scratch() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    auto dir = std::filesystem::current_path() / "scratch" / ("mpi_np" + std::to_string(world)) / name;
    if (rank == 0) {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
    }
    comm->barrier();
    return dir;
  }

  std::shared_ptr<distributed::Communicator> comm;
  int rank = 0, world = 1;
};

}  // namespace anvil::test
