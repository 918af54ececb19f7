#pragma once
// The refinement's fit (issue 16 item 2; docs/registration.md, "Refinement"): one smooth cubic
// B-spline displacement field through scattered, weighted block measurements, by regularised
// least squares with robust rejection. Pure function, no I/O, no ranks: rank 0 calls it on the
// gathered measurements in a fixed order, so the field is the same for any rank count.
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::reg {

// A measured displacement (dx, dy) at (x, y), full-resolution pixels; weight 0 counts for nothing.
struct FitPoint {
  double x = 0, y = 0;
  double dx = 0, dy = 0;
  double weight = 0;
};

struct FitOptions {
  double spacing = 256;  // control-point spacing, full-resolution pixels
  // Weight of the bending term (squared second differences of the coefficients) against the data
  // term, relative to the data weight per control point: it bridges blocks without texture and
  // keeps the field smooth between measurements. 0.0005: the unit test's 1.5 px field of period
  // 1200 px comes back within 0.07 px; 0.05 flattens it by 0.8 px.
  double smoothness = 0.0005;
  // A pull toward zero (same scale), so that control points far from any measurement (the borders,
  // beyond the last block) stay near zero instead of extrapolating: at 1e-6 a fine-wave pair's
  // border went 25 px off (eval max); 1e-3 leaves 9 px there and the smallest mean; 1e-2 shrinks
  // the unit test's field by 0.18 px.
  double ridge = 1e-3;
  int rounds = 3;                // fits; after each but the last, outliers are rejected
  double reject_mads = 3.0;      // residual > reject_mads x 1.4826 x MAD is an outlier
  double reject_floor_px = 0.3;  // ... but never below this (measurement noise is ~0.05 px)
};

struct FitResult {
  transform::BSpline field;  // valid over the whole domain ([0, w-1] x [0, h-1])
  std::vector<bool> used;    // per point: weight > 0 and not rejected in the last round
  int used_count = 0;
  int rejected = 0;  // points with weight > 0 rejected as outliers
};

// The grid: control points every `spacing` px from -spacing, enough of them that the whole domain
// lies in the evaluator's valid region ([1, size-2) in continuous index).
transform::BSpline make_grid(Size domain, double spacing);

// Throws alinify::Error (runtime) when there is nothing to fit (no point with weight > 0).
FitResult fit_bspline(const std::vector<FitPoint>& points, Size domain, const FitOptions& options = {});

// The field's displacement at (x, y).
Vec2 displacement_at(const transform::BSpline& field, double x, double y);

}  // namespace alinify::reg
