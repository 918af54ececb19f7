#include "alinify/core/error.hpp"
#include "alinify/warp/backend.hpp"
#include "alinify/warp/cpu_backend.hpp"
#include "alinify/warp/cuda_backend.hpp"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace alinify::warp {

std::unique_ptr<Backend> make_backend(const std::string& name, int local_rank, int device, int local_size) {
  const int threads = std::max(1, omp_get_num_procs() / std::max(1, local_size));
  if (name == "cpu") return std::make_unique<CpuBackend>(threads);
  if (name == "cuda" || name == "auto") {
    int count = cuda_device_count();
    if (count > 0) return make_cuda_backend(device >= 0 ? device : local_rank % count);
    if (name == "cuda")
      fail_usage(std::string("--backend cuda: ") +
                 (cuda_compiled() ? "no CUDA device is visible" : "this build has no CUDA backend (nvcc not found)"));
    spdlog::info("backend auto: no CUDA device{}, warping on the CPU",
                 cuda_compiled() ? " visible" : " (built without CUDA)");
    return std::make_unique<CpuBackend>(threads);
  }
  fail_usage("--backend: '" + name + "' is not one of auto, cpu, cuda");
}

Interp parse_interp(const std::string& name) {
  if (name == "nearest") return Interp::kNearest;
  if (name == "bilinear") return Interp::kBilinear;
  if (name == "bicubic") return Interp::kBicubic;
  fail_usage("--interp: '" + name + "' is not one of nearest, bilinear, bicubic");
}

std::string interp_name(Interp i) {
  return i == Interp::kNearest ? "nearest" : i == Interp::kBicubic ? "bicubic" : "bilinear";
}

}  // namespace alinify::warp
