// The lattice (lattice.hpp, lattice_build.hpp): the interpolated scan position of every output
// pixel lies within 1/64 px of the exact transform, on transforms chosen to be hard for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "alinify/transform/transform.hpp"
#include "alinify/warp/cpu_backend.hpp"
#include "alinify/warp/cpu_rows.hpp"
#include "alinify/warp/fixed_taps.hpp"
#include "alinify/warp/lattice_build.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;
using namespace alinify::warp;

namespace {

constexpr int64_t kW = 640, kH = 480;

// A B-spline stage over the kW x kH output: control points every `spacing` px carrying
// displacements `amp` * sin(...) (smooth, different in x and y).
transform::Stage bspline_stage(double spacing, double amp) {
  transform::Stage s;
  s.kind = transform::StageKind::kBSpline;
  s.combine = transform::Combine::kAdd;  // as a registration writes it
  auto& b = s.bspline;
  b.size[0] = static_cast<int>(kW / spacing) + 4;
  b.size[1] = static_cast<int>(kH / spacing) + 4;
  b.spacing[0] = b.spacing[1] = spacing;
  b.origin[0] = b.origin[1] = -1.5 * spacing;
  for (int j = 0; j < b.size[1]; ++j)
    for (int i = 0; i < b.size[0]; ++i) {
      b.coef_x.push_back(amp * std::sin(0.6 * i + 0.35 * j));
      b.coef_y.push_back(amp * std::cos(0.45 * i - 0.55 * j + 0.4));
    }
  return s;
}

// The largest distance between the lattice's position and the exact one over every output pixel.
double worst_error(const transform::Transform& t, const Lattice& lattice) {
  const transform::TransformView view = t.view();
  double worst = 0;
  for (int64_t y = 0; y < kH; ++y)
    for (int64_t x = 0; x < kW; ++x) {
      double ex, ey;
      transform::apply_view(view, static_cast<double>(x), static_cast<double>(y), &ex, &ey);
      const FixedPoint q = lattice_point(lattice.view(), x, y);
      worst = std::max(worst, std::hypot(from_fixed(q.x) - ex, from_fixed(q.y) - ey));
    }
  return worst;
}

// The smallest Jacobian determinant over the output (finite differences, 1 px): 0 is folding.
double smallest_jacobian(const transform::Transform& t) {
  double smallest = 1e9;
  for (int64_t y = 0; y + 1 < kH; ++y)
    for (int64_t x = 0; x + 1 < kW; ++x) {
      const Vec2 p = t.apply({double(x), double(y)}), px = t.apply({x + 1.0, double(y)}),
                 py = t.apply({double(x), y + 1.0});
      smallest = std::min(smallest, (px.x - p.x) * (py.y - p.y) - (px.y - p.y) * (py.x - p.x));
    }
  return smallest;
}

Lattice whole(const transform::Transform& t) {
  Lattice l;
  l.build(t.view(), 0, 0, kW, kH);
  return l;
}

int64_t refined_cells(const Lattice& l) {
  int64_t n = 0;
  for (int s = 0; s < kCellShift; ++s) n += l.cells_with_step_shift(s);
  return n;
}

}  // namespace

TEST(Lattice, LargeRotationIsWithinTheBoundWithoutRefining) {
  for (double degrees : {37.0, 90.0, 179.0}) {
    const double a = degrees * M_PI / 180;
    const auto t = test::affine(1.3 * std::cos(a), -std::sin(a), std::sin(a), 0.8 * std::cos(a), 250.5, -40.25);
    const Lattice l = whole(t);
    EXPECT_LE(worst_error(t, l), kLatticeTolerance) << degrees << " degrees";
    EXPECT_EQ(refined_cells(l), 0) << "an affine is linear: every cell should keep step 32";
  }
}

TEST(Lattice, BSplineNearFoldingIsWithinTheBoundAndRefines) {
  transform::Transform t = test::affine(0.98, -0.17, 0.17, 0.98, 12.5, 7.25);
  t.stages.push_back(bspline_stage(32, 45.0));  // displacements up to ~45 px: the Jacobian falls to 0.08
  const double jacobian = smallest_jacobian(t);
  ASSERT_GT(jacobian, 0.0) << "the test wants a deformation near folding, not a folded one";
  ASSERT_LT(jacobian, 0.3) << "the test wants a deformation near folding";
  const Lattice l = whole(t);
  EXPECT_LE(worst_error(t, l), kLatticeTolerance);
  EXPECT_GT(refined_cells(l), 0);
}

// The refinement issue's fine grid: control points every 8 px.
TEST(Lattice, FineGridIsWithinTheBound) {
  transform::Transform t = test::affine(1, 0, 0, 1, 3.5, -2.0);
  t.stages.push_back(bspline_stage(8, 1.5));
  const Lattice l = whole(t);
  EXPECT_LE(worst_error(t, l), kLatticeTolerance);
  EXPECT_GT(refined_cells(l), 0);
}

