// Batch helpers; see batch.h.
#include "data/loader/batch.h"

#include <algorithm>

#include "core/base/error.h"

namespace anvil::data {

int64_t Batch::target_count() const {
  const Tensor t = targets.device().is_cpu() ? targets.contiguous() : targets.to(Device::cpu());
  const int32_t* p = t.data<int32_t>();
  int64_t n = 0;
  for (int64_t i = 0; i < t.numel(); ++i) n += p[i] != kIgnoreIndex;
  return n;
}

Batch Batch::to(Device device) const {
  if (ids.device() == device) return *this;
  return {ids.to(device), targets.to(device), position_ids.to(device), document_ids.to(device)};
}

void Batch::ignore_rows_from(int64_t first_row) {
  ANVIL_ASSERT(targets.device().is_cpu() && targets.is_contiguous(), "ignore_rows_from works on the CPU batch");
  const int64_t B = batch_size(), T = seq_len();
  int32_t* p = targets.data<int32_t>();
  for (int64_t i = std::max<int64_t>(first_row, 0) * T; i < B * T; ++i) p[i] = kIgnoreIndex;
}

Batch batch_from_windows(const int32_t* windows, int64_t B, int64_t T) {
  Batch b;
  b.ids = Tensor::empty({B, T}, DType::I32);
  b.targets = Tensor::empty({B, T}, DType::I32);
  b.position_ids = Tensor::empty({B, T}, DType::I32);
  b.document_ids = Tensor::zeros({B, T}, DType::I32);
  int32_t* ids = b.ids.data<int32_t>();
  int32_t* targets = b.targets.data<int32_t>();
  int32_t* pos = b.position_ids.data<int32_t>();
  for (int64_t r = 0; r < B; ++r) {
    const int32_t* w = windows + r * (T + 1);
    for (int64_t t = 0; t < T; ++t) {
      ids[r * T + t] = w[t];
      targets[r * T + t] = w[t + 1];
      pos[r * T + t] = int32_t(t);
    }
  }
  return b;
}

}  // namespace anvil::data
