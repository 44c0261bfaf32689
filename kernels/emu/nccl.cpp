// NCCL on the CPU emulator: each call is the MPI collective it stands for, on the communicator of
// the mpirun job (MPI_COMM_WORLD, duplicated per NCCL communicator; MPI is initialized by the MPI
// communicator that exchanged the NCCL id). Buffers must be emulated device memory (checked), as a
// real NCCL call needs. Reductions other than sum, and the 16-bit types, are not emulated: the
// project uses neither.
#include <mpi.h>
#include <nccl.h>

#include <cstring>
#include <random>
#include <string>

namespace {

constexpr char kIdMagic[] = "anvil-emulated-nccl";

ncclResult_t g_last = ncclSuccess;
std::string g_last_text;

ncclResult_t fail(ncclResult_t r, const std::string& text) {
  g_last = r;
  g_last_text = text;
  return r;
}

bool mpi_type(ncclDataType_t t, MPI_Datatype* out, size_t* size) {
  switch (t) {
    case ncclInt8: *out = MPI_INT8_T; *size = 1; return true;
    case ncclUint8: *out = MPI_UINT8_T; *size = 1; return true;
    case ncclInt32: *out = MPI_INT32_T; *size = 4; return true;
    case ncclUint32: *out = MPI_UINT32_T; *size = 4; return true;
    case ncclInt64: *out = MPI_INT64_T; *size = 8; return true;
    case ncclUint64: *out = MPI_UINT64_T; *size = 8; return true;
    case ncclFloat32: *out = MPI_FLOAT; *size = 4; return true;
    case ncclFloat64: *out = MPI_DOUBLE; *size = 8; return true;
    default: return false;
  }
}

// The buffer lies in one emulated device allocation (NCCL reads and writes device memory only).
bool on_device(const void* p, size_t bytes) {
  if (bytes == 0) return true;
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess || a.type != cudaMemoryTypeDevice) return false;
  cudaPointerAttributes end{};
  return cudaPointerGetAttributes(&end, static_cast<const char*>(p) + bytes - 1) == cudaSuccess &&
         end.type == cudaMemoryTypeDevice;
}

ncclResult_t check_buffers(const char* call, const void* send, size_t send_bytes, const void* recv, size_t recv_bytes) {
  // The stream's earlier work (and any fault it left) comes first, as on a GPU.
  if (cudaStreamSynchronize(nullptr) != cudaSuccess)
    return fail(ncclUnhandledCudaError, std::string(call) + ": a CUDA error is pending (an earlier kernel faulted)");
  if (!on_device(send, send_bytes) || !on_device(recv, recv_bytes))
    return fail(ncclInvalidArgument, std::string(call) + ": a buffer is not (all) device memory");
  return ncclSuccess;
}

}  // namespace

struct ncclComm {
  MPI_Comm mpi = MPI_COMM_NULL;
  int rank = 0, size = 1;
};

namespace {

// The MPI type of a sum over `type` (the only reduction the project makes).
ncclResult_t sum_type(const char* call, ncclDataType_t type, ncclRedOp_t op, MPI_Datatype* t, size_t* size) {
  if (!mpi_type(type, t, size) || op != ncclSum)
    return fail(ncclInvalidArgument, std::string(call) + ": only sums of 8-64 bit types are emulated");
  return ncclSuccess;
}

// One rank or nothing to move: the collective is a copy (done here); returns whether it was.
bool local_only(const ncclComm* comm, size_t count, const void* send, void* recv, size_t bytes) {
  if (comm->size > 1 && count > 0) return false;
  if (send != recv) std::memmove(recv, send, bytes);
  return true;
}

}  // namespace