// Cells are anchored at global (0, 0): a pixel's position does not depend on the blocks (and so on
// the strip height or the rank count).
TEST(Lattice, SamePositionsWhateverTheBlocks) {
  transform::Transform t = test::affine(0.99, 0.05, -0.04, 1.01, 2.5, -1.5);
  t.stages.push_back(bspline_stage(24, 3.0));
  const Lattice all = whole(t);
  for (int64_t by = 0; by < kH; by += 40)
    for (int64_t bx = 0; bx < kW; bx += 48) {
      const int64_t bw = std::min<int64_t>(48, kW - bx), bh = std::min<int64_t>(40, kH - by);
      Lattice part;
      part.build(t.view(), bx, by, bw, bh);
      for (int64_t y = by; y < by + bh; ++y)
        for (int64_t x = bx; x < bx + bw; ++x) {
          const FixedPoint a = lattice_point(all.view(), x, y), b = lattice_point(part.view(), x, y);
          ASSERT_TRUE(a.x == b.x && a.y == b.y) << x << "," << y;
        }
    }
}

// A transform that gives NaN somewhere: those pixels are far outside (filled), as with --exact.
TEST(Lattice, NotANumberIsFarOutside) {
  EXPECT_LT(from_fixed(to_fixed(std::nan(""))), -1e9);
  EXPECT_LT(from_fixed(to_fixed(1e300)), -1e9);
  EXPECT_EQ(to_fixed(-2.5), -5 * kFracOne / 2);
}

// --exact keeps per-pixel evaluation: the CPU backend's bytes are warp_pixel's; the lattice's
// differ from them by at most a grey level where every pixel maps inside the scan (positions
// within 1/64 px on content of at most 5 grey levels per pixel).
TEST(Lattice, ExactIsWarpPixelAndTheLatticeIsClose) {
  transform::Transform t = test::affine(0.98, -0.17, 0.17, 0.98, 100, 100);
  t.stages.push_back(bspline_stage(32, 6.0));
  const int64_t sw = 900, sh = 800;
  std::vector<uint8_t> scan(sw * sh * 3);
  for (int64_t y = 0; y < sh; ++y)
    for (int64_t x = 0; x < sw; ++x)
      for (int c = 0; c < 3; ++c)
        scan[(y * sw + x) * 3 + c] = static_cast<uint8_t>(128 + 100 * std::sin(0.04 * x + 0.03 * y + c));
  const SourceView src{scan.data(), 0, 0, sw, sh, sw * 3, sw, sh};
  const size_t bytes = kW * kH * 3;
  std::vector<uint8_t> exact(bytes), lattice(bytes), reference(bytes);
  CpuBackend be;
  be.set_transform(t);
  WarpSettings s;
  s.interp = Interp::kBicubic;
  s.exact = true;
  be.warp(src, {exact.data(), 0, 0, kW, kH, kW * 3}, s);
  s.exact = false;
  be.warp(src, {lattice.data(), 0, 0, kW, kH, kW * 3}, s);
  const OutputBlock ref{reference.data(), 0, 0, kW, kH, kW * 3};
  for (int64_t y = 0; y < kH; ++y)
    for (int64_t x = 0; x < kW; ++x) warp_pixel(t.view(), src, ref, s.interp, s.fill, x, y);
  EXPECT_EQ(exact, reference);
  int worst = 0;
  for (size_t i = 0; i < bytes; ++i) worst = std::max(worst, std::abs(int(exact[i]) - int(lattice[i])));
  EXPECT_LE(worst, 1);
  EXPECT_NE(exact, lattice);  // two paths: some positions differ by enough to round apart
}

// The integer Keys weights against the float ones (interpolate.hpp) at every 1/256 px.
TEST(FixedTaps, CubicWeightsSumToOneAndFollowKeys) {
  for (int32_t f = 0; f < kTapOne; ++f) {
    int32_t w[4];
    cubic_weights_fixed(f, w);
    float ref[4];
    cubic_weights(static_cast<float>(f) / kTapOne, ref);
    EXPECT_EQ(w[0] + w[1] + w[2] + w[3], 1 << kCubicBits);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(w[k] / double(1 << kCubicBits), ref[k], 2.0 / (1 << kCubicBits)) << f;
  }
}

