#include "distributed/zero.h"

#include <algorithm>
#include <cmath>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "core/ops/optimizer.h"

namespace anvil::distributed {

namespace {
constexpr double kClipEpsilon = 1e-6;  // optim/clip.cpp's, so that both clip identically
}

ZeroAdamW::ZeroAdamW(std::shared_ptr<Communicator> comm, std::vector<optim::ParamGroup> groups, float beta1,
                     float beta2, float eps)
    : Optimizer(std::move(groups), "adamw"), comm_(std::move(comm)), beta1_(beta1), beta2_(beta2), eps_(eps) {
  ANVIL_CHECK_AS(ConfigError, beta1 >= 0.0f && beta1 < 1.0f, "[adamw] beta1 must be in [0, 1), got ", beta1);
  ANVIL_CHECK_AS(ConfigError, beta2 >= 0.0f && beta2 < 1.0f, "[adamw] beta2 must be in [0, 1), got ", beta2);
  ANVIL_CHECK_AS(ConfigError, eps >= 0.0f, "[adamw] eps must be >= 0, got ", eps);
  for (const optim::ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      ANVIL_CHECK_AS(RuntimeFailure,
                     p.dtype() == DType::F32 && p.is_contiguous() && p.device() == groups_.front().params.front().device(),
                     "[zero] parameter ", p.name(), " is ", p.str(), "; ZeRO-1 needs contiguous f32 parameters on one device");
      ANVIL_CHECK_AS(RuntimeFailure, !p.name().empty(), "[zero] every parameter needs a name (its state's key)");
      segments_.push_back({p, total_, g.weight_decay});
      total_ += p.numel();
    }
  const int64_t world = comm_->world_size(), rank = comm_->rank();
  shard_ = std::max<int64_t>((total_ + world - 1) / world, 1);
  lo_ = std::min(total_, rank * shard_);
  hi_ = std::min(total_, lo_ + shard_);
  const Device device = segments_.empty() ? Device::cpu() : segments_.front().param.device();
  m_ = Tensor::zeros({shard_}, DType::F32, device);
  v_ = Tensor::zeros({shard_}, DType::F32, device);
  flat_grad_ = Tensor::zeros({shard_ * world}, DType::F32, device);
  flat_param_ = Tensor::zeros({shard_ * world}, DType::F32, device);
  shard_grad_ = Tensor::zeros({shard_}, DType::F32, device);
  shard_param_ = Tensor::zeros({shard_}, DType::F32, device);
}

namespace {
// `t` as a flat view (t contiguous).
Tensor flat(const Tensor& t) { return t.detach().view({-1}); }
}  // namespace

float ZeroAdamW::clip_grad_norm(float max_norm) {
  const int world = comm_->world_size();
  // 1. Local gradients into the flat buffer (zeros where a parameter has none), reduce-scatter.
  for (Segment& s : segments_) {
    Tensor dst = flat_grad_.slice(0, s.offset, s.offset + s.param.numel());
    Tensor g = s.param.grad();
    if (!g.defined()) {
      ops::fill_(dst, 0.0f);
      continue;
    }
    ops::copy_(dst, flat(g.contiguous()));  // converts a non-f32 gradient
  }
  comm_->reduce_scatter_sum(flat_grad_.data<float>(), shard_grad_.data<float>(), size_t(shard_));
  const int64_t n = hi_ - lo_;
  Tensor owned = shard_grad_.slice(0, 0, n);  // this rank's part of the index space (a view)
  if (world > 1 && n > 0) ops::mul_(owned, 1.0f / float(world));
  // 2. Global norm across shards; clip this shard.
  double sum_squares = n > 0 ? ops::sum_squares({owned}) : 0.0;
  comm_->all_reduce_sum(&sum_squares, 1);
  const double norm = std::sqrt(sum_squares);
  if (max_norm > 0.0f && std::isfinite(norm) && norm > double(max_norm) && n > 0)
    ops::mul_(owned, float(double(max_norm) / (norm + kClipEpsilon)));
  shard_grad_ready_ = true;
  return float(norm);
}

void ZeroAdamW::step(float lr) {
  if (!shard_grad_ready_) clip_grad_norm(0.0f);
  shard_grad_ready_ = false;
  // 3. AdamW on this rank's part of each parameter it overlaps.
  ++step_;
  for (Segment& s : segments_) {
    const int64_t a = std::max(lo_, s.offset), b = std::min(hi_, s.offset + s.param.numel());
    if (a >= b) continue;
    // Views of this rank's part of the parameter, the gradient shard and the moments.
    Tensor param = s.param.detach().view({-1}).slice(0, a - s.offset, b - s.offset);
    Tensor m = m_.slice(0, a - lo_, b - lo_), v = v_.slice(0, a - lo_, b - lo_);
    ops::adamw_step_(param, shard_grad_.slice(0, a - lo_, b - lo_), m, v,
                     {lr, beta1_, beta2_, eps_, s.weight_decay, step_});
  }
  // 4. All-gather the updated shards into every rank's parameters.
  for (Segment& s : segments_) {
    const int64_t a = std::max(lo_, s.offset), b = std::min(hi_, s.offset + s.param.numel());
    if (a >= b) continue;
    Tensor dst = shard_param_.slice(0, a - lo_, b - lo_);
    ops::copy_(dst, flat(s.param).slice(0, a - s.offset, b - s.offset));
  }
  comm_->all_gather(shard_param_.data<float>(), flat_param_.data<float>(), size_t(shard_));
  for (Segment& s : segments_) {
    Tensor dst = flat(s.param);
    ops::copy_(dst, flat_param_.slice(0, s.offset, s.offset + s.param.numel()));
    s.param.zero_grad();
  }
}

std::map<std::string, Tensor> ZeroAdamW::state_tensors() const {
  std::map<std::string, Tensor> out;
  for (auto [prefix, moments] : {std::pair<const char*, const Tensor*>{"m", &m_}, {"v", &v_}}) {
    comm_->all_gather(moments->data<float>(), flat_param_.data<float>(), size_t(shard_));
    for (const Segment& s : segments_) {
      // A CPU copy (checkpoints hold CPU tensors; flat_param_ is reused by the next gather).
      Tensor t = Tensor::empty(s.param.shape(), DType::F32);
      Tensor dst = flat(t);
      ops::copy_(dst, flat_param_.slice(0, s.offset, s.offset + s.param.numel()));
      out[std::string(prefix) + "." + s.param.name()] = t;
    }
  }
  // flat_param_ is scratch: step() refills it before use.
  return out;
}

nlohmann::json ZeroAdamW::state_scalars() const {
  return {{"optimizer", "adamw"}, {"step", step_}, {"beta1", beta1_}, {"beta2", beta2_}, {"eps", eps_}};
}

void ZeroAdamW::load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars) {
  const std::string kind = scalars.value("optimizer", "");
  ANVIL_CHECK_AS(CheckpointError, kind == "adamw", "optimizer state is of '", kind,
                 "' but distributed.zero_stage 1 shards AdamW");
  ANVIL_CHECK_AS(CheckpointError, scalars.contains("step"), "optimizer state has no 'step'");
  size_t expected = 0;
  for (auto [prefix, moments] : {std::pair<const char*, Tensor*>{"m", &m_}, {"v", &v_}}) {
    for (const Segment& s : segments_) {
      const std::string key = std::string(prefix) + "." + s.param.name();
      auto it = tensors.find(key);
      ANVIL_CHECK_AS(CheckpointError, it != tensors.end(), "optimizer state: missing tensor ", key);
      ANVIL_CHECK_AS(CheckpointError, it->second.shape() == s.param.shape(), "optimizer state: ", key, " has shape ",
                     shape_str(it->second.shape()), ", expected ", shape_str(s.param.shape()));
      ++expected;
      const int64_t a = std::max(lo_, s.offset), b = std::min(hi_, s.offset + s.param.numel());
      if (a >= b) continue;
      Tensor dst = moments->slice(0, a - lo_, b - lo_);
      ops::copy_(dst, flat(it->second.contiguous()).slice(0, a - s.offset, b - s.offset));
    }
  }
  ANVIL_CHECK_AS(CheckpointError, tensors.size() == expected, "optimizer state: ", tensors.size(),
                 " tensors where AdamW has ", expected, " (an unexpected tensor is present)");
  step_ = scalars.at("step").get<int64_t>();
}

}  // namespace anvil::distributed
