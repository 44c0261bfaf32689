// The MPI backend: OpenMPI's C API on host buffers. Compiled only when CMake found MPI.
//
// MPI is initialized on first use (MPI_THREAD_FUNNELED: only the thread that trains calls MPI;
// the loader's prefetch thread never does) and finalized when the process exits, unless someone
// else initialized it. Each communicator works on its own duplicate of MPI_COMM_WORLD, so
// collectives of two communicators (a test's and a trainer's) never match each other by mistake.
// Errors return (MPI_ERRORS_RETURN) and become anvil::RuntimeFailure naming the collective.
//
// Timeout: every collective is started non-blocking and polled; one that has not completed after
// timeout_s seconds (a rank stuck or gone without exiting) throws a RuntimeFailure. The runtime
// is then marked broken: nothing waits on MPI again and MPI_Finalize is skipped (it would wait for
// the stuck rank), so the process exits with its error and mpiexec ends the job. A rank that dies
// outright is noticed by mpiexec itself, which names it and ends the job.
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
    if (owner_ && !finalized && !broken) MPI_Finalize();
  }
  bool broken = false;  // a collective timed out: never wait on MPI again

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

bool mpi_broken() { return MpiRuntime::get().broken; }

// Polls `req` until it completes or `timeout_s` (0: forever) passes; sleeps a little between
// polls once the wait gets long, so waiting ranks leave the cores to the busy ones.
void wait_request(MPI_Request& req, const char* what, int rank, int64_t timeout_s) {
  ANVIL_CHECK_AS(RuntimeFailure, !mpi_broken(), "[mpi] ", what, " on rank ", rank,
                 ": an earlier collective timed out; the job cannot continue");
  const auto start = std::chrono::steady_clock::now();
  for (int64_t polls = 0;; ++polls) {
    int done = 0;
    check_mpi(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what, rank);
    if (done) return;
    if (polls > 1000) {
      std::this_thread::sleep_for(std::chrono::microseconds(polls > 20000 ? 1000 : 20));
      if (timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_s)) {
        MpiRuntime::get().broken = true;
        throw RuntimeFailure(detail::concat("[mpi] ", what, " on rank ", rank, " did not complete within ",
                                            timeout_s, " s (distributed.timeout_s): another rank is stuck or "
                                            "lost; ending this process so that mpiexec ends the job"));
      }
    }
  }
}

// MPI counts are int: large buffers go in chunks.
constexpr size_t kMaxChunk = size_t(INT_MAX) / 2;

class MpiWork final : public Work {
 public:
  MpiWork(MPI_Request req, int rank, int64_t timeout_s) : req_(req), rank_(rank), timeout_s_(timeout_s) {}
  ~MpiWork() override {
    if (req_ != MPI_REQUEST_NULL && !mpi_finalized() && !mpi_broken()) {
      try {
        wait_request(req_, "MPI_Iallreduce", rank_, timeout_s_);
      } catch (...) {
      }
    }
  }
  void wait() override { wait_request(req_, "MPI_Iallreduce", rank_, timeout_s_); }
  bool test() override {
    int done = 0;
    check_mpi(MPI_Test(&req_, &done, MPI_STATUS_IGNORE), "MPI_Test (all-reduce)", rank_);
    return done != 0;
  }

 private:
  MPI_Request req_;
  int rank_;
  int64_t timeout_s_;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(int64_t timeout_s) : timeout_s_(timeout_s) {
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
    if (!mpi_finalized() && !mpi_broken()) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "mpi"; }

  void all_reduce_sum(float* data, size_t count) override {
    for (size_t at = 0; at < count; at += kMaxChunk) {
      const int n = int(std::min(kMaxChunk, count - at));
      MPI_Request req = MPI_REQUEST_NULL;
      check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data + at, n, MPI_FLOAT, MPI_SUM, comm_, &req), "MPI_Iallreduce", rank_);
      wait_request(req, "MPI_Iallreduce", rank_, timeout_s_);
    }
  }
  void all_reduce_sum(double* data, size_t count) override {
    for (size_t at = 0; at < count; at += kMaxChunk) {
      const int n = int(std::min(kMaxChunk, count - at));
      MPI_Request req = MPI_REQUEST_NULL;
      check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data + at, n, MPI_DOUBLE, MPI_SUM, comm_, &req), "MPI_Iallreduce", rank_);
      wait_request(req, "MPI_Iallreduce", rank_, timeout_s_);
    }
  }
  std::unique_ptr<Work> all_reduce_sum_async(float* data, size_t count) override {
    ANVIL_CHECK_AS(RuntimeFailure, count <= kMaxChunk, "[mpi] asynchronous all-reduce of ", count,
                   " floats: buckets must stay below ", kMaxChunk, " elements");
    MPI_Request req = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, int(count), MPI_FLOAT, MPI_SUM, comm_, &req), "MPI_Iallreduce",
              rank_);
    return std::make_unique<MpiWork>(req, rank_, timeout_s_);
  }
  void reduce_scatter_sum(const float* send, float* recv, size_t recv_count) override {
    ANVIL_CHECK_AS(RuntimeFailure, recv_count <= kMaxChunk, "[mpi] reduce-scatter of ", recv_count,
                   " floats per rank is too large");
    MPI_Request req = MPI_REQUEST_NULL;
    check_mpi(MPI_Ireduce_scatter_block(send, recv, int(recv_count), MPI_FLOAT, MPI_SUM, comm_, &req),
              "MPI_Ireduce_scatter_block", rank_);
    wait_request(req, "MPI_Ireduce_scatter_block", rank_, timeout_s_);
  }
  void all_gather(const float* send, float* recv, size_t send_count) override {
    ANVIL_CHECK_AS(RuntimeFailure, send_count <= kMaxChunk, "[mpi] all-gather of ", send_count,
                   " floats per rank is too large");
    MPI_Request req = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallgather(send, int(send_count), MPI_FLOAT, recv, int(send_count), MPI_FLOAT, comm_, &req),
              "MPI_Iallgather", rank_);
    wait_request(req, "MPI_Iallgather", rank_, timeout_s_);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    ANVIL_CHECK_AS(RuntimeFailure, root >= 0 && root < size_, "[mpi] broadcast from rank ", root, " in a world of ",
                   size_);
    char* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += kMaxChunk) {
      const int n = int(std::min(kMaxChunk, bytes - at));
      MPI_Request req = MPI_REQUEST_NULL;
      check_mpi(MPI_Ibcast(p + at, n, MPI_BYTE, root, comm_, &req), "MPI_Ibcast", rank_);
      wait_request(req, "MPI_Ibcast", rank_, timeout_s_);
    }
  }
  // Polled like every collective: ranks waiting for rank 0 (writing a checkpoint, or in a test
  // running a reference alone) sleep between polls and leave the cores to it.
  void barrier() override {
    MPI_Request req = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibarrier(comm_, &req), "MPI_Ibarrier", rank_);
    wait_request(req, "MPI_Ibarrier", rank_, timeout_s_);
  }

 private:
  int64_t timeout_s_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(int64_t timeout_s) {
  return std::make_shared<MpiCommunicator>(timeout_s);
}

}  // namespace anvil::distributed

#endif  // ANVIL_HAVE_MPI
