// The LibTorch backend: at::grid_sampler on one block at a time. The sampling grid is block-sized
// (8 bytes per output pixel of the block), never the whole image: a full-image float copy plus a
// full-image grid would take 20 bytes per output pixel, gigabytes on a scan. The source coordinates
// come from the same lattice as the native kernels' (lattice_build.hpp; apply_view with --exact),
// so the two differ only
// in the sampling: LibTorch's bicubic is Keys with a = -0.75 (ours is a = -0.5, as GDAL's), its
// nearest rounds half to even; bilinear agrees to rounding. See docs/gpu.md.
#include "alinify/warp/torch_backend.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <cstring>
#include <stdexcept>

#include "alinify/core/error.hpp"
#include "alinify/warp/lattice_build.hpp"

namespace alinify::warp {
namespace {

class TorchBackend final : public Backend {
 public:
  TorchBackend(at::Device device, int threads) : device_(device) {
    if (device_.is_cpu() && threads > 0) at::set_num_threads(threads);
  }
  std::string name() const override { return "torch:" + device_.str(); }

  void set_transform(const transform::Transform& t) override {
    host_ = t;
    view_ = host_.view();
  }

  void warp(const SourceView& src, const OutputBlock& out, const WarpSettings& s) override {
    const int64_t H = src.height, W = src.width, h = out.height, w = out.width;
    // N C H W float input on the device, from the uint8 window.
    at::Tensor window = at::from_blob(const_cast<uint8_t*>(src.data), {H, W, 3}, {src.stride, 3, 1}, at::kByte);
    at::Tensor input = window.to(device_).permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).contiguous();
    // Grid: normalised window coordinates (align_corners: -1 and 1 are the first and last centres).
    at::Tensor grid = at::empty({1, h, w, 2}, at::kFloat);
    float* g = grid.data_ptr<float>();
    std::vector<uint8_t> outside(static_cast<size_t>(h * w), 0);
    const double sx = W > 1 ? 2.0 / (W - 1) : 0.0, sy = H > 1 ? 2.0 / (H - 1) : 0.0;
    if (!s.exact) lattice_.build(view_, out.x0, out.y0, w, h);
    for (int64_t j = 0; j < h; ++j)
      for (int64_t i = 0; i < w; ++i) {
        double qx, qy;
        scan_position(s.exact, out.x0 + i, out.y0 + j, &qx, &qy);
        const size_t k = static_cast<size_t>(j * w + i);
        outside[k] = !inside_scan(src, qx, qy);
        g[2 * k] = static_cast<float>((qx - src.x0) * sx - (W > 1 ? 1.0 : 0.0));
        g[2 * k + 1] = static_cast<float>((qy - src.y0) * sy - (H > 1 ? 1.0 : 0.0));
      }
    const int64_t mode = s.interp == Interp::kBilinear ? 0 : s.interp == Interp::kNearest ? 1 : 2;
    // Border padding: edge replication, as the native kernels do inside the scan.
    at::Tensor result = at::grid_sampler(input, grid.to(device_), mode, /*padding border*/ 1, /*align_corners*/ true);
    at::Tensor rgb = result.round().clamp(0, 255).to(at::kByte).squeeze(0).permute({1, 2, 0}).contiguous().to(at::kCPU);
    const uint8_t* r = rgb.data_ptr<uint8_t>();
    for (int64_t j = 0; j < h; ++j) {
      uint8_t* row = out.data + j * out.stride;
      std::memcpy(row, r + j * w * 3, static_cast<size_t>(w) * 3);
      for (int64_t i = 0; i < w; ++i)
        if (outside[static_cast<size_t>(j * w + i)]) put_rgb(row + i * 3, s.fill);
    }
  }

 private:
  // Where output pixel (x, y) samples the scan: the native kernels' position, to the bit.
  void scan_position(bool exact, int64_t x, int64_t y, double* qx, double* qy) const {
    if (exact) return transform::apply_view(view_, static_cast<double>(x), static_cast<double>(y), qx, qy);
    const FixedPoint q = lattice_point(lattice_.view(), x, y);
    *qx = from_fixed(q.x);
    *qy = from_fixed(q.y);
  }

  at::Device device_;
  Lattice lattice_;
  transform::Transform host_;  // owns the B-spline coefficients the view points to
  transform::TransformView view_{};
};

}  // namespace

}  // namespace alinify::warp

// Errors stay inside the plugin: they come back as text, not as exceptions across dlopen.
extern "C" alinify::warp::Backend* alinify_torch_backend_create(int local_rank, int device, int cpu_threads,
                                                                char* error, int error_size) {
  using namespace alinify::warp;
  try {
    const int count = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
    if (count == 0) {
      if (device >= 0)
        throw std::runtime_error("--device: this LibTorch has no CUDA device (Debian's libtorch-dev is CPU-only)");
      spdlog::info("backend torch: LibTorch has no CUDA device, grid_sampler runs on the CPU");
      return new TorchBackend(at::Device(at::kCPU), cpu_threads);
    }
    const int d = device >= 0 ? device : local_rank % count;
    if (d >= count)
      throw std::runtime_error("--device " + std::to_string(d) + ": LibTorch sees " + std::to_string(count) +
                               " GPU(s)");
    return new TorchBackend(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d)), cpu_threads);
  } catch (const std::exception& e) {
    if (error_size > 0) {
      const auto end = fmt::format_to_n(error, static_cast<size_t>(error_size) - 1, "{}", e.what()).out;
      *end = '\0';
    }
    return nullptr;
  }
}
