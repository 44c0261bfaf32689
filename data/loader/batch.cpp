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

namespace {
Batch views_of(const Tensor& block) {
  return {block.slice(0, 0, 1).squeeze(0), block.slice(0, 1, 2).squeeze(0), block.slice(0, 2, 3).squeeze(0),
          block.slice(0, 3, 4).squeeze(0), block};
}
}  // namespace

Batch Batch::allocate(int64_t batch_size, int64_t seq_len) {
  return views_of(Tensor::empty({4, batch_size, seq_len}, DType::I32));
}

Batch Batch::to(Device device) const {
  if (ids.device() == device) return *this;
  if (block.defined()) return views_of(block.to(device));  // one copy for the four
  return {ids.to(device), targets.to(device), position_ids.to(device), document_ids.to(device), {}};
}

void Batch::ignore_rows_from(int64_t first_row) {
  ANVIL_ASSERT(targets.device().is_cpu() && targets.is_contiguous(), "ignore_rows_from works on the CPU batch");
  const int64_t B = batch_size(), T = seq_len();
  int32_t* p = targets.data<int32_t>();
  for (int64_t i = std::max<int64_t>(first_row, 0) * T; i < B * T; ++i) p[i] = kIgnoreIndex;
}

Batch batch_from_windows(const int32_t* windows, int64_t B, int64_t T) {
  Batch b = Batch::allocate(B, T);
  int32_t* ids = b.ids.data<int32_t>();
  int32_t* targets = b.targets.data<int32_t>();
  int32_t* pos = b.position_ids.data<int32_t>();
  int32_t* docs = b.document_ids.data<int32_t>();
  for (int64_t r = 0; r < B; ++r) {
    const int32_t* w = windows + r * (T + 1);
    for (int64_t t = 0; t < T; ++t) {
      ids[r * T + t] = w[t];
      targets[r * T + t] = w[t + 1];
      pos[r * T + t] = int32_t(t);
      docs[r * T + t] = 0;
    }
  }
  return b;
}

}  // namespace anvil::data
