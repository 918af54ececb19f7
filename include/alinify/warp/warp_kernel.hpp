#pragma once
// One output pixel of the warp: the whole math of the CPU and CUDA kernels, two ways.
// warp_pixel_lattice (the default): the scan position from the lattice (lattice.hpp, within
// 1/64 px of the exact transform) and integer filters (fixed_taps.hpp). warp_pixel (--exact): the
// transform evaluated at the pixel and float filters (interpolate.hpp), the bytes of earlier releases.
#include "alinify/transform/transform_eval.hpp"
#include "alinify/warp/fixed_taps.hpp"
#include "alinify/warp/interpolate.hpp"
#include "alinify/warp/lattice.hpp"

namespace alinify::warp {

struct OutputBlock {
  uint8_t* data;   // pixel-interleaved RGB, row-major
  int64_t x0, y0;  // block origin in output (design) pixels
  int64_t width, height;
  int64_t stride;  // bytes per row
};

ALINIFY_HD inline void warp_pixel(const transform::TransformView& t, const SourceView& src, const OutputBlock& out,
                                  Interp interp, Rgb fill, int64_t i, int64_t j) {
  double qx, qy;
  transform::apply_view(t, static_cast<double>(out.x0 + i), static_cast<double>(out.y0 + j), &qx, &qy);
  sample_rgb(src, qx, qy, interp, fill, out.data + j * out.stride + i * 3);
}

ALINIFY_HD inline void warp_pixel_lattice(const LatticeView& l, const SourceView& src, const OutputBlock& out,
                                          Interp interp, Rgb fill, int64_t i, int64_t j) {
  const FixedPoint q = lattice_point(l, out.x0 + i, out.y0 + j);
  sample_rgb_fixed(src, q, interp, fill, out.data + j * out.stride + i * 3);
}

}  // namespace alinify::warp
