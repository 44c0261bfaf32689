// embedding(weight (V, C), ids (...)) -> (..., C). Forward gathers rows in the table's own dtype;
// backward scatter-adds the output gradient into a fresh (V, C) f32 buffer in a deterministic
// order and casts it to the table's dtype. ids are not differentiable.
#include "core/ops/op_utils.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cuda/embedding.h"

namespace anvil::ops {

using namespace detail;

namespace {

// The CUDA path: ids are range-checked on the host (one copy), then gathered and, in backward,
// scatter-added in a fixed order by kernels/cuda/embedding.
Tensor embedding_cuda(const Tensor& weight, const Tensor& ids, int64_t V, int64_t C) {
  const std::vector<int64_t> host_ids = ids.to_i64_vector();
  const int64_t n = int64_t(host_ids.size());
  for (int64_t k = 0; k < n; ++k)
    ANVIL_CHECK_OP(host_ids[size_t(k)] >= 0 && host_ids[size_t(k)] < V, "[embedding] id ", host_ids[size_t(k)],
                   " (element ", k, " of ids ", ids.str(), ") is outside [0, V) for V = ", V, " (weight ",
                   weight.str(), ")");
  const Device dev = weight.device();
  Tensor ids64 = ids.detach().contiguous().to(DType::I64);  // (n) on the device
  Shape out_shape = ids.shape();
  out_shape.push_back(C);
  Tensor table = weight.detach().contiguous();              // (V, C), native dtype
  Tensor out = Tensor::empty(out_shape, weight.dtype(), dev);  // (..., C)
  if (n > 0 && C > 0)
    kernels::cuda::embedding_forward(table.dtype(), table.data_ptr(), ids64.data<int64_t>(), out.data_ptr(), n, V, C,
                                     cuda_stream(weight));
  if (!any_requires_grad({&weight})) return out;
  const DType dtype = weight.dtype();
  return record_op("EmbeddingBackward", {weight, ids}, out,
                   [ids64, n, V, C, dtype, dev](const Tensor& g, const std::vector<bool>&) {
                     Tensor gy = f32_contiguous(g);                      // (n, C)
                     Tensor gw = Tensor::zeros({V, C}, DType::F32, dev);  // the kernel accumulates (+=)
                     if (n > 0 && C > 0)
                       kernels::cuda::embedding_backward(DType::F32, gy.data<float>(), ids64.data<int64_t>(),
                                                         gw.data<float>(), n, V, C, cuda_stream(gw));
                     return std::vector<Tensor>{cast_result(gw, dtype), Tensor()};
                   });
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  check_floating(weight, "embedding", "weight");
  check_index(ids, "embedding", "ids");
  check_same_device(weight, ids, "embedding");
  ANVIL_CHECK_OP(weight.dim() == 2, "[embedding] weight must be (V, C), got ", weight.str());
  const int64_t V = weight.size(0), C = weight.size(1);
  if (weight.device().is_cuda()) return embedding_cuda(weight, ids, V, C);
  Tensor ids64 = ids.detach().contiguous().to(DType::I64);  // (n)
  const int64_t n = ids64.numel();
  const int64_t* ip = ids64.data<int64_t>();
  for (int64_t k = 0; k < n; ++k)
    ANVIL_CHECK_OP(ip[k] >= 0 && ip[k] < V, "[embedding] id ", ip[k], " (element ", k, " of ids ", ids.str(),
                   ") is outside [0, V) for V = ", V, " (weight ", weight.str(), ")");

  Shape out_shape = ids.shape();
  out_shape.push_back(C);
  Tensor table = weight.detach().contiguous();  // (V, C), native dtype
  Tensor out = Tensor::empty(out_shape, weight.dtype());  // (..., C)
  if (n > 0 && C > 0)
    kernels::cpu::embedding_forward(table.data_ptr(), dtype_size(table.dtype()), ip, n, C, out.data_ptr());
  if (!any_requires_grad({&weight})) return out;
  const DType dtype = weight.dtype();
  return record_op("EmbeddingBackward", {weight, ids}, out,
                   [ids64, n, V, C, dtype](const Tensor& g, const std::vector<bool>&) {
                     Tensor gy = f32_contiguous(g);  // (n, C)
                     Tensor gw = Tensor::zeros({V, C}, DType::F32);  // the kernel accumulates (+=)
                     kernels::cpu::embedding_backward_f32(gy.data<float>(), ids64.data<int64_t>(), n, C, V,
                                                          gw.data<float>());
                     return std::vector<Tensor>{cast_result(gw, dtype), Tensor()};
                   });
}

}  // namespace anvil::ops
