// Where each element of a warp-wide matrix fragment lives: which lane, which 32-bit register, which
// 16-bit half. These tables are the only statement of the layouts in the project; the emulated
// ldmatrix and mma.sync (scheduler.cpp) read them, and the kernels (kernels/cuda/matmul.cu) are
// written against the same PTX ISA sections. Notation of the ISA: groupID = lane >> 2,
// threadID_in_group = lane % 4; within a 32-bit register the lower 16 bits hold the element with the
// lower index.
#pragma once

namespace anvil::emu::fragments {

struct Coord {
  int row, col;
};

// ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{.trans}.shared.b16 — PTX ISA 8.x/9.0, "Warp-level matrix
// load instruction: ldmatrix" (section 9.7.14.5.15 in PTX ISA 8.5), figure "ldmatrix fragment
// layout": lanes 8i..8i+7 supply the addresses of the 8 rows of matrix i (16 bytes each); register
// i of lane l holds row l/4, columns 2*(l%4) and 2*(l%4)+1 of matrix i. With .trans the matrix is
// transposed on the way: the same register holds column l/4, rows 2*(l%4) and 2*(l%4)+1.
inline Coord ldmatrix_element(int lane, int half, bool transpose) {
  const Coord c{lane / 4, 2 * (lane % 4) + half};
  return transpose ? Coord{c.col, c.row} : c;
}

// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 — PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type" (section 9.7.14.5.8 in PTX ISA 8.5).
// A (16 x 16, row): 4 registers = elements a0..a7, element i = 2 * reg + half:
//   row = groupID for a0, a1, a4, a5, groupID + 8 for a2, a3, a6, a7;
//   col = threadID_in_group * 2 + (i & 1), plus 8 for a4..a7.
inline Coord mma_a_element(int lane, int reg, int half) {
  const int i = 2 * reg + half;
  const int row = lane / 4 + ((i == 2 || i == 3 || i == 6 || i == 7) ? 8 : 0);
  const int col = (lane % 4) * 2 + (i & 1) + (i >= 4 ? 8 : 0);
  return {row, col};
}
// B (16 x 8, col): 2 registers = elements b0..b3, element i = 2 * reg + half:
//   row (k) = threadID_in_group * 2 + (i & 1), plus 8 for b2, b3;  col (n) = groupID.
inline Coord mma_b_element(int lane, int reg, int half) {
  const int i = 2 * reg + half;
  return {(lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0), lane / 4};
}
// C and D (16 x 8, f32): 4 registers c0..c3:
//   row = groupID for c0, c1, groupID + 8 for c2, c3;  col = threadID_in_group * 2 + (i & 1).
inline Coord mma_c_element(int lane, int i) { return {lane / 4 + (i >= 2 ? 8 : 0), (lane % 4) * 2 + (i & 1)}; }

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 — PTX ISA, "Matrix Fragments for mma.m16n8k8"
// (section 9.7.14.5.7 in PTX ISA 8.5), .tf32 rows. One element per 32-bit register.
// A (16 x 8): a0..a3: row = groupID for a0, a2, groupID + 8 for a1, a3;
//   col = threadID_in_group for a0, a1, threadID_in_group + 4 for a2, a3.
inline Coord mma_tf32_a_element(int lane, int reg) {
  return {lane / 4 + (reg % 2) * 8, lane % 4 + (reg / 2) * 4};
}
// B (8 x 8): b0, b1: row (k) = threadID_in_group for b0, threadID_in_group + 4 for b1; col (n) = groupID.
inline Coord mma_tf32_b_element(int lane, int reg) { return {lane % 4 + reg * 4, lane / 4}; }
// C and D: as for m16n8k16 (mma_c_element).

}  // namespace anvil::emu::fragments
