// Placements: their affine map, text, distance and full-overlap score (see coarse_align.hpp).
#include <spdlog/fmt/fmt.h>

#include <cmath>
#include <numbers>

#include "alinify/reg/coarse_align.hpp"
#include "coarse_internal.hpp"

namespace alinify::reg::coarse {

namespace detail {

void rotation_matrix(double angle_deg, double scale, double matrix[4]) {
  const double radians = angle_deg * std::numbers::pi / 180.0, c = std::cos(radians) * scale,
               s = std::sin(radians) * scale;
  matrix[0] = c;
  matrix[1] = -s;
  matrix[2] = s;
  matrix[3] = c;
}

void full_from_coarse(const double matrix[4], double coarse_x, double coarse_y, int factor, double* full_x,
                      double* full_y) {
  const double centre = (factor - 1) / 2.0;
  *full_x = factor * coarse_x + centre - (matrix[0] * centre + matrix[1] * centre);
  *full_y = factor * coarse_y + centre - (matrix[2] * centre + matrix[3] * centre);
}

void coarse_from_full(const double matrix[4], double full_x, double full_y, int factor, double* coarse_x,
                      double* coarse_y) {
  const double centre = (factor - 1) / 2.0;
  *coarse_x = (matrix[0] * centre + matrix[1] * centre + full_x - centre) / factor;
  *coarse_y = (matrix[2] * centre + matrix[3] * centre + full_y - centre) / factor;
}

}  // namespace detail

transform::Affine Placement::affine() const {
  transform::Affine a;
  detail::rotation_matrix(angle_deg, scale, a.m);
  a.offset[0] = tx;
  a.offset[1] = ty;
  if (stretch_y != 1) {
    a.m[2] *= stretch_y;
    a.m[3] *= stretch_y;
    a.offset[1] = stretch_y * (ty + 0.5) - 0.5;
  }
  return a;
}

std::string describe(const Placement& p) {
  if (p.stretch_y != 1)
    return fmt::format("[rotation {:.2f} deg, scale {:.3f}, shift ({:.1f}, {:.1f}) px, the scan's rows x {:.3f}]",
                       p.angle_deg, p.scale, p.tx, p.ty, p.stretch_y);
  return fmt::format("[rotation {:.2f} deg, scale {:.3f}, shift ({:.1f}, {:.1f}) px]", p.angle_deg, p.scale, p.tx,
                     p.ty);
}

double placement_distance(const Placement& a, const Placement& b, int64_t w, int64_t h) {
  const transform::Affine first = a.affine(), second = b.affine();
  const double points[5][2] = {
      {0, 0}, {double(w - 1), 0}, {0, double(h - 1)}, {double(w - 1), double(h - 1)}, {(w - 1) / 2.0, (h - 1) / 2.0}};
  double sum = 0;
  for (const auto& p : points) {
    const double ax = first.m[0] * p[0] + first.m[1] * p[1] + first.offset[0],
                 ay = first.m[2] * p[0] + first.m[3] * p[1] + first.offset[1];
    const double bx = second.m[0] * p[0] + second.m[1] * p[1] + second.offset[0],
                 by = second.m[2] * p[0] + second.m[3] * p[1] + second.offset[1];
    sum += std::hypot(ax - bx, ay - by);
  }
  return sum / 5;
}

double placement_score(const Image& design, const Image& scan, const Placement& p) {
  double matrix[4];
  detail::rotation_matrix(p.angle_deg, p.scale, matrix);
  double tau_x, tau_y;
  detail::coarse_from_full(matrix, p.tx, p.ty, design.factor, &tau_x, &tau_y);
  double sum_a = 0, sum_b = 0, sum_aa = 0, sum_bb = 0, sum_ab = 0;
  int64_t inside = 0, total = 0;
  for (int y = 0; y < design.height; ++y)
    for (int x = 0; x < design.width; ++x) {
      ++total;
      const double vx = matrix[0] * x + matrix[1] * y + tau_x, vy = matrix[2] * x + matrix[3] * y + tau_y;
      if (vx < 0 || vy < 0 || vx > scan.width - 1 || vy > scan.height - 1) continue;
      const double a = design.at(x, y), b = detail::bilinear(scan, vx, vy);
      sum_a += a, sum_b += b, sum_aa += a * a, sum_bb += b * b, sum_ab += a * b;
      ++inside;
    }
  if (inside < total / 4 || inside < 16) return -1;
  const double n = static_cast<double>(inside);
  const double variance_a = sum_aa - sum_a * sum_a / n, variance_b = sum_bb - sum_b * sum_b / n;
  if (variance_a <= 1e-9 * n || variance_b <= 1e-9 * n) return -1;
  const double ncc = (sum_ab - sum_a * sum_b / n) / std::sqrt(variance_a * variance_b);
  return ncc * n / total;
}

}  // namespace alinify::reg::coarse
