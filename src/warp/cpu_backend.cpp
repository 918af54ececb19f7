#include "alinify/warp/cpu_backend.hpp"

#include <omp.h>

#include <vector>

#include "alinify/warp/cpu_rows.hpp"

namespace alinify::warp {

void CpuBackend::set_transform(const transform::Transform& t) {
  transform_ = t;
  view_ = transform_.view();
}

void CpuBackend::warp(const SourceView& src, const OutputBlock& out, const WarpSettings& settings) {
  const transform::TransformView view = view_;
  const int threads = threads_ > 0 ? threads_ : omp_get_max_threads();
  if (settings.exact) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t j = 0; j < out.height; ++j)
      for (int64_t i = 0; i < out.width; ++i) warp_pixel(view, src, out, settings.interp, settings.fill, i, j);
    return;
  }
  lattice_.build(view, out.x0, out.y0, out.width, out.height, kLatticeTolerance, threads);
  const LatticeView lattice = lattice_.view();
#pragma omp parallel num_threads(threads)
  {
    std::vector<FixedPoint> q(static_cast<size_t>(out.width));  // one row's positions, per thread
#pragma omp for schedule(static)
    for (int64_t j = 0; j < out.height; ++j) {
      lattice_row(lattice, out.x0, out.y0 + j, out.width, q.data());
      uint8_t* row = out.data + j * out.stride;
      sample_row_fixed(src, q.data(), out.width, settings.interp, settings.fill, row);
    }
  }
}

}  // namespace alinify::warp
