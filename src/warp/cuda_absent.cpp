// Linked when the build has no CUDA backend (nvcc not found or ALINIFY_WITH_CUDA=OFF).
#include "alinify/core/error.hpp"
#include "alinify/warp/cuda_backend.hpp"

namespace alinify::warp {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::unique_ptr<Backend> make_cuda_backend(int, int, int) {
  fail_usage("this build has no CUDA backend (nvcc not found)");
}

}  // namespace alinify::warp
