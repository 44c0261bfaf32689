// The MPI backend: OpenMPI's C API on host buffers. Compiled only when CMake found MPI.
//
// MPI is initialized on first use (MPI_THREAD_FUNNELED: only the thread that trains calls MPI;
// the loader's prefetch thread never does) and finalized when the process exits, unless someone
// else initialized it. Each communicator works on its own duplicate of MPI_COMM_WORLD, so
// collectives of two communicators (a test's and a trainer's) never match each other by mistake.
// Errors return (MPI_ERRORS_RETURN) and become anvil::RuntimeFailure naming the collective.
#ifdef ANVIL_HAVE_MPI

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>

#include "core/base/error.h"
#include "distributed/communicator.h"

namespace anvil::distributed {

namespace {

void check_mpi(int rc, const char* what, int rank) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw RuntimeFailure(detail::concat("[mpi] ", what, " failed on rank ", rank, ": ", std::string(msg, size_t(len))));
}

// Initializes MPI once; finalizes at static destruction if it was us who initialized it.
class MpiRuntime {
 public:
  static MpiRuntime& get() {
    static MpiRuntime runtime;
    return runtime;
  }
  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && !finalized) MPI_Finalize();
  }

 private:
  MpiRuntime() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread", -1);
      owner_ = true;
    }
  }
  bool owner_ = false;
};

bool mpi_finalized() {
  int f = 0;
  MPI_Finalized(&f);
  return f != 0;
}

// MPI counts are int: large buffers go in chunks.
constexpr size_t kMaxChunk = size_t(INT_MAX) / 2;

class MpiWork final : public Work {
 public:
  MpiWork(MPI_Request req, int rank) : req_(req), rank_(rank) {}
  ~MpiWork() override {
    if (req_ != MPI_REQUEST_NULL && !mpi_finalized()) MPI_Wait(&req_, MPI_STATUS_IGNORE);
  }
  void wait() override { check_mpi(MPI_Wait(&req_, MPI_STATUS_IGNORE), "MPI_Wait (all-reduce)", rank_); }
  bool test() override {
    int done = 0;
    check_mpi(MPI_Test(&req_, &done, MPI_STATUS_IGNORE), "MPI_Test (all-reduce)", rank_);
    return done != 0;
  }

 private:
  MPI_Request req_;
  int rank_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    MpiRuntime::get();
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup", -1);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm local;
    check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local), "MPI_Comm_split_type",
              rank_);
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_free(&local);
  }
  ~MpiCommunicator() override {
    if (!mpi_finalized()) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "mpi"; }

  void all_reduce_sum(float* data, size_t count) override {
    for (size_t at = 0; at < count; at += kMaxChunk) {
      const int n = int(std::min(kMaxChunk, count - at));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + at, n, MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce", rank_);
    }
  }
  void all_reduce_sum(double* data, size_t count) override {
    for (size_t at = 0; at < count; at += kMaxChunk) {
      const int n = int(std::min(kMaxChunk, count - at));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + at, n, MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce", rank_);
    }
  }
  std::unique_ptr<Work> all_reduce_sum_async(float* data, size_t count) override {
    ANVIL_CHECK_AS(RuntimeFailure, count <= kMaxChunk, "[mpi] asynchronous all-reduce of ", count,
                   " floats: buckets must stay below ", kMaxChunk, " elements");
    MPI_Request req = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, int(count), MPI_FLOAT, MPI_SUM, comm_, &req), "MPI_Iallreduce",
              rank_);
    return std::make_unique<MpiWork>(req, rank_);
  }
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override {
    ANVIL_CHECK_AS(RuntimeFailure, recv_count <= kMaxChunk, "[mpi] reduce-scatter of ", recv_count,
                   " floats per rank is too large");
    check_mpi(MPI_Reduce_scatter_block(send, recv, int(recv_count), MPI_FLOAT, MPI_SUM, comm_),
              "MPI_Reduce_scatter_block", rank_);
  }
  void all_gather(const float* send, float* recv, size_t send_count) override {
    ANVIL_CHECK_AS(RuntimeFailure, send_count <= kMaxChunk, "[mpi] all-gather of ", send_count,
                   " floats per rank is too large");
    check_mpi(MPI_Allgather(send, int(send_count), MPI_FLOAT, recv, int(send_count), MPI_FLOAT, comm_),
              "MPI_Allgather", rank_);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    ANVIL_CHECK_AS(RuntimeFailure, root >= 0 && root < size_, "[mpi] broadcast from rank ", root, " in a world of ",
                   size_);
    char* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += kMaxChunk) {
      const int n = int(std::min(kMaxChunk, bytes - at));
      check_mpi(MPI_Bcast(p + at, n, MPI_BYTE, root, comm_), "MPI_Bcast", rank_);
    }
  }
  // A polling barrier that sleeps between tests: ranks waiting for rank 0 (writing a checkpoint,
  // or in a test running a reference alone) then leave the cores to it instead of spinning.
  void barrier() override {
    MPI_Request req = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibarrier(comm_, &req), "MPI_Ibarrier", rank_);
    int done = 0;
    for (int spins = 0;; ++spins) {
      check_mpi(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test (barrier)", rank_);
      if (done) return;
      if (spins > 100) std::this_thread::sleep_for(std::chrono::microseconds(spins > 1000 ? 2000 : 50));
    }
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator() { return std::make_shared<MpiCommunicator>(); }

}  // namespace anvil::distributed

#endif  // ANVIL_HAVE_MPI
