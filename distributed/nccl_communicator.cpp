// The NCCL backend: collectives on CUDA device buffers. Compiled only when CMake found NCCL and the
// CUDA kernels are on (ANVIL_HAVE_NCCL).
//
// NOT RUN IN CI: CI has no GPU. This file is known to compile and link against the NCCL that CUDA
// 13 ships; no collective here has run. See docs/DISTRIBUTED.md.
//
// Setup: each rank selects its GPU (run.device "cuda" -> the launch's local rank; "cuda:N" -> N),
// rank 0 draws the NCCL unique id, which reaches the other ranks by an MPI broadcast (launches by
// mpirun or srun in an MPI build) or by the TCP rendezvous on MASTER_ADDR:MASTER_PORT
// (torchrun-style launches, or any launch in a build without MPI; distributed/rendezvous.h).
//
// Buffers: device (or managed) pointers are used in place; host pointers (the trainer's loss sums,
// config hash, flags) are staged through a temporary device buffer. Collectives are issued on the
// anvil stream of the device (kernels/cuda/stream.h), so they are ordered after the kernels that
// produced their inputs; the synchronous ones then wait for that stream. The asynchronous
// all-reduce runs on a separate communication stream that waits for the anvil stream first.
#ifdef ANVIL_HAVE_NCCL

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/base/error.h"
#include "core/tensor/runtime.h"
#include "distributed/communicator.h"
#include "distributed/rendezvous.h"

namespace anvil::distributed {

namespace {

void check_cuda(cudaError_t e, const char* what, int rank) {
  if (e != cudaSuccess)
    throw RuntimeFailure(detail::concat("[nccl] ", what, " failed on rank ", rank, ": ", cudaGetErrorString(e)));
}

void check_nccl(ncclResult_t r, const char* what, int rank) {
  if (r != ncclSuccess)
    throw RuntimeFailure(detail::concat("[nccl] ", what, " failed on rank ", rank, ": ", ncclGetErrorString(r)));
}

bool on_device(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error of a plain host pointer on old runtimes
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

class NcclWork final : public Work {
 public:
  NcclWork(cudaEvent_t done, int rank) : done_(done), rank_(rank) {}
  ~NcclWork() override {
    cudaEventSynchronize(done_);
    cudaEventDestroy(done_);
  }
  void wait() override { check_cuda(cudaEventSynchronize(done_), "cudaEventSynchronize (all-reduce)", rank_); }
  bool test() override {
    const cudaError_t e = cudaEventQuery(done_);
    if (e == cudaErrorNotReady) return false;
    check_cuda(e, "cudaEventQuery (all-reduce)", rank_);
    return true;
  }

 private:
  cudaEvent_t done_;
  int rank_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const LaunchInfo& launch, int device, int64_t timeout_s)
      : rank_(launch.rank), size_(launch.world_size), local_rank_(launch.local_rank), device_(device) {
    int count = 0;
    check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount", rank_);
    ANVIL_CHECK_AS(ConfigError, device_ >= 0 && device_ < count, "distributed.backend nccl: rank ", rank_,
                   " wants GPU ", device_, " but this node has ", count);
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", rank_);
    bool shared = size_ == 1;
#ifdef ANVIL_HAVE_MPI
    if (!shared && (launch.launcher == "openmpi" || launch.launcher == "slurm")) {
      auto mpi = make_mpi_communicator(timeout_s);
      ANVIL_CHECK_AS(ConfigError, mpi->rank() == rank_ && mpi->world_size() == size_, "distributed.backend nccl: MPI "
                     "says rank ", mpi->rank(), " of ", mpi->world_size(), " but the launch says ", rank_, " of ", size_);
      mpi->broadcast(&id, sizeof id, 0);
      shared = true;
    }
#endif
    if (!shared) {
      ANVIL_CHECK_AS(ConfigError, !launch.master_addr.empty() && launch.master_port > 0, "distributed.backend nccl: ",
                     size_, " ranks launched by ", launch.launcher, " need MASTER_ADDR and MASTER_PORT to share the "
                     "NCCL id (or an MPI build launched by mpirun or srun)");
      std::vector<uint8_t> bytes(sizeof id);
      std::memcpy(bytes.data(), &id, sizeof id);
      bytes = tcp_rendezvous(launch, bytes, timeout_s);
      ANVIL_CHECK_AS(RuntimeFailure, bytes.size() == sizeof id, "[nccl] the rendezvous gave ", bytes.size(),
                     " bytes for the NCCL id, expected ", sizeof id);
      std::memcpy(&id, bytes.data(), sizeof id);
    }
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank", rank_);
    stream_ = static_cast<cudaStream_t>(runtime::cuda_stream(Device::cuda(device_)));
    check_cuda(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking), "cudaStreamCreate", rank_);
  }
  ~NcclCommunicator() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(comm_stream_);
    ncclCommDestroy(comm_);
    cudaStreamDestroy(comm_stream_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "nccl"; }

