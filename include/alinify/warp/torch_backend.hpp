#pragma once
// The optional LibTorch backend (-DALINIFY_WITH_TORCH=ON): each block warped with
// at::grid_sampler, the reference the earlier Python tool used, on a block-sized sampling grid
// (never the whole image). It lives in a plugin, libalinify_torch.so, loaded on first use from
// $ALINIFY_TORCH_MODULE, the executable's folder, ../lib, ../lib/alinify (installed), or the build's bin folder.
#include <memory>
#include <string>

#include "alinify/warp/backend.hpp"

namespace alinify::warp {

// The plugin's path when it can be found (not loaded yet), else empty.
std::string torch_module_path();
// Loads the plugin (usage error naming the file and dlerror when it cannot) and makes a backend on
// LibTorch's CUDA device `device` (-1: local rank mod devices) when it has CUDA, else its CPU.
std::unique_ptr<Backend> make_torch_backend(int local_rank, int device, int cpu_threads);

}  // namespace alinify::warp

// The plugin's one entry point (C linkage for dlsym). Returns nullptr and sets *error on failure.
extern "C" alinify::warp::Backend* alinify_torch_backend_create(int local_rank, int device, int cpu_threads,
                                                                char* error, int error_size);
