// Finds and loads the LibTorch plugin (torch_backend.hpp). dlopen only on --backend torch.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "alinify/core/error.hpp"
#include "alinify/warp/torch_backend.hpp"

namespace fs = std::filesystem;

namespace alinify::warp {

std::string torch_module_path() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("ALINIFY_TORCH_MODULE"); env && *env) candidates.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "libalinify_torch.so");
    candidates.push_back(exe.parent_path().parent_path() / "lib" / "libalinify_torch.so");
    // Where `cmake --install --component torch` puts it (cmake/Install.cmake).
    candidates.push_back(exe.parent_path().parent_path() / "lib" / "alinify" / "libalinify_torch.so");
  }
#ifdef ALINIFY_TORCH_MODULE_DEFAULT
  candidates.emplace_back(ALINIFY_TORCH_MODULE_DEFAULT);
#endif
  for (const fs::path& p : candidates)
    if (fs::is_regular_file(p, ec)) return p.string();
  return {};
}

std::unique_ptr<Backend> make_torch_backend(int local_rank, int device, int cpu_threads) {
  const std::string path = torch_module_path();
  if (path.empty())
    fail_usage(
        "--backend torch: this build has no LibTorch backend (configure with -DALINIFY_WITH_TORCH=ON; or set "
        "ALINIFY_TORCH_MODULE to libalinify_torch.so)");
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept loaded for the process's life
  if (!handle) fail_usage("--backend torch: cannot load " + path + ": " + dlerror());
  using Create = Backend* (*)(int, int, int, char*, int);
  auto create = reinterpret_cast<Create>(dlsym(handle, "alinify_torch_backend_create"));
  if (!create) fail_usage("--backend torch: " + path + " is not an alinify LibTorch plugin");
  char error[512] = {0};
  Backend* b = create(local_rank, device, cpu_threads, error, sizeof error);
  if (!b) fail_usage(std::string("--backend torch: ") + error);
  return std::unique_ptr<Backend>(b);
}

}  // namespace alinify::warp
