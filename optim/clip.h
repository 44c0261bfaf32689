// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_ semantics).
#pragma once

#include <vector>

#include "core/tensor/tensor.h"

namespace anvil::optim {

// The L2 norm over all parameters' gradients together, accumulated in double; parameters without a
// gradient are skipped. When max_norm > 0 and norm > max_norm, every gradient is scaled in place by
// max_norm / (norm + 1e-6). A non-finite norm is returned without scaling, so the caller can see it
// and skip the step. Returns the norm before clipping.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

// The same norm without clipping.
double grad_global_norm(const std::vector<Tensor>& params);

}  // namespace anvil::optim
