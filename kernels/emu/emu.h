// The CUDA execution model on the CPU (the build -DANVIL_CUDA=EMULATE): what the kernel sources in
// kernels/cuda/*.cu see when they are compiled as host C++. The shim headers in kernels/emu/include
// (cuda_runtime.h, cuda_fp16.h, nccl.h, ...) include this file; nothing else should.
//
// Model (see docs/EMULATOR.md for the whole design):
//   - a launch runs synchronously, one block at a time; the threads of a block are fibers
//     (kernels/emu/fiber.h) run one at a time in an order shuffled per seed (ANVIL_EMU_SEED), each
//     running from one barrier to the next;
//   - __syncthreads() and __syncwarp() are barriers; warp collectives (shuffles, ballot, ldmatrix,
//     mma.sync) exchange lane values when every lane of their member mask has arrived, and fail when a
//     named lane has exited, is missing or waits elsewhere;
//   - every load and store the kernel code makes is reported by the compiler's thread-sanitizer
//     instrumentation (-fsanitize=thread, with our own hooks in access_check.cpp instead of the TSan
//     runtime) and checked: global accesses against the allocation they fall in, alignment of every
//     access of 2-16 bytes, and shared-memory races against a per-byte shadow;
//   - a fault ends the launch with a CUDA error that stays (like a real faulting kernel) until
//     cudaDeviceReset(); its message names the kernel, block, thread and access.
#pragma once

#include <cstddef>
#include <cstdint>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct uint3 {
  unsigned x, y, z;
};

namespace anvil::emu {

// Built-in variables of the running emulated thread (by value: the kernel reads its own copy).
uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();

// Barriers and warp collectives. `mask` names the participating lanes of the caller's warp.
void syncthreads();
void syncwarp(unsigned mask);
uint32_t shfl(unsigned mask, uint32_t value, int src_lane, int width);
uint32_t shfl_xor(unsigned mask, uint32_t value, int lane_mask, int width);
uint32_t shfl_up(unsigned mask, uint32_t value, unsigned delta, int width);
uint32_t shfl_down(unsigned mask, uint32_t value, unsigned delta, int width);
unsigned ballot(unsigned mask, bool predicate);

// Tensor-core and async-copy primitives (kernels/cuda/ptx.cuh calls these under emulation).
// `count` 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i.
void ldmatrix(uint32_t* regs, int count, const void* shared_row, bool transpose);
// D (16x8 f32) += A (16x16) * B (16x8), operands bf16 (bf16_inputs) or f16, fragments as in the PTX ISA.
void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16_inputs);
// D (16x8 f32) += A (16x8) * B (8x8), operands tf32 (f32 bit patterns whose low 13 bits are ignored).
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
// cvt.rna.tf32.f32: f32 rounded to tf32 (10 mantissa bits, to nearest, ties away from zero).
uint32_t to_tf32(float x);
void cp_async(void* shared_dst, const void* global_src, int copy_bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending_groups);

// Atomics: checked like any access (bounds, alignment), never a race. Blocks and threads run one at
// a time, so a plain read-modify-write is atomic here.
void check_atomic(const void* p, size_t bytes);

// The dynamic shared memory of the running block (the launch's smem_bytes).
unsigned char* dynamic_shared();

// Runs `body` (a kernel call bound to its arguments) for every thread of the grid. `kernel` is the
// function's address (for attributes set by cudaFuncSetAttribute). Returns the launch's error code.
using KernelBody = void (*)(void* bound_call);
int launch(const void* kernel, const char* name, dim3 grid, dim3 block, size_t smem_bytes, void* stream,
           KernelBody body, void* bound_call);

// Resets the seed and counters of the scheduler shuffle (tests); the default seed comes from
// ANVIL_EMU_SEED (default 1).
void set_schedule_seed(uint64_t seed);

}  // namespace anvil::emu