  void all_reduce_sum(float* data, size_t count) override {
    staged(data, count * sizeof(float), true, [&](void* p) {
      check_nccl(ncclAllReduce(p, p, count, ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce", rank_);
    });
  }
  void all_reduce_sum(double* data, size_t count) override {
    staged(data, count * sizeof(double), true, [&](void* p) {
      check_nccl(ncclAllReduce(p, p, count, ncclFloat64, ncclSum, comm_, stream_), "ncclAllReduce", rank_);
    });
  }
  std::unique_ptr<Work> all_reduce_sum_async(float* data, size_t count) override {
    ANVIL_CHECK_AS(RuntimeFailure, on_device(data), "[nccl] asynchronous all-reduce needs a device buffer");
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
    cudaEvent_t ready, done;
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate", rank_);
    check_cuda(cudaEventRecord(ready, stream_), "cudaEventRecord", rank_);
    check_cuda(cudaStreamWaitEvent(comm_stream_, ready, 0), "cudaStreamWaitEvent", rank_);
    cudaEventDestroy(ready);
    check_nccl(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comm_, comm_stream_), "ncclAllReduce", rank_);
    check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate", rank_);
    check_cuda(cudaEventRecord(done, comm_stream_), "cudaEventRecord", rank_);
    // Later kernels on the anvil stream see the reduced buffer.
    check_cuda(cudaStreamWaitEvent(stream_, done, 0), "cudaStreamWaitEvent", rank_);
    return std::make_unique<NcclWork>(done, rank_);
  }
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override {
    ANVIL_CHECK_AS(RuntimeFailure, on_device(send) && on_device(recv), "[nccl] reduce-scatter needs device buffers");
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
    check_nccl(ncclReduceScatter(send, recv, recv_count, ncclFloat32, ncclSum, comm_, stream_), "ncclReduceScatter",
               rank_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", rank_);
  }
  void all_gather(const float* send, float* recv, size_t send_count) override {
    ANVIL_CHECK_AS(RuntimeFailure, on_device(send) && on_device(recv), "[nccl] all-gather needs device buffers");
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
    check_nccl(ncclAllGather(send, recv, send_count, ncclFloat32, comm_, stream_), "ncclAllGather", rank_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", rank_);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    ANVIL_CHECK_AS(RuntimeFailure, root >= 0 && root < size_, "[nccl] broadcast from rank ", root, " in a world of ",
                   size_);
    staged(data, bytes, true, [&](void* p) {
      check_nccl(ncclBroadcast(p, p, bytes, ncclChar, root, comm_, stream_), "ncclBroadcast", rank_);
    });
  }
  void barrier() override {
    float one = 1.0f;
    all_reduce_sum(&one, 1);
  }

 private:
  // Runs op on a device pointer holding `bytes` of data: data itself when it is device memory, else
  // a temporary device copy (copied back when copy_back). Waits for the stream before returning.
  template <typename Op>
  void staged(void* data, size_t bytes, bool copy_back, Op op) {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
    if (on_device(data)) {
      op(data);
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", rank_);
      return;
    }
    void* tmp = nullptr;
    check_cuda(cudaMalloc(&tmp, std::max<size_t>(bytes, 1)), "cudaMalloc (staging)", rank_);
    try {
      check_cuda(cudaMemcpyAsync(tmp, data, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpy", rank_);
      op(tmp);
      if (copy_back)
        check_cuda(cudaMemcpyAsync(data, tmp, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy", rank_);
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", rank_);
    } catch (...) {
      cudaFree(tmp);
      throw;
    }
    cudaFree(tmp);
  }

  int rank_, size_, local_rank_, device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr, comm_stream_ = nullptr;
};

}  // namespace

std::shared_ptr<Communicator> make_nccl_communicator(const LaunchInfo& launch, const std::string& device,
                                                     int64_t timeout_s) {
  // timeout_s bounds the id exchange; ncclCommInitRank itself blocks (a bounded init is not written).
  int index = launch.local_rank;  // "cuda": one GPU per rank of the node
  const size_t colon = device.find(':');
  if (colon != std::string::npos) index = std::stoi(device.substr(colon + 1));
  return std::make_shared<NcclCommunicator>(launch, index, timeout_s);
}

}  // namespace anvil::distributed

#endif  // ANVIL_HAVE_NCCL
