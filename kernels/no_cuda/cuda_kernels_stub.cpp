// Stand-ins for every launcher declared in kernels/cuda/*.h, for a build without CUDA: the same
// declarations link, and calling one is a RuntimeFailure. Capability queries answer false.
#include "core/base/error.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/optimizer.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/softmax.h"
#include "kernels/cuda/stream.h"
#include "kernels/cuda/unary.h"

namespace anvil::kernels::cuda {

namespace {
[[noreturn]] void built_without_cuda() { throw RuntimeFailure("built without CUDA"); }
}  // namespace

void* default_stream(int) { built_without_cuda(); }
int current_device() { built_without_cuda(); }

void binary(BinaryOp, DType, const void*, const int64_t*, const void*, const int64_t*, void*, const int64_t*, int,
            void*) {
  built_without_cuda();
}
void scalar(ScalarOp, DType, const void*, float, void*, int64_t, void*) { built_without_cuda(); }
void cast(const void*, DType, void*, DType, int64_t, void*) { built_without_cuda(); }
void fill(DType, void*, float, int64_t, void*) { built_without_cuda(); }
void axpy(DType, void*, const void*, float, int64_t, void*) { built_without_cuda(); }
void strided_copy(int64_t, const void*, const int64_t*, void*, const int64_t*, const int64_t*, int, void*) {
  built_without_cuda();
}

void sum_dim_f32(const float*, int64_t, int64_t, int64_t, float*, void*) { built_without_cuda(); }
void max_dim_f32(const float*, int64_t, int64_t, int64_t, float*, int64_t*, void*) { built_without_cuda(); }
void max_dim_backward_f32(const float*, const int64_t*, int64_t, int64_t, int64_t, float*, void*) {
  built_without_cuda();
}
void unary_forward_f32(UnaryOp, const float*, float*, int64_t, void*) { built_without_cuda(); }
void unary_backward_f32(UnaryOp, const float*, const float*, float*, int64_t, void*) { built_without_cuda(); }

bool gemm_tensor_core_can_run(const GemmArgs&) { return false; }
GemmBackend gemm(const GemmArgs&, GemmBackend) { built_without_cuda(); }

void attention_forward(const AttentionArgs&) { built_without_cuda(); }
void attention_backward(const AttentionArgs&) { built_without_cuda(); }
void attention_simple_forward_f32(const SimpleAttentionArgs&) { built_without_cuda(); }
void attention_simple_backward_f32(const SimpleAttentionArgs&) { built_without_cuda(); }

void layernorm_forward(DType, const void*, const void*, const void*, void*, float*, float*, int64_t, int64_t, float,
                       void*) {
  built_without_cuda();
}
void layernorm_backward(DType, const void*, const void*, const void*, const float*, const float*, void*, float*,
                        float*, int64_t, int64_t, bool, void*) {
  built_without_cuda();
}
void rmsnorm_forward(DType, const void*, const void*, void*, float*, int64_t, int64_t, float, void*) {
  built_without_cuda();
}
void rmsnorm_backward(DType, const void*, const void*, const void*, const float*, void*, float*, int64_t, int64_t,
                      bool, void*) {
  built_without_cuda();
}

void softmax_forward(DType, const void*, void*, int64_t, int64_t, void*) { built_without_cuda(); }
void softmax_backward(DType, const void*, const void*, void*, int64_t, int64_t, void*) { built_without_cuda(); }
void cross_entropy_fused(const CrossEntropyArgs&) { built_without_cuda(); }

void embedding_forward(DType, const void*, const int64_t*, void*, int64_t, int64_t, int64_t, void*) {
  built_without_cuda();
}
void embedding_backward(DType, const void*, const int64_t*, float*, int64_t, int64_t, int64_t, void*) {
  built_without_cuda();
}

void rope_forward(const RopeArgs&) { built_without_cuda(); }
void rope_backward(const RopeArgs&) { built_without_cuda(); }

void dropout_forward(DType, const void*, void*, uint8_t*, int64_t, float, uint64_t, uint64_t, void*) {
  built_without_cuda();
}
void dropout_backward(DType, const void*, void*, int64_t, float, uint64_t, uint64_t, void*) { built_without_cuda(); }

void adamw_step(const AdamWArgs&) { built_without_cuda(); }
void sgd_step(float*, const float*, float*, int64_t, float, float, float, bool, void*) { built_without_cuda(); }
int64_t grad_norm_partials_per_tensor() { built_without_cuda(); }
void grad_sumsq_partials(DType, const void*, int64_t, float*, void*) { built_without_cuda(); }
void grad_norm_finish(const float*, int64_t, float*, float, float*, void*) { built_without_cuda(); }

}  // namespace anvil::kernels::cuda
