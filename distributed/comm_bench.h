// All-reduce bandwidth of a communicator over a range of message sizes (`anvil bench --comm`),
// reported the way nccl-tests does: algorithm bandwidth = bytes / time, bus bandwidth =
// algbw * 2(n-1)/n, the per-link rate a ring all-reduce needs, comparable across world sizes.
#pragma once

#include <cstdint>
#include <vector>

#include "distributed/communicator.h"

namespace anvil::distributed {

struct CommBenchOptions {
  int64_t min_bytes = int64_t(1) << 20;  // 1 MiB
  int64_t max_bytes = int64_t(1) << 30;  // 1 GiB; sizes double from min to max
  int iterations = 5;                    // timed all-reduces per size (after one untimed)
};

struct CommBenchRow {
  int64_t bytes = 0;
  double seconds = 0;  // median of the timed all-reduces, the slowest rank's (max over ranks)
  double algbw_gbps = 0;
  double busbw_gbps = 0;
};

// Collective: every rank calls it with the same options; every rank gets the same rows. The
// buffers are host (CPU) memory: the MPI backend's. A ConfigError for bad sizes.
std::vector<CommBenchRow> run_comm_bench(Communicator& comm, const CommBenchOptions& options);

}  // namespace anvil::distributed
