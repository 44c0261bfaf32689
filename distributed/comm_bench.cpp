#include "distributed/comm_bench.h"

#include <algorithm>
#include <chrono>

#include "core/base/error.h"

namespace anvil::distributed {

std::vector<CommBenchRow> run_comm_bench(Communicator& comm, const CommBenchOptions& o) {
  ANVIL_CHECK_AS(ConfigError, o.min_bytes >= 4 && o.min_bytes <= o.max_bytes,
                 "bench --comm: sizes must satisfy 4 <= min <= max bytes, got ", o.min_bytes, " and ", o.max_bytes);
  ANVIL_CHECK_AS(ConfigError, o.iterations >= 1, "bench --comm: iterations must be >= 1, got ", o.iterations);
  const int n = comm.world_size();
  std::vector<float> buffer(size_t(o.max_bytes / 4));
  std::vector<CommBenchRow> rows;
  for (int64_t bytes = o.min_bytes; bytes <= o.max_bytes; bytes *= 2) {
    const size_t count = size_t(bytes / 4);
    std::fill(buffer.begin(), buffer.begin() + ptrdiff_t(count), 1.0f);
    comm.all_reduce_sum(buffer.data(), count);  // untimed: connections, page faults
    std::vector<double> times;
    for (int i = 0; i < o.iterations; ++i) {
      comm.barrier();
      const auto start = std::chrono::steady_clock::now();
      comm.all_reduce_sum(buffer.data(), count);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    // Every element started at 1 and was summed over n ranks 1 + iterations times: exact in f32
    // for the small powers of n here, so a wrong or partial reduction shows.
    double expected = 1;
    for (int i = 0; i <= o.iterations; ++i) expected *= n;
    ANVIL_CHECK_AS(RuntimeFailure, buffer[0] == float(expected) && buffer[count - 1] == float(expected),
                   "bench --comm: the all-reduce of ", bytes, " bytes gave ", buffer[0], " and ", buffer[count - 1],
                   ", expected ", expected);
    std::sort(times.begin(), times.end());
    double t = times[times.size() / 2];
    // The slowest rank's median decides (the collective ends for everyone when the last is done).
    std::vector<float> all(static_cast<size_t>(n));
    const float mine = float(t);
    comm.all_gather(&mine, all.data(), 1);
    t = double(*std::max_element(all.begin(), all.end()));
    CommBenchRow row;
    row.bytes = int64_t(count) * 4;
    row.seconds = t;
    row.algbw_gbps = double(row.bytes) / t / 1e9;
    row.busbw_gbps = row.algbw_gbps * 2.0 * double(n - 1) / double(n);
    rows.push_back(row);
    if (bytes > o.max_bytes / 2) break;  // avoid overflow when max is near the int64 limit
  }
  return rows;
}

}  // namespace anvil::distributed
