#include "distributed/ddp.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/ops/ops.h"

namespace anvil::distributed {

struct GradSync::State {
  struct Bucket {
    std::vector<size_t> params;   // indices into State::params
    std::vector<size_t> offsets;  // element offset of each param in `buffer`
    size_t size = 0;              // elements
    Tensor buffer;                // f32 on the parameters' device (NCCL reduces device memory)
    size_t ready = 0;             // params whose gradient arrived in this sync
    bool started = false;
    std::unique_ptr<Work> work;
  };

  std::shared_ptr<Communicator> comm;
  std::vector<Tensor> params;
  std::vector<size_t> bucket_of;  // param index -> bucket index
  std::vector<char> arrived;      // param index -> gradient arrived in this sync
  std::vector<Bucket> buckets;
  size_t next_to_start = 0;       // buckets start in index order
  bool syncing = false;
  int64_t started_in_backward = 0;

  void on_grad(size_t index) {
    if (!syncing || arrived[index]) return;
    arrived[index] = 1;
    Bucket& b = buckets[bucket_of[index]];
    ++b.ready;
    start_ready(/*in_backward=*/true);
  }

  // Starts every bucket, in order, whose parameters have all arrived; then lets MPI progress.
  void start_ready(bool in_backward) {
    while (next_to_start < buckets.size() && buckets[next_to_start].ready == buckets[next_to_start].params.size()) {
      start(buckets[next_to_start]);
      if (in_backward) ++started_in_backward;
      ++next_to_start;
    }
    for (size_t i = 0; i < next_to_start; ++i)
      if (buckets[i].work) buckets[i].work->test();
  }

  void start(Bucket& b) {
    for (size_t k = 0; k < b.params.size(); ++k) {
      const Tensor& p = params[b.params[k]];
      const int64_t n = p.numel(), off = int64_t(b.offsets[k]);
      Tensor dst = b.buffer.slice(0, off, off + n);
      Tensor g = p.grad();
      if (!g.defined()) {
        ops::fill_(dst, 0.0f);
        continue;
      }
      ANVIL_CHECK_AS(RuntimeFailure, g.dtype() == DType::F32 && g.device() == p.device(), "[ddp] gradient of ",
                     p.name(), " is ", g.str(), "; data parallelism averages f32 gradients on the parameter's device");
      ops::copy_(dst, g.contiguous().view({-1}));
    }
    b.work = comm->all_reduce_sum_async(b.buffer.data<float>(), b.size);
    b.started = true;
  }
};

GradSync::GradSync(std::shared_ptr<Communicator> comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  ANVIL_CHECK_AS(ConfigError, bucket_bytes > 0, "distributed.bucket_mb must be positive");
  State& s = *state_;
  s.comm = std::move(comm);
  s.params = std::move(params);
  s.bucket_of.assign(s.params.size(), 0);
  s.arrived.assign(s.params.size(), 0);
  for (const Tensor& p : s.params)
    ANVIL_CHECK_AS(RuntimeFailure,
                   p.dtype() == DType::F32 && p.is_contiguous() && p.device() == s.params.front().device(),
                   "[ddp] parameter ", p.name(), " is ", p.str(),
                   "; data parallelism needs contiguous f32 parameters, all on one device");

  // Reverse registration order: the head and last blocks first, as backward produces them.
  int64_t bytes = 0;
  for (size_t i = s.params.size(); i-- > 0;) {
    const size_t n = size_t(s.params[i].numel());
    if (s.buckets.empty() || bytes >= bucket_bytes) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    State::Bucket& b = s.buckets.back();
    b.params.push_back(i);
    b.offsets.push_back(b.size);
    b.size += n;
    s.bucket_of[i] = s.buckets.size() - 1;
    bytes += int64_t(n * sizeof(float));
  }
  for (State::Bucket& b : s.buckets)
    b.buffer = Tensor::zeros({int64_t(b.size)}, DType::F32, s.params[b.params.front()].device());

  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); ++i) {
    s.params[i].add_post_accumulate_hook([weak, i](Tensor&) {
      if (auto st = weak.lock()) st->on_grad(i);
    });
  }
}

GradSync::~GradSync() {
  // Complete anything in flight so that no collective is left half-issued.
  for (auto& b : state_->buckets)
    if (b.work) {
      try {
        b.work->wait();
      } catch (...) {
      }
    }
}

void GradSync::begin_sync() {
  State& s = *state_;
  ANVIL_ASSERT(!s.syncing, "GradSync::begin_sync twice without finish");
  s.syncing = true;
  s.next_to_start = 0;
  s.started_in_backward = 0;
  std::fill(s.arrived.begin(), s.arrived.end(), 0);
  for (auto& b : s.buckets) {
    b.ready = 0;
    b.started = false;
    b.work.reset();
  }
}

void GradSync::finish() {
  State& s = *state_;
  ANVIL_ASSERT(s.syncing, "GradSync::finish without begin_sync");
  // Whatever backward did not complete (parameters without a gradient) starts now, in order.
  for (; s.next_to_start < s.buckets.size(); ++s.next_to_start) s.start(s.buckets[s.next_to_start]);
  const int world = s.comm->world_size();
  const float scale = 1.0f / float(world);
  for (auto& b : s.buckets) {
    b.work->wait();
    b.work.reset();
    for (size_t k = 0; k < b.params.size(); ++k) {
      Tensor& p = s.params[b.params[k]];
      const int64_t n = p.numel(), off = int64_t(b.offsets[k]);
      Tensor g = p.grad();
      if (!g.defined() || !g.is_contiguous() || g.storage().use_count() > 1) {
        // A fresh buffer: never write through a gradient that may alias another tensor.
        g = Tensor::empty(p.shape(), DType::F32, p.device());
        p.set_grad(g);
      }
      Tensor dst = g.view({-1});
      ops::copy_(dst, b.buffer.slice(0, off, off + n));
      if (world > 1) ops::mul_(dst, scale);  // the same x * (1 / world) per element as before, on any device
    }
  }
  s.syncing = false;
}

void broadcast_parameters(Communicator& comm, const std::vector<Tensor>& params, int root) {
  for (const Tensor& p : params) {
    ANVIL_CHECK_AS(RuntimeFailure, p.dtype() == DType::F32 && p.is_contiguous(), "[distributed] parameter ", p.name(),
                   " is ", p.str(), "; broadcast needs contiguous f32 (device memory under NCCL)");
    comm.broadcast(p.data<float>(), size_t(p.numel()), root);
  }
}

int64_t GradSync::bucket_count() const { return int64_t(state_->buckets.size()); }
int64_t GradSync::buckets_started_in_backward() const { return state_->started_in_backward; }

}  // namespace anvil::distributed
