#pragma once
// The CUDA backend's entry points. Defined in cuda_backend.cu when nvcc was found, else in
// cuda_absent.cpp (no device, not compiled), so the factory links either way.
#include <memory>

#include "alinify/warp/backend.hpp"

namespace alinify::warp {

bool cuda_compiled();
int cuda_device_count();  // 0 when not compiled, no driver or no device
// `sharing`: how many ranks of this node use the device (its free memory is split among them);
// `host_threads`: the cores that build each block's lattice (the rank's share, as for the CPU).
std::unique_ptr<Backend> make_cuda_backend(int device, int sharing = 1, int host_threads = 1);

}  // namespace alinify::warp
