#include "support/test_transforms.hpp"

#include <cmath>

namespace alinify::test {

transform::Transform affine(double a, double b, double c, double d, double tx, double ty) {
  transform::Transform t;
  transform::Stage s;
  s.affine.m[0] = a;
  s.affine.m[1] = b;
  s.affine.m[2] = c;
  s.affine.m[3] = d;
  s.affine.offset[0] = tx;
  s.affine.offset[1] = ty;
  t.stages.push_back(s);
  return t;
}

transform::Transform affine_plus_bspline(transform::Combine combine) {
  transform::Transform t = affine(0.98, 0.03, -0.02, 1.01, 4.25, -2.5);
  transform::Stage b;
  b.kind = transform::StageKind::kBSpline;
  b.combine = combine;
  b.bspline.size[0] = 12;
  b.bspline.size[1] = 10;
  b.bspline.spacing[0] = b.bspline.spacing[1] = 48;
  b.bspline.origin[0] = b.bspline.origin[1] = -72;
  for (int i = 0; i < 120; ++i) {
    b.bspline.coef_x.push_back(2.0 * std::sin(0.37 * i));
    b.bspline.coef_y.push_back(1.5 * std::cos(0.23 * i));
  }
  t.stages.push_back(b);
  return t;
}

std::vector<Vec2> elastix_fixture_points() {
  std::vector<Vec2> pts;
  for (int j = 0; j <= 8; ++j)
    for (int i = 0; i <= 8; ++i) pts.push_back({-10.0 + i * 26.37, -12.0 + j * 24.91});
  pts.push_back({0, 0});
  pts.push_back({191, 175});
  pts.push_back({95.5, 87.5});
  return pts;
}

transform::Transform inverse_affine_of(const synth::Truth& truth, double dx, double dy) {
  const double* m = truth.m;
  const double det = m[0] * m[3] - m[1] * m[2];
  const double i0 = m[3] / det, i1 = -m[1] / det, i2 = -m[2] / det, i3 = m[0] / det;
  const double ox = dx - truth.offset[0], oy = dy - truth.offset[1];
  return affine(i0, i1, i2, i3, i0 * ox + i1 * oy, i2 * ox + i3 * oy);
}

}  // namespace alinify::test