// The integer filters against the float ones at the same (1/256 px) positions, on random content:
// at most one grey level apart (rounding), and equal at whole pixels.
TEST(FixedTaps, FiltersAgreeWithTheFloatFiltersWithinOneGreyLevel) {
  const int64_t w = 24, h = 20;
  std::vector<uint8_t> rgb(w * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  const SourceView s{rgb.data(), 0, 0, w, h, w * 3, w, h};
  for (Interp interp : {Interp::kNearest, Interp::kBilinear, Interp::kBicubic}) {
    int worst = 0;
    for (int64_t k = 0; k < 4000; ++k) {
      const int64_t qx = (k * 7919 * 256) % ((w - 1) * kFracOne), qy = (k * 104729 * 256) % ((h - 1) * kFracOne);
      uint8_t a[3], b[3];
      sample_rgb_fixed(s, {qx, qy}, interp, Rgb{}, a);
      sample_rgb(s, from_fixed(qx), from_fixed(qy), interp, Rgb{}, b);
      for (int c = 0; c < 3; ++c) worst = std::max(worst, std::abs(int(a[c]) - int(b[c])));
    }
    EXPECT_LE(worst, 1) << interp_name(interp);
    uint8_t a[3];
    sample_rgb_fixed(s, {5 * kFracOne, 7 * kFracOne}, interp, Rgb{}, a);
    for (int c = 0; c < 3; ++c) EXPECT_EQ(a[c], rgb[(7 * w + 5) * 3 + c]) << interp_name(interp);
  }
}

// The CPU's SIMD filters (cpu_rows.cpp) against the scalar ones that CUDA also runs: byte for byte,
// for every sub-pixel fraction, in a window that is part of the scan (its edges take the clamped
// path), and outside the scan (the fill).
TEST(FixedTaps, SimdRowIsTheScalarRowByteForByte) {
  if (!simd_taps_available()) GTEST_SKIP() << "this CPU has no SSE4.1: sample_row_fixed is the scalar path";
  const int64_t scan_w = 60, scan_h = 50, x0 = 7, y0 = 5, w = 40, h = 36;
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  for (size_t i = 0; i < 60; ++i) rgb[i * 7] = i % 2 ? 255 : 0;  // extremes, where bicubic overshoots
  const SourceView s{rgb.data(), x0, y0, w, h, w * 3, scan_w, scan_h};
  const int64_t n = 20000;
  std::vector<FixedPoint> q(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    // Positions over the window and a pixel or two around it, every 1/256 fraction in x and in y.
    const int64_t px = x0 - 2 + (k * 7919) % (w + 4), py = y0 - 2 + (k * 104729) % (h + 4);
    q[static_cast<size_t>(k)] = {px * kFracOne + (k % 256) * (kFracOne / 256) + (k * 13) % (kFracOne / 256),
                                 py * kFracOne + ((k / 256) * 37 % 256) * (kFracOne / 256)};
  }
  q[0] = {-3 * kFracOne, 4 * kFracOne};  // outside the scan: the fill
  for (Interp interp : {Interp::kNearest, Interp::kBilinear, Interp::kBicubic}) {
    std::vector<uint8_t> simd(static_cast<size_t>(n * 3)), scalar(simd.size());
    sample_row_fixed(s, q.data(), n, interp, Rgb{1, 2, 3}, simd.data());
    sample_row_fixed_scalar(s, q.data(), n, interp, Rgb{1, 2, 3}, scalar.data());
    int64_t differ = 0;
    for (size_t i = 0; i < simd.size(); ++i) differ += simd[i] != scalar[i];
    EXPECT_EQ(differ, 0) << interp_name(interp);
    EXPECT_EQ(simd[0], 1) << interp_name(interp);
  }
}

// The CPU walks rows (lattice_row); the GPU asks per pixel (lattice_point): the same integers,
// for rows starting anywhere, across refined and unrefined cells.
TEST(Lattice, RowWalkGivesLatticePointExactly) {
  transform::Transform t = test::affine(0.98, -0.17, 0.17, 0.98, 12.5, 7.25);
  t.stages.push_back(bspline_stage(32, 45.0));
  Lattice l;
  l.build(t.view(), 5, 3, kW - 5, kH - 3);
  ASSERT_GT(refined_cells(l), 0);
  std::vector<FixedPoint> q(kW);
  for (int64_t y = 3; y < kH; ++y)
    for (int64_t x0 : {int64_t{5}, int64_t{37}, int64_t{300}}) {
      lattice_row(l.view(), x0, y, kW - x0, q.data());
      for (int64_t x = x0; x < kW; ++x) {
        const FixedPoint p = lattice_point(l.view(), x, y);
        ASSERT_TRUE(p.x == q[x - x0].x && p.y == q[x - x0].y) << x << "," << y;
      }
    }
}

// Rows of cells built on several threads give the lattice one thread gives.
TEST(Lattice, ThreadsDoNotChangeTheLattice) {
  transform::Transform t = test::affine(0.98, -0.17, 0.17, 0.98, 12.5, 7.25);
  t.stages.push_back(bspline_stage(32, 45.0));
  Lattice one, four;
  one.build(t.view(), 0, 0, kW, kH, kLatticeTolerance, 1);
  four.build(t.view(), 0, 0, kW, kH, kLatticeTolerance, 4);
  ASSERT_EQ(one.cells().size(), four.cells().size());
  ASSERT_EQ(one.nodes().size(), four.nodes().size());
  for (size_t k = 0; k < one.cells().size(); ++k) {
    EXPECT_EQ(one.cells()[k].first, four.cells()[k].first);
    EXPECT_EQ(one.cells()[k].step_shift, four.cells()[k].step_shift);
  }
  for (size_t k = 0; k < one.nodes().size(); ++k)
    ASSERT_TRUE(one.nodes()[k].x == four.nodes()[k].x && one.nodes()[k].y == four.nodes()[k].y) << k;
}
