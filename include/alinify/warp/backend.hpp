#pragma once
// The warp backend interface: the pipeline asks the factory for one and never names a backend.
#include <array>
#include <memory>
#include <string>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"
#include "alinify/warp/warp_kernel.hpp"

namespace alinify::warp {

struct WarpSettings {
  Interp interp = Interp::kBilinear;
  Rgb fill;
  // --exact: the transform evaluated at every output pixel (the bytes of releases before the
  // lattice); otherwise the lattice of lattice.hpp, within 1/64 px of it.
  bool exact = false;
};

// Where a device backend's time went (seconds, summed over blocks; measured with device events).
struct DeviceTimes {
  bool measured = false;
  double h2d = 0, kernel = 0, d2h = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Warps every pixel of `out` from `src`. The transform is set once per job (set_transform).
  virtual void set_transform(const transform::Transform& t) = 0;
  virtual void warp(const SourceView& src, const OutputBlock& out, const WarpSettings& settings) = 0;
  // Asynchronous form: `src` may be reused as soon as submit returns; `out` is complete only after
  // drain(). A device backend keeps blocks in flight here, so the caller's next GDAL read overlaps
  // the transfers and the kernel. The default is the synchronous warp.
  virtual void submit(const SourceView& src, const OutputBlock& out, const WarpSettings& settings) {
    warp(src, out, settings);
  }
  virtual void drain() {}
  virtual DeviceTimes device_times() const { return {}; }
  // Device memory this backend may use (free memory at start over the ranks sharing the device);
  // 0: no device limit (host memory only). The pipeline sizes source windows to fit it.
  virtual uint64_t device_memory_budget() const { return 0; }
};

// auto: CUDA when a device is present, else CPU.
enum class BackendKind { kAuto, kCpu, kCuda, kTorch };

struct BackendRequest {
  BackendKind kind = BackendKind::kAuto;
  int local_rank = 0, local_size = 1;
  int device = -1;        // --device: one GPU for every rank (-1: by local rank, device_map.hpp)
  int gpus_per_rank = 1;  // --gpus-per-rank: blocks alternate over this many GPUs
};

// The CPU backend uses the node's cores shared among its `local_size` ranks, so that ranks on one
// node do not oversubscribe it. An unavailable backend is a usage error.
std::unique_ptr<Backend> make_backend(const BackendRequest& request);

// auto|cpu|cuda|torch; a usage error otherwise.
BackendKind parse_backend(const std::string& name);

Interp parse_interp(const std::string& name);
std::string interp_name(Interp interp);

// The scan window an output block needs: the transform sampled over the block every `step`
// pixels (edges included), bounding box, plus the filter radius and a safety pixel, clipped to
// the scan. Empty when the block maps wholly outside the scan.
Window source_window(const transform::Transform& t, const Window& out_block, Size scan, Interp interp, int step = 8);

}  // namespace alinify::warp
