#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "alinify/core/error.hpp"
#include "alinify/warp/backend.hpp"
#include "alinify/warp/cpu_backend.hpp"
#include "alinify/warp/cuda_backend.hpp"
#include "alinify/warp/device_map.hpp"
#include "alinify/warp/torch_backend.hpp"

namespace alinify::warp {

namespace {

// Several GPUs for one rank (--gpus-per-rank): blocks go round-robin to one backend per device;
// submit is asynchronous, so the devices work at once.
class MultiDeviceBackend final : public Backend {
 public:
  explicit MultiDeviceBackend(std::vector<std::unique_ptr<Backend>> parts) : parts_(std::move(parts)) {}
  std::string name() const override {
    std::string n;
    for (const auto& p : parts_) n += (n.empty() ? "" : "+") + p->name();
    return n;
  }
  void set_transform(const transform::Transform& t) override {
    for (auto& p : parts_) p->set_transform(t);
  }
  void warp(const SourceView& src, const OutputBlock& out, const WarpSettings& s) override {
    submit(src, out, s);
    drain();
  }
  void submit(const SourceView& src, const OutputBlock& out, const WarpSettings& s) override {
    parts_[next_++ % parts_.size()]->submit(src, out, s);
  }
  void drain() override {
    for (auto& p : parts_) p->drain();
  }
  uint64_t device_memory_budget() const override {
    uint64_t b = 0;  // the tightest device
    for (const auto& p : parts_) {
      const uint64_t d = p->device_memory_budget();
      if (d > 0 && (b == 0 || d < b)) b = d;
    }
    return b;
  }
  DeviceTimes device_times() const override {
    DeviceTimes t;
    for (const auto& p : parts_) {
      const DeviceTimes d = p->device_times();
      t.measured = t.measured || d.measured;
      t.h2d += d.h2d, t.kernel += d.kernel, t.d2h += d.d2h;
    }
    return t;
  }

 private:
  std::vector<std::unique_ptr<Backend>> parts_;
  size_t next_ = 0;
};

std::unique_ptr<Backend> cuda_for_rank(const BackendRequest& r, int count, int threads) {
  const DeviceChoice c = devices_for_rank(r.local_rank, r.local_size, count, r.gpus_per_rank, r.device);
  if (!c.note.empty()) spdlog::info("{}", c.note);
  // Ranks of this node on one device split its memory: local_size * gpus_per_rank / count of them
  // (at least 1; with --device, all of them).
  const int sharing = r.device >= 0 ? r.local_size : std::max(1, (r.local_size * r.gpus_per_rank + count - 1) / count);
  if (c.devices.size() == 1) return make_cuda_backend(c.devices[0], sharing, threads);
  std::vector<std::unique_ptr<Backend>> parts;
  // The parts are submitted to one after another from this rank's thread, so each builds its
  // lattices with all of the rank's cores.
  for (int d : c.devices) parts.push_back(make_cuda_backend(d, sharing, threads));
  return std::make_unique<MultiDeviceBackend>(std::move(parts));
}

}  // namespace

std::unique_ptr<Backend> make_backend(const BackendRequest& r) {
  const int threads = std::max(1, omp_get_num_procs() / std::max(1, r.local_size));
  switch (r.kind) {
    case BackendKind::kCpu:
      return std::make_unique<CpuBackend>(threads);
    case BackendKind::kTorch:
      return make_torch_backend(r.local_rank, r.device, threads);
    case BackendKind::kCuda:
    case BackendKind::kAuto:
      break;
  }
  const int count = cuda_device_count();
  if (count > 0) return cuda_for_rank(r, count, threads);
  if (r.kind == BackendKind::kCuda)
    fail_usage(std::string("--backend cuda: ") +
               (cuda_compiled() ? "no CUDA device is visible" : "this build has no CUDA backend (nvcc not found)"));
  // --device asked for a GPU by number: that none is there deserves more than an info line.
  if (r.device >= 0)
    spdlog::warn("--device {}: no CUDA device{}, warping on the CPU (--backend auto)", r.device,
                 cuda_compiled() ? " is visible" : " (built without CUDA)");
  else
    spdlog::info("backend auto: no CUDA device{}, warping on the CPU",
                 cuda_compiled() ? " visible" : " (built without CUDA)");
  return std::make_unique<CpuBackend>(threads);
}

BackendKind parse_backend(const std::string& name) {
  if (name == "auto") return BackendKind::kAuto;
  if (name == "cpu") return BackendKind::kCpu;
  if (name == "cuda") return BackendKind::kCuda;
  if (name == "torch") return BackendKind::kTorch;
  fail_usage("--backend: '" + name + "' is not one of auto, cpu, cuda, torch");
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
