#pragma once
// The sparse exact transform: scan coordinates evaluated exactly on a lattice of output pixels and
// interpolated bilinearly in between, in fixed point (ALINIFY_HD: the CPU, CUDA and LibTorch
// backends read the same lattice through the same lattice_point(), so they sample at the same
// positions, to the bit). The lattice is built on the host (lattice_build.hpp).
//
// Cells are 32 x 32 output pixels anchored at global output (0, 0), so a pixel's position never
// depends on how the output is cut into strips and blocks (identity across rank counts). Each cell
// has its own step (32, 16, ..., 1): the largest whose sub-cells all pass the midpoint check
// against the exact transform; at step 1 every pixel is a node, i.e. exact.
#include <math.h>
#include <stdint.h>

#include "alinify/core/hd.hpp"

namespace alinify::warp {

constexpr int kCellShift = 5;  // cells of 32 px: the 16-32 px, the coarser end (fewer exact evaluations)
constexpr int64_t kCellSize = int64_t{1} << kCellShift;
constexpr int kFracBits = 16;  // scan coordinates in 1/65536 px: quantising adds < 1e-5 px to the error
constexpr int64_t kFracOne = int64_t{1} << kFracBits;

// Scan position in fixed point (kFracBits fractional bits).
struct FixedPoint {
  int64_t x, y;
};

struct LatticeCell {
  int32_t step_shift;  // step = 1 << step_shift output pixels between nodes (0..kCellShift)
  int32_t unused;
  int64_t first;  // index of the cell's node (0, 0) in the node array; nodes row by row
};

struct LatticeView {
  const LatticeCell* cells;
  const FixedPoint* nodes;
  int64_t cx0, cy0;  // global index of the first cell
  int64_t cells_x;   // cells per row
};

// Nodes per side of a cell with this step.
ALINIFY_HD inline int64_t lattice_side(int step_shift) { return (kCellSize >> step_shift) + 1; }

// Bilinear interpolation between four nodes in exact integer arithmetic, rounded half up: u, v in
// [0, step) are the offsets from node a (b right of it, c below, d below right).
ALINIFY_HD inline FixedPoint lattice_blend(FixedPoint a, FixedPoint b, FixedPoint c, FixedPoint d, int64_t u, int64_t v,
                                           int step_shift) {
  const int64_t s = int64_t{1} << step_shift;
  const int64_t wa = (s - u) * (s - v), wb = u * (s - v), wc = (s - u) * v, wd = u * v;
  const int shift = 2 * step_shift;
  const int64_t half = shift > 0 ? int64_t{1} << (shift - 1) : 0;
  return {(wa * a.x + wb * b.x + wc * c.x + wd * d.x + half) >> shift,
          (wa * a.y + wb * b.y + wc * c.y + wd * d.y + half) >> shift};
}

// The scan position of global output pixel (gx, gy), which must lie in a cell of the lattice.
ALINIFY_HD inline FixedPoint lattice_point(const LatticeView& l, int64_t gx, int64_t gy) {
  const LatticeCell cell = l.cells[((gy >> kCellShift) - l.cy0) * l.cells_x + ((gx >> kCellShift) - l.cx0)];
  const int s = cell.step_shift;
  const int64_t u = gx & (kCellSize - 1), v = gy & (kCellSize - 1), n = lattice_side(s);
  const int64_t mask = (int64_t{1} << s) - 1;
  const FixedPoint* p = l.nodes + cell.first + (v >> s) * n + (u >> s);
  if ((u & mask) == 0 && (v & mask) == 0) return p[0];
  return lattice_blend(p[0], p[1], p[n], p[n + 1], u & mask, v & mask, s);
}

// The positions of output pixels [gx0, gx0 + width) of row gy, as lattice_point() gives them, for a
// caller that walks rows (the CPU): within a sub-cell the blend's numerator grows by the same
// integer from pixel to pixel, so adding it reproduces lattice_point()'s integers exactly, with
// two additions per pixel instead of its products (tests/unit/lattice_test.cpp holds them equal).
inline void lattice_row(const LatticeView& l, int64_t gx0, int64_t gy, int64_t width, FixedPoint* q) {
  const int64_t v = gy & (kCellSize - 1), end = gx0 + width;
  const LatticeCell* row = l.cells + ((gy >> kCellShift) - l.cy0) * l.cells_x - l.cx0;
  for (int64_t x = gx0; x < end;) {
    const LatticeCell cell = row[x >> kCellShift];
    const int s = cell.step_shift;
    const int64_t step = int64_t{1} << s, mask = step - 1, u = x & (kCellSize - 1), n = lattice_side(s);
    const int64_t fu = u & mask, fv = v & mask, stop = x - fu + step < end ? x - fu + step : end;
    const FixedPoint* p = l.nodes + cell.first + (v >> s) * n + (u >> s);
    const FixedPoint a = p[0], b = p[1], c = p[n], d = p[n + 1];
    const int shift = 2 * s;
    const int64_t half = shift > 0 ? int64_t{1} << (shift - 1) : 0;
    const int64_t wa = (step - fu) * (step - fv), wb = fu * (step - fv), wc = (step - fu) * fv, wd = fu * fv;
    int64_t nx = wa * a.x + wb * b.x + wc * c.x + wd * d.x, ny = wa * a.y + wb * b.y + wc * c.y + wd * d.y;
    const int64_t dx = (step - fv) * (b.x - a.x) + fv * (d.x - c.x), dy = (step - fv) * (b.y - a.y) + fv * (d.y - c.y);
    for (; x < stop; ++x, nx += dx, ny += dy) *q++ = {(nx + half) >> shift, (ny + half) >> shift};
  }
}

// Far enough outside any scan to be filled, small enough that the blend cannot overflow.
constexpr double kFarOutside = 1073741824.0;  // 2^30 px

// A scan position in pixels to fixed point; NaN (and anything past 2^30 px) to far outside.
ALINIFY_HD inline int64_t to_fixed(double v) {
  if (!(v > -kFarOutside && v < kFarOutside)) return static_cast<int64_t>(-kFarOutside) * kFracOne;
  return static_cast<int64_t>(floor(v * static_cast<double>(kFracOne) + 0.5));
}

ALINIFY_HD inline double from_fixed(int64_t q) { return static_cast<double>(q) / static_cast<double>(kFracOne); }

}  // namespace alinify::warp