const char* ncclGetErrorString(ncclResult_t result) {
  thread_local std::string text;
  const char* generic = result == ncclSuccess ? "no error"
                        : result == ncclInvalidArgument ? "invalid argument"
                        : result == ncclInvalidUsage ? "invalid usage"
                        : result == ncclUnhandledCudaError ? "unhandled cuda error"
                        : result == ncclSystemError ? "unhandled system error"
                                                    : "internal error";
  text = std::string(generic) + (result == g_last && !g_last_text.empty() ? " [emulated NCCL: " + g_last_text + "]" : "");
  return text.c_str();
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  std::memset(id, 0, sizeof *id);
  std::memcpy(id->internal, kIdMagic, sizeof kIdMagic);
  std::random_device rd;
  for (size_t i = sizeof kIdMagic; i < sizeof id->internal; ++i) id->internal[i] = char(rd());
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  *comm = nullptr;
  if (std::memcmp(id.internal, kIdMagic, sizeof kIdMagic) != 0)
    return fail(ncclInvalidArgument, "ncclCommInitRank: the id did not come from ncclGetUniqueId of rank 0");
  auto* c = new ncclComm;
  c->rank = rank;
  c->size = nranks;
  if (nranks > 1) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int world = 0, me = 0;
    if (initialized) {
      MPI_Comm_size(MPI_COMM_WORLD, &world);
      MPI_Comm_rank(MPI_COMM_WORLD, &me);
    }
    if (!initialized || world != nranks || me != rank) {
      delete c;
      return fail(ncclInvalidUsage, "ncclCommInitRank: the emulated NCCL runs " + std::to_string(nranks) +
                                        " ranks only as the processes of an mpirun job of that size (MPI " +
                                        (initialized ? "rank " + std::to_string(me) + " of " + std::to_string(world)
                                                     : std::string("not initialized")) +
                                        ")");
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi);
    // Every rank must hold rank 0's id, as NCCL's bootstrap requires.
    ncclUniqueId root = id;
    MPI_Bcast(root.internal, NCCL_UNIQUE_ID_BYTES, MPI_CHAR, 0, c->mpi);
    int same = std::memcmp(root.internal, id.internal, NCCL_UNIQUE_ID_BYTES) == 0, all_same = 0;
    MPI_Allreduce(&same, &all_same, 1, MPI_INT, MPI_MIN, c->mpi);
    if (!all_same) {
      MPI_Comm_free(&c->mpi);
      delete c;
      return fail(ncclInvalidUsage, "ncclCommInitRank: ranks hold different NCCL ids");
    }
  }
  *comm = c;
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm->mpi != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t) {
  MPI_Datatype t;
  size_t size = 0;
  if (ncclResult_t r = sum_type("ncclAllReduce", type, op, &t, &size)) return r;
  if (ncclResult_t r = check_buffers("ncclAllReduce", send, count * size, recv, count * size)) return r;
  if (local_only(comm, count, send, recv, count * size)) return ncclSuccess;
  MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, int(count), t, MPI_SUM, comm->mpi);
  return ncclSuccess;
}

ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t recv_count, ncclDataType_t type, ncclRedOp_t op,
                               ncclComm_t comm, cudaStream_t) {
  MPI_Datatype t;
  size_t size = 0;
  if (ncclResult_t r = sum_type("ncclReduceScatter", type, op, &t, &size)) return r;
  if (ncclResult_t r = check_buffers("ncclReduceScatter", send, recv_count * size * size_t(comm->size), recv,
                                     recv_count * size))
    return r;
  if (local_only(comm, recv_count, send, recv, recv_count * size)) return ncclSuccess;
  MPI_Reduce_scatter_block(send, recv, int(recv_count), t, MPI_SUM, comm->mpi);
  return ncclSuccess;
}

ncclResult_t ncclAllGather(const void* send, void* recv, size_t send_count, ncclDataType_t type, ncclComm_t comm,
                           cudaStream_t) {
  MPI_Datatype t;
  size_t size = 0;
  if (!mpi_type(type, &t, &size)) return fail(ncclInvalidArgument, "ncclAllGather: type not emulated");
  if (ncclResult_t r = check_buffers("ncclAllGather", send, send_count * size, recv,
                                     send_count * size * size_t(comm->size)))
    return r;
  if (local_only(comm, send_count, send, recv, send_count * size)) return ncclSuccess;
  MPI_Allgather(send, int(send_count), t, recv, int(send_count), t, comm->mpi);
  return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root, ncclComm_t comm,
                           cudaStream_t) {
  MPI_Datatype t;
  size_t size = 0;
  if (!mpi_type(type, &t, &size)) return fail(ncclInvalidArgument, "ncclBroadcast: type not emulated");
  if (root < 0 || root >= comm->size) return fail(ncclInvalidArgument, "ncclBroadcast: root out of range");
  if (ncclResult_t r = check_buffers("ncclBroadcast", comm->rank == root ? send : recv, count * size, recv, count * size))
    return r;
  if (comm->rank == root && send != recv) std::memmove(recv, send, count * size);
  if (comm->size > 1 && count > 0) MPI_Bcast(recv, int(count), t, root, comm->mpi);
  return ncclSuccess;
}
