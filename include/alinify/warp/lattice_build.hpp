#pragma once
// Builds the lattice of lattice.hpp on the host, for one output block at a time: every backend
// (CPU, CUDA, LibTorch) and the standalone GPU self-test build it with this code, so they agree
// on every node. Header-only for the self-test, which links none of the project's libraries.
//
// Refinement: a cell starts at step 32 and halves its step until every sub-cell passes the
// midpoint check: at the sub-cell's centre and the midpoints of its four edges, the interpolated
// position is within the tolerance of the exact one. For a transform that is locally quadratic
// those five points are where linear interpolation errs most (the corners are exact), so for such
// a transform the check bounds the error everywhere; tests/unit/lattice_test.cpp holds the bound
// over every pixel of strong transforms.
#include <stdint.h>

#include <array>
#include <vector>

#include "alinify/transform/transform_eval.hpp"
#include "alinify/warp/lattice.hpp"

namespace alinify::warp {

// 1/64 px (issue 17): 8 times tighter than gdalwarp's default error threshold (-et 0.125).
constexpr double kLatticeTolerance = 1.0 / 64;

class Lattice {
 public:
  // Covers the global output pixels [x0, x0 + width) x [y0, y0 + height) with the cells they touch.
  // Rows of cells are built on `threads` OpenMP threads where OpenMP is on (the CPU backend); the
  // result does not depend on the thread count.
  void build(const transform::TransformView& t, int64_t x0, int64_t y0, int64_t width, int64_t height,
             double tolerance = kLatticeTolerance, int threads = 1) {
    cx0_ = x0 >> kCellShift;
    cy0_ = y0 >> kCellShift;
    cells_x_ = ((x0 + width - 1) >> kCellShift) - cx0_ + 1;
    const int64_t cells_y = ((y0 + height - 1) >> kCellShift) - cy0_ + 1;
    cells_.resize(static_cast<size_t>(cells_x_ * cells_y));
    if (rows_.size() < static_cast<size_t>(cells_y)) rows_.resize(static_cast<size_t>(cells_y));
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) num_threads(threads)
#endif
    for (int64_t cy = 0; cy < cells_y; ++cy) {
      std::vector<FixedPoint>& nodes = rows_[static_cast<size_t>(cy)];
      nodes.clear();
      for (int64_t cx = 0; cx < cells_x_; ++cx)
        cells_[static_cast<size_t>(cy * cells_x_ + cx)] =
            add_cell(t, (cx0_ + cx) << kCellShift, (cy0_ + cy) << kCellShift, tolerance, nodes);
    }
    (void)threads;
    join_rows(cells_y);
  }

  LatticeView view() const { return {cells_.data(), nodes_.data(), cx0_, cy0_, cells_x_}; }
  const std::vector<LatticeCell>& cells() const { return cells_; }
  const std::vector<FixedPoint>& nodes() const { return nodes_; }
  // How many cells of the last build have step 1 << shift.
  int64_t cells_with_step_shift(int shift) const { return steps_[static_cast<size_t>(shift)]; }

 private:
  // The exact transform at the pixels of one cell and its far edges (33 x 33), each evaluated at
  // most once: a level's check points are the next level's nodes, so a cell that refines all the
  // way to step 1 costs 1089 evaluations, about one per pixel, like --exact.
  class CellSamples {
   public:
    CellSamples(const transform::TransformView& t, int64_t gx0, int64_t gy0) : t_(t), gx0_(gx0), gy0_(gy0) {
      known_.fill(0);
    }
    FixedPoint at(int64_t u, int64_t v) {
      const size_t k = static_cast<size_t>(v * kSide + u);
      if (!known_[k]) {
        double qx, qy;
        transform::apply_view(t_, static_cast<double>(gx0_ + u), static_cast<double>(gy0_ + v), &qx, &qy);
        values_[k] = {to_fixed(qx), to_fixed(qy)};
        known_[k] = 1;
      }
      return values_[k];
    }

   private:
    static constexpr int64_t kSide = kCellSize + 1;
    const transform::TransformView& t_;
    int64_t gx0_, gy0_;
    std::array<FixedPoint, kSide * kSide> values_;
    std::array<uint8_t, kSide * kSide> known_;
  };

  // Whether interpolating every sub-cell of this step stays within the tolerance at its centre and
  // edge midpoints. NaN from the transform is far outside (to_fixed), so it fails unless the
  // whole cell is NaN.
  static bool cell_passes(CellSamples& exact, int shift, double tolerance) {
    const int64_t s = int64_t{1} << shift, h = s / 2;
    const int64_t du[5] = {h, h, h, 0, s}, dv[5] = {h, 0, s, h, h};  // centre, then the edge midpoints
    for (int64_t v = 0; v < kCellSize; v += s)
      for (int64_t u = 0; u < kCellSize; u += s) {
        const FixedPoint a = exact.at(u, v), b = exact.at(u + s, v), c = exact.at(u, v + s), d = exact.at(u + s, v + s);
        for (int k = 0; k < 5; ++k) {
          const FixedPoint f = lattice_blend(a, b, c, d, du[k], dv[k], shift), e = exact.at(u + du[k], v + dv[k]);
          const double dx = from_fixed(f.x - e.x), dy = from_fixed(f.y - e.y);
          if (!(dx * dx + dy * dy <= tolerance * tolerance)) return false;
        }
      }
    return true;
  }

  // One cell's nodes appended to its row's; `first` is relative to the row until join_rows().
  static LatticeCell add_cell(const transform::TransformView& t, int64_t gx0, int64_t gy0, double tolerance,
                              std::vector<FixedPoint>& nodes) {
    CellSamples exact(t, gx0, gy0);
    int shift = kCellShift;
    while (shift > 0 && !cell_passes(exact, shift, tolerance)) --shift;  // step 1: exact by construction
    const int64_t first = static_cast<int64_t>(nodes.size()), n = lattice_side(shift);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t a = 0; a < n; ++a) nodes.push_back(exact.at(a << shift, b << shift));
    return {shift, 0, first};
  }

  // The rows' nodes into one array, each cell's `first` made absolute; the step counts.
  void join_rows(int64_t cells_y) {
    nodes_.clear();
    steps_.fill(0);
    for (int64_t cy = 0; cy < cells_y; ++cy) {
      const int64_t base = static_cast<int64_t>(nodes_.size());
      const std::vector<FixedPoint>& row = rows_[static_cast<size_t>(cy)];
      nodes_.insert(nodes_.end(), row.begin(), row.end());
      for (int64_t cx = 0; cx < cells_x_; ++cx) {
        LatticeCell& c = cells_[static_cast<size_t>(cy * cells_x_ + cx)];
        c.first += base;
        ++steps_[static_cast<size_t>(c.step_shift)];
      }
    }
  }

  std::vector<LatticeCell> cells_;
  std::vector<FixedPoint> nodes_;
  std::vector<std::vector<FixedPoint>> rows_;  // per row of cells while building, memory reused
  std::array<int64_t, kCellShift + 1> steps_{};
  int64_t cx0_ = 0, cy0_ = 0, cells_x_ = 0;
};

// Lattice::build compiled by the host compiler with OpenMP (lattice_build.cpp), for the CUDA
// backend: nvcc's host pass has no OpenMP, so a build called from a .cu runs on one thread (0.26 s
// for 283 MP, a third of the whole CUDA warp stage measured on an H200) and would be a second,
// differently compiled definition of the same inline function in the library.
void build_lattice_threaded(Lattice& lattice, const transform::TransformView& t, int64_t x0, int64_t y0, int64_t width,
                            int64_t height, int threads);

}  // namespace alinify::warp
