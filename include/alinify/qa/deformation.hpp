#pragma once
// Statistics of a transform over the design: how far it moves pixels, how much of that is local
// deformation beyond its affine part, and its Jacobian determinant (area change). A determinant
// at or below zero means the map folds the fabric over itself: never physical, always a red flag.
#include <cstdint>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::qa {

struct DeformationStats {
  int grid_points = 0;
  double grid_step = 0;         // design pixels between samples
  double max_displacement = 0;  // max |T(p) - p|, pixels
  double mean_displacement = 0;
  double max_local = 0;  // max |T(p) - A(p)|, A = the transform's affine stages only
  double mean_local = 0;
  double jacobian_min = 0, jacobian_max = 0;
  int folded_points = 0;  // samples with det J <= 0
  bool folds() const { return folded_points > 0; }
};

// Samples T on a grid of about `points_per_side` points along the design's longer side; the
// Jacobian comes from central differences over one pixel.
DeformationStats deformation_stats(const transform::Transform& t, Size design, int points_per_side = 96);

// det of the Jacobian of T at p (central differences, h pixels).
double jacobian_determinant(const transform::Transform& t, Vec2 p, double h = 1.0);

// The same with the differences kept inside the design [0, w-1] x [0, h-1] (one-sided at its
// edges): T is defined on the design only, and a B-spline stage is zero outside its grid's valid
// region, which starts at pixel 0 for the refinement's correction. A central difference across the
// edge measured that step as a fold (283 MP synth pair: det -0.43 at 4 of 7296 border samples,
// while forward differences inside gave at least 1.001 everywhere).
double jacobian_determinant_inside(const transform::Transform& t, Vec2 p, Size design, double h = 1.0);

// |T(p) - A(p)|: the part of the displacement the affine stages do not explain.
double local_deformation(const transform::Transform& t, const transform::Transform& affine_part, Vec2 p);

}  // namespace alinify::qa
