// CPU rotary position embedding (Llama's rotate-half layout) on contiguous f32 rows.
//
// A (rows, T, D) tensor is rotated pair-wise: element i pairs with i + D/2 (i < D/2), rotated by the
// angle pos * inv_freq[i], pos = pos_offset + t, inv_freq[i] = 1 / theta^(2i/D). The angle table is
// built once (T, D/2) in f32 exactly as Hugging Face's LlamaRotaryEmbedding does, then shared by
// all rows. The backward of a rotation is the inverse rotation (sin negated), so one apply kernel
// serves both directions.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// cos_table, sin_table (T, D/2): cos/sin of (pos_offset + t) * inv_freq[i], computed in f32 (=).
void rope_table_f32(int64_t T, int64_t D, int64_t pos_offset, float theta, float* cos_table, float* sin_table);

// out (rows, T, D) = x rotated by the table; inverse = true rotates by the negated angle.
// Written with `=`; out may alias x.
void rope_apply_f32(const float* x, const float* cos_table, const float* sin_table, int64_t rows, int64_t T,
                    int64_t D, bool inverse, float* out);

}  // namespace anvil::kernels::cpu
