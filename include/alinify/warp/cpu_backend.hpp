#pragma once
#include "alinify/warp/backend.hpp"
#include "alinify/warp/lattice_build.hpp"

namespace alinify::warp {

// The CPU backend: warp_pixel_lattice (or warp_pixel, --exact) over the block, rows shared among
// OpenMP threads.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads = 0) : threads_(threads) {}  // 0: OpenMP's default
  std::string name() const override { return "cpu (" + std::to_string(threads_) + " threads)"; }
  void set_transform(const transform::Transform& t) override;
  void warp(const SourceView& src, const OutputBlock& out, const WarpSettings& settings) override;

 private:
  transform::Transform transform_;  // owns the B-spline coefficients the view points to
  transform::TransformView view_{};
  Lattice lattice_;  // rebuilt for every block, its memory reused
  int threads_ = 0;
};

}  // namespace alinify::warp
