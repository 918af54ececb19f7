#include "alinify/qa/deformation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace alinify::qa {

double jacobian_determinant(const transform::Transform& t, Vec2 p, double h) {
  const Vec2 xp = t.apply({p.x + h, p.y}), xm = t.apply({p.x - h, p.y});
  const Vec2 yp = t.apply({p.x, p.y + h}), ym = t.apply({p.x, p.y - h});
  const double a = (xp.x - xm.x) / (2 * h), c = (xp.y - xm.y) / (2 * h);
  const double b = (yp.x - ym.x) / (2 * h), d = (yp.y - ym.y) / (2 * h);
  return a * d - b * c;
}

double jacobian_determinant_inside(const transform::Transform& t, Vec2 p, Size design, double h) {
  const double x0 = std::max(0.0, p.x - h), x1 = std::min(static_cast<double>(design.width - 1), p.x + h);
  const double y0 = std::max(0.0, p.y - h), y1 = std::min(static_cast<double>(design.height - 1), p.y + h);
  if (!(x1 > x0 && y1 > y0)) return jacobian_determinant(t, p, h);
  const Vec2 xp = t.apply({x1, p.y}), xm = t.apply({x0, p.y});
  const Vec2 yp = t.apply({p.x, y1}), ym = t.apply({p.x, y0});
  const double a = (xp.x - xm.x) / (x1 - x0), c = (xp.y - xm.y) / (x1 - x0);
  const double b = (yp.x - ym.x) / (y1 - y0), d = (yp.y - ym.y) / (y1 - y0);
  return a * d - b * c;
}

double local_deformation(const transform::Transform& t, const transform::Transform& affine_part, Vec2 p) {
  const Vec2 q = t.apply(p), r = affine_part.apply(p);
  return std::hypot(q.x - r.x, q.y - r.y);
}

DeformationStats deformation_stats(const transform::Transform& t, Size design, int points_per_side) {
  DeformationStats s;
  const double longer = static_cast<double>(std::max(design.width, design.height));
  s.grid_step = std::max(1.0, longer / std::max(2, points_per_side));
  const transform::Transform affine = t.affine_part();
  s.jacobian_min = std::numeric_limits<double>::infinity();
  s.jacobian_max = -std::numeric_limits<double>::infinity();
  double sum_d = 0, sum_l = 0;
  for (double y = 0; y <= design.height - 1; y += s.grid_step)
    for (double x = 0; x <= design.width - 1; x += s.grid_step) {
      const Vec2 q = t.apply({x, y});
      const double d = std::hypot(q.x - x, q.y - y);
      const double l = local_deformation(t, affine, {x, y});
      const double j = jacobian_determinant_inside(t, {x, y}, design);
      s.max_displacement = std::max(s.max_displacement, d);
      s.max_local = std::max(s.max_local, l);
      s.jacobian_min = std::min(s.jacobian_min, j);
      s.jacobian_max = std::max(s.jacobian_max, j);
      s.folded_points += j <= 0;
      sum_d += d;
      sum_l += l;
      ++s.grid_points;
    }
  if (s.grid_points > 0) {
    s.mean_displacement = sum_d / s.grid_points;
    s.mean_local = sum_l / s.grid_points;
  } else {
    s.jacobian_min = s.jacobian_max = 0;
  }
  return s;
}

}  // namespace alinify::qa
