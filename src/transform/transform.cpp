#include "alinify/transform/transform.hpp"

#include "alinify/core/error.hpp"

namespace alinify::transform {

std::optional<BSplineProblem> validate_grid_size(int64_t points_x, int64_t points_y) {
  const int64_t points[2] = {points_x, points_y};
  for (int axis = 0; axis < 2; ++axis)
    if (points[axis] < 1 || points[axis] > kMaxGridPointsPerAxis)
      return BSplineProblem{BSplineProblem::Rule::kGridSizeOutOfRange, axis};
  // Both axes are at most 10^5 here: the product cannot overflow.
  if (points_x * points_y > kMaxGridPoints) return BSplineProblem{BSplineProblem::Rule::kTooManyGridPoints};
  return std::nullopt;
}

std::optional<BSplineProblem> validate(const BSpline& b) {
  if (auto problem = validate_grid_size(b.size[0], b.size[1])) return problem;
  if (!(b.spacing[0] > 0) || !(b.spacing[1] > 0)) return BSplineProblem{BSplineProblem::Rule::kSpacingNotPositive};
  if (b.direction[0] * b.direction[3] - b.direction[1] * b.direction[2] == 0)
    return BSplineProblem{BSplineProblem::Rule::kDirectionSingular};
  const size_t points = static_cast<size_t>(b.size[0]) * static_cast<size_t>(b.size[1]);
  if (b.coef_x.size() != points || b.coef_y.size() != points)
    return BSplineProblem{BSplineProblem::Rule::kCoefficientCount};
  return std::nullopt;
}

Vec2 Transform::apply(Vec2 p) const {
  TransformView v = view();
  Vec2 q;
  apply_view(v, p.x, p.y, &q.x, &q.y);
  return q;
}

TransformView Transform::view() const {
  if (stages.size() > static_cast<size_t>(kMaxStages))
    fail_runtime("transform has " + std::to_string(stages.size()) + " stages; at most " + std::to_string(kMaxStages) +
                 " are supported");
  TransformView v{};
  v.n = static_cast<int>(stages.size());
  for (size_t k = 0; k < stages.size(); ++k) {
    const Stage& st = stages[k];
    StageView& s = v.s[k];
    s.kind = st.kind;
    s.combine = st.combine;
    for (int i = 0; i < 4; ++i) s.m[i] = st.affine.m[i];
    s.offset[0] = st.affine.offset[0];
    s.offset[1] = st.affine.offset[1];
    if (st.kind == StageKind::kBSpline) {
      const BSpline& b = st.bspline;
      // (D * diag(spacing))^-1
      double a = b.direction[0] * b.spacing[0], bb = b.direction[1] * b.spacing[1];
      double c = b.direction[2] * b.spacing[0], d = b.direction[3] * b.spacing[1];
      double det = a * d - bb * c;
      if (det == 0) fail_runtime("B-spline grid has a singular direction/spacing");
      s.inv[0] = d / det;
      s.inv[1] = -bb / det;
      s.inv[2] = -c / det;
      s.inv[3] = a / det;
      s.origin[0] = b.origin[0];
      s.origin[1] = b.origin[1];
      s.size[0] = b.size[0];
      s.size[1] = b.size[1];
      s.coef_x = b.coef_x.data();
      s.coef_y = b.coef_y.data();
    }
  }
  return v;
}

Transform Transform::affine_part() const {
  Transform t;
  for (const Stage& s : stages)
    if (s.kind == StageKind::kAffine) t.stages.push_back(s);
  return t;
}

}  // namespace alinify::transform
