// Communicators: collectives over the ranks of a data-parallel job.
//
// Backends:
//   none  one process (world size 1); every collective is the identity (or a copy).
//   mpi   OpenMPI's C API on host (CPU) buffers; built when CMake found MPI (ANVIL_HAVE_MPI).
//   nccl  CUDA device buffers; built when CMake found NCCL and CUDA (ANVIL_HAVE_NCCL), and in the
//         CUDA emulator build with MPI, whose NCCL is MPI between the ranks (kernels/emu/nccl.cpp):
//         CI runs it there; on real GPUs it has not run yet (docs/DISTRIBUTED.md).
// make_communicator() picks one from `distributed.backend` (auto | nccl | mpi | none) and the
// launch (distributed/launch.h).
//
// Every rank must call the same collectives in the same order with the same counts (as with MPI).
// Buffers are raw pointers: f32 for the numeric collectives, bytes for broadcast. Errors are
// anvil::RuntimeFailure naming the backend, the collective and the rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "distributed/launch.h"

namespace anvil::distributed {

// A collective in flight. wait() blocks until the buffer holds the result; test() only asks.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual int local_rank() const = 0;
  virtual std::string backend() const = 0;  // "none", "mpi", "nccl"

  // In place: data[i] = sum over ranks of data[i].
  virtual void all_reduce_sum(float* data, size_t count) = 0;
  virtual void all_reduce_sum(double* data, size_t count) = 0;
  // Started now, finished by the returned Work's wait(); the buffer must not be touched meanwhile.
  virtual std::unique_ptr<Work> all_reduce_sum_async(float* data, size_t count) = 0;
  // send holds world_size blocks of recv_count; rank r receives the sum over ranks of block r.
  virtual void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) = 0;
  // recv (world_size * send_count) receives every rank's send block in rank order.
  virtual void all_gather(const float* send, float* recv, size_t send_count) = 0;
  // Copies root's bytes into every other rank's buffer.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // The average: a sum, then each element scaled by 1/world_size (exact when the world size is a
  // power of two).
  void all_reduce_avg(float* data, size_t count);
  void broadcast(float* data, size_t count, int root) { broadcast(static_cast<void*>(data), count * sizeof(float), root); }
};

// The single-process communicator.
std::shared_ptr<Communicator> make_none_communicator();

// The communicator for `backend` given the launch:
//   none  world 1; a ConfigError when the launcher started more than one process (they would all
//         train alone and write the same output folder).
//   mpi   needs an MPI build and an MPI launch (mpirun) whose rank and size equal the launch's.
//   nccl  needs a CUDA + NCCL build and device cuda.
//   auto  none when the launch has one process; else nccl when device is cuda and NCCL is built,
//         else mpi when MPI is built; else a ConfigError saying what is missing.
// `device` is the run's device string ("cpu", "cuda:0"); `timeout_s` bounds every MPI collective's
// wait (a stuck or lost rank), and is not applied by NCCL yet.
std::shared_ptr<Communicator> make_communicator(const std::string& backend, const LaunchInfo& launch,
                                                const std::string& device, int64_t timeout_s);

// True when the backend was compiled into this build.
bool backend_available(const std::string& backend);

#ifdef ANVIL_HAVE_MPI
// The MPI communicator over a duplicate of MPI_COMM_WORLD (MPI is initialized on first use and
// finalized at process exit). A collective that has not completed after timeout_s seconds (0:
// wait forever) is a RuntimeFailure, after which MPI is not used again in this process. Tests use
// it directly.
std::shared_ptr<Communicator> make_mpi_communicator(int64_t timeout_s = 0);
#endif

}  // namespace anvil::distributed
