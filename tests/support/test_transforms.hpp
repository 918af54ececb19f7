#pragma once
// Transforms the tests build by hand, and the points the elastix fixtures are compared at.
#include <vector>

#include "alinify/synth/truth.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::test {

// One affine stage: x' = [a b; c d] x + (tx, ty).
transform::Transform affine(double a, double b, double c, double d, double tx, double ty);

// The inverse of a synthetic pair's affine part (its design -> scan map), shifted by (dx, dy) in the
// scan: what a registration that found everything but the waves would give.
transform::Transform inverse_affine_of(const synth::Truth& truth, double dx = 0, double dy = 0);

// A slightly turned, scaled affine followed by a cubic B-spline (12 x 10 control points every
// 48 px, displacements up to 2 px) joined by `combine`: covers a 400 x 300 scan.
transform::Transform affine_plus_bspline(transform::Combine combine = transform::Combine::kCompose);

// Full-resolution design pixels over the 192 x 176 design of tests/fixtures/elastix, and a few
// outside it: where the fixtures' transforms are compared.
std::vector<Vec2> elastix_fixture_points();

}  // namespace alinify::test
