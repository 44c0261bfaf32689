// The stream kernels run on when a caller passes stream = nullptr: one non-blocking stream per
// device, created on first use and kept for the life of the process. Plain C++ (no CUDA types),
// so core/ can hold streams as void*.
#pragma once

namespace anvil::kernels::cuda {

// The anvil stream of `device` (a cudaStream_t as void*).
void* default_stream(int device);
// The device the calling thread has selected (cudaGetDevice).
int current_device();

}  // namespace anvil::kernels::cuda
