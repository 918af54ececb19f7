#pragma once
// Header-only transform evaluation shared by the CPU and CUDA warps (ALINIFY_HD).
#include <math.h>

#include "alinify/core/hd.hpp"

namespace alinify::transform {

enum class StageKind : int { kAffine = 0, kBSpline = 1 };
enum class Combine : int { kCompose = 0, kAdd = 1 };

constexpr int kMaxStages = 8;

struct StageView {
  StageKind kind;
  Combine combine;
  double m[4];
  double offset[2];
  // B-spline: continuous grid index = inv * (p - origin), inv = (direction * diag(spacing))^-1
  double origin[2];
  double inv[4];
  int size[2];
  const double* coef_x;
  const double* coef_y;
};

struct TransformView {
  int n = 0;
  StageView s[kMaxStages];
};

// Cubic B-spline basis weights for the 4 control points starting at floor(t) - 1.
ALINIFY_HD inline void bspline3_weights(double t, double w[4]) {
  double u = 1.0 - t;
  double t2 = t * t, t3 = t2 * t;
  w[0] = u * u * u / 6.0;
  w[1] = (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0;
  w[2] = (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0;
  w[3] = t3 / 6.0;
}

// Displacement of a cubic B-spline stage at p. Outside the grid's valid region
// ([1, size-2) in continuous index, as in elastix's AdvancedBSplineDeformableTransform) it is zero.
ALINIFY_HD inline void bspline_displacement(const StageView& s, double px, double py, double* dx, double* dy) {
  double rx = px - s.origin[0], ry = py - s.origin[1];
  double cx = s.inv[0] * rx + s.inv[1] * ry;
  double cy = s.inv[2] * rx + s.inv[3] * ry;
  *dx = 0;
  *dy = 0;
  if (!(cx >= 1.0 && cx < s.size[0] - 2.0 && cy >= 1.0 && cy < s.size[1] - 2.0)) return;
  double fx = floor(cx), fy = floor(cy);
  int ix = static_cast<int>(fx) - 1, iy = static_cast<int>(fy) - 1;
  double wx[4], wy[4];
  bspline3_weights(cx - fx, wx);
  bspline3_weights(cy - fy, wy);
  double sx = 0, sy = 0;
  for (int j = 0; j < 4; ++j) {
    const int row = (iy + j) * s.size[0] + ix;
    double rxs = 0, rys = 0;
    for (int i = 0; i < 4; ++i) {
      rxs += wx[i] * s.coef_x[row + i];
      rys += wx[i] * s.coef_y[row + i];
    }
    sx += wy[j] * rxs;
    sy += wy[j] * rys;
  }
  *dx = sx;
  *dy = sy;
}

ALINIFY_HD inline void apply_stage(const StageView& s, double px, double py, double* qx, double* qy) {
  if (s.kind == StageKind::kAffine) {
    *qx = s.m[0] * px + s.m[1] * py + s.offset[0];
    *qy = s.m[2] * px + s.m[3] * py + s.offset[1];
  } else {
    double dx, dy;
    bspline_displacement(s, px, py, &dx, &dy);
    *qx = px + dx;
    *qy = py + dy;
  }
}

// Maps an output (design) pixel to a scan pixel.
ALINIFY_HD inline void apply_view(const TransformView& t, double px, double py, double* qx, double* qy) {
  double cx = px, cy = py;
  for (int k = 0; k < t.n; ++k) {
    const StageView& s = t.s[k];
    if (s.combine == Combine::kCompose || k == 0) {
      apply_stage(s, cx, cy, &cx, &cy);
    } else {  // Add: S_k(x) + T_{k-1}(x) - x
      double sx, sy;
      apply_stage(s, px, py, &sx, &sy);
      cx += sx - px;
      cy += sy - py;
    }
  }
  *qx = cx;
  *qy = cy;
}

}  // namespace alinify::transform
