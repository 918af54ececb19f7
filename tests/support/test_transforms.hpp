#pragma once
// Transforms the warp and QA tests build by hand.
#include "alinify/transform/transform.hpp"

namespace alinify::test {

// One affine stage: x' = [a b; c d] x + (tx, ty).
transform::Transform affine(double a, double b, double c, double d, double tx, double ty);

// A slightly turned, scaled affine followed by a cubic B-spline (12 x 10 control points every
// 48 px, displacements up to 2 px) joined by `combine`: covers a 400 x 300 scan.
transform::Transform affine_plus_bspline(transform::Combine combine = transform::Combine::kCompose);

}  // namespace alinify::test
