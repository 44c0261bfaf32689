#include "distributed/communicator.h"

#include <cstring>

#include "core/base/error.h"

namespace anvil::distributed {

void Communicator::all_reduce_avg(float* data, size_t count) {
  all_reduce_sum(data, count);
  const int w = world_size();
  if (w == 1) return;
  const float scale = 1.0f / float(w);
  for (size_t i = 0; i < count; ++i) data[i] *= scale;
}

namespace {

class DoneWork final : public Work {
 public:
  void wait() override {}
  bool test() override { return true; }
};

class NoneCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "none"; }
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  std::unique_ptr<Work> all_reduce_sum_async(float*, size_t) override { return std::make_unique<DoneWork>(); }
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override {
    if (send != recv && recv_count) std::memmove(recv, send, recv_count * sizeof(float));
  }
  void all_gather(const float* send, float* recv, size_t send_count) override {
    if (send != recv && send_count) std::memmove(recv, send, send_count * sizeof(float));
  }
  void broadcast(void*, size_t, int root) override {
    ANVIL_CHECK_AS(RuntimeFailure, root == 0, "[none] broadcast from rank ", root, " in a world of 1");
  }
  void barrier() override {}
};

}  // namespace

std::shared_ptr<Communicator> make_none_communicator() { return std::make_shared<NoneCommunicator>(); }

#ifdef ANVIL_HAVE_NCCL
std::shared_ptr<Communicator> make_nccl_communicator(const LaunchInfo& launch, const std::string& device,
                                                     int64_t timeout_s);
#endif

bool backend_available(const std::string& backend) {
  if (backend == "none") return true;
#ifdef ANVIL_HAVE_MPI
  if (backend == "mpi") return true;
#endif
#ifdef ANVIL_HAVE_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

std::shared_ptr<Communicator> make_communicator(const std::string& backend_in, const LaunchInfo& launch,
                                                const std::string& device, int64_t timeout_s) {
  (void)timeout_s;  // used by the mpi and nccl backends, when built
  const bool on_cuda = device.rfind("cuda", 0) == 0;
  std::string backend = backend_in;
  if (backend == "auto") {
    if (launch.world_size == 1) backend = "none";
    else if (on_cuda && backend_available("nccl")) backend = "nccl";
    else if (backend_available("mpi")) backend = "mpi";
    else
      throw ConfigError(detail::concat("distributed.backend: auto found ", launch.world_size, " ranks (", launch.launcher,
                                       ") but this build has no communicator for device ", device,
                                       " (MPI was not found at build time", on_cuda ? ", nor NCCL" : "",
                                       "); install libopenmpi-dev and rebuild"));
  }
  if (backend == "none") {
    ANVIL_CHECK_AS(ConfigError, launch.world_size == 1, "distributed.backend: none, but the launcher (",
                   launch.launcher, ") started ", launch.world_size,
                   " processes; they would each train alone into the same output folder. Use backend auto or mpi, "
                   "or start one process");
    return make_none_communicator();
  }
  if (backend == "mpi") {
#ifdef ANVIL_HAVE_MPI
    ANVIL_CHECK_AS(ConfigError, launch.launcher == "openmpi" || launch.launcher == "slurm" || launch.world_size == 1,
                   "distributed.backend: mpi needs processes started by mpirun or srun, but the launch is ",
                   launch.launcher, " with ", launch.world_size, " ranks");
    auto comm = make_mpi_communicator(timeout_s);
    ANVIL_CHECK_AS(ConfigError, comm->world_size() == launch.world_size && comm->rank() == launch.rank,
                   "distributed.backend: mpi: MPI says rank ", comm->rank(), " of ", comm->world_size(),
                   " but the launch environment (", launch.launcher, ") says rank ", launch.rank, " of ",
                   launch.world_size, "; was the program started by a different launcher?");
    return comm;
#else
    throw ConfigError("distributed.backend: mpi, but this build has no MPI (CMake did not find it); install "
                      "libopenmpi-dev and rebuild");
#endif
  }
  if (backend == "nccl") {
    ANVIL_CHECK_AS(ConfigError, on_cuda, "distributed.backend: nccl needs run.device cuda, but it is ", device);
#ifdef ANVIL_HAVE_NCCL
    return make_nccl_communicator(launch, device, timeout_s);
#else
    throw ConfigError("distributed.backend: nccl, but this build has no NCCL (CMake did not find it, or CUDA is off)");
#endif
  }
  throw ConfigError("distributed.backend: expected auto, nccl, mpi or none, got " + backend);
}

}  // namespace anvil::distributed
