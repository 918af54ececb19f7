#include "alinify/reg/bspline_fit.hpp"

#include <Eigen/Sparse>
#include <algorithm>
#include <cmath>

#include "alinify/core/error.hpp"
#include "alinify/transform/transform_eval.hpp"

namespace alinify::reg {
namespace {

using Triplets = std::vector<Eigen::Triplet<double>>;

// The 16 control points under (x, y) and their weights (the evaluator's own basis).
struct Support {
  int index[16];
  double weight[16];
};

Support support_at(const transform::BSpline& g, double x, double y) {
  const double cx = (x - g.origin[0]) / g.spacing[0], cy = (y - g.origin[1]) / g.spacing[1];
  const double fx = std::floor(cx), fy = std::floor(cy);
  const int ix = static_cast<int>(fx) - 1, iy = static_cast<int>(fy) - 1;
  double wx[4], wy[4];
  transform::bspline3_weights(cx - fx, wx);
  transform::bspline3_weights(cy - fy, wy);
  Support s{};
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 4; ++i) {
      s.index[j * 4 + i] = (iy + j) * g.size[0] + ix + i;
      s.weight[j * 4 + i] = wx[i] * wy[j];
    }
  return s;
}

// Bending: squared second differences of the coefficients along x, along y, and mixed (twice,
// as in the thin-plate energy). The same operator acts on both displacement components.
Eigen::SparseMatrix<double> bending(const transform::BSpline& g) {
  const int nx = g.size[0], ny = g.size[1];
  Triplets t;
  int row = 0;
  const auto at = [nx](int i, int j) { return j * nx + i; };
  for (int j = 0; j < ny; ++j)
    for (int i = 1; i + 1 < nx; ++i, ++row) {
      t.emplace_back(row, at(i - 1, j), 1.0);
      t.emplace_back(row, at(i, j), -2.0);
      t.emplace_back(row, at(i + 1, j), 1.0);
    }
  for (int j = 1; j + 1 < ny; ++j)
    for (int i = 0; i < nx; ++i, ++row) {
      t.emplace_back(row, at(i, j - 1), 1.0);
      t.emplace_back(row, at(i, j), -2.0);
      t.emplace_back(row, at(i, j + 1), 1.0);
    }
  const double r2 = std::sqrt(2.0);
  for (int j = 0; j + 1 < ny; ++j)
    for (int i = 0; i + 1 < nx; ++i, ++row) {
      t.emplace_back(row, at(i, j), r2);
      t.emplace_back(row, at(i + 1, j), -r2);
      t.emplace_back(row, at(i, j + 1), -r2);
      t.emplace_back(row, at(i + 1, j + 1), r2);
    }
  Eigen::SparseMatrix<double> r(row, nx * ny);
  r.setFromTriplets(t.begin(), t.end());
  return r;
}

// One weighted, regularised least-squares solve for both components (one factorisation).
void solve(transform::BSpline& g, const std::vector<FitPoint>& points, const std::vector<double>& weights,
           const Eigen::SparseMatrix<double>& bend, const FitOptions& o) {
  const int n = g.size[0] * g.size[1];
  Triplets t;
  Eigen::VectorXd bx = Eigen::VectorXd::Zero(n), by = Eigen::VectorXd::Zero(n);
  double total = 0;
  for (size_t k = 0; k < points.size(); ++k) {
    const double w = weights[k];
    if (!(w > 0)) continue;
    total += w;
    const Support s = support_at(g, points[k].x, points[k].y);
    for (int a = 0; a < 16; ++a) {
      bx[s.index[a]] += w * s.weight[a] * points[k].dx;
      by[s.index[a]] += w * s.weight[a] * points[k].dy;
      for (int b = 0; b < 16; ++b) t.emplace_back(s.index[a], s.index[b], w * s.weight[a] * s.weight[b]);
    }
  }
  // Scaled by the data weight per control point, so the balance does not depend on the block count.
  const double scale = total / n;
  for (int i = 0; i < n; ++i) t.emplace_back(i, i, o.ridge * scale);
  Eigen::SparseMatrix<double> normal(n, n);
  normal.setFromTriplets(t.begin(), t.end());
  normal += (o.smoothness * scale) * (bend.transpose() * bend);
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt(normal);
  if (ldlt.info() != Eigen::Success) fail_runtime("refinement fit: the normal equations could not be factorised");
  const Eigen::VectorXd cx = ldlt.solve(bx), cy = ldlt.solve(by);
  g.coef_x.assign(cx.data(), cx.data() + n);
  g.coef_y.assign(cy.data(), cy.data() + n);
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

}  // namespace

transform::BSpline make_grid(Size domain, double spacing) {
  transform::BSpline g;
  const int64_t sides[2] = {domain.width, domain.height};
  for (int a = 0; a < 2; ++a) {
    g.origin[a] = -spacing;
    g.spacing[a] = spacing;
    // The last pixel (side - 1) must lie below index size - 2: floor((side-1)/spacing) + 1 < size - 2.
    g.size[a] = static_cast<int>(std::floor(static_cast<double>(sides[a] - 1) / spacing)) + 4;
  }
  g.coef_x.assign(static_cast<size_t>(g.size[0]) * g.size[1], 0.0);
  g.coef_y = g.coef_x;
  return g;
}

Vec2 displacement_at(const transform::BSpline& field, double x, double y) {
  const Support s = support_at(field, x, y);
  Vec2 d;
  for (int a = 0; a < 16; ++a) {
    d.x += s.weight[a] * field.coef_x[s.index[a]];
    d.y += s.weight[a] * field.coef_y[s.index[a]];
  }
  return d;
}

SmoothnessChoice choose_smoothness(const std::vector<FitPoint>& points, Size domain, const FitOptions& options,
                                   const CrossValidation& cv) {
  SmoothnessChoice c;
  std::vector<FitPoint> training;
  std::vector<const FitPoint*> held;
  for (const FitPoint& p : points) {
    if (!(p.weight > 0)) continue;
    const auto cx = static_cast<int64_t>(std::floor(p.x / cv.cell_px));
    const auto cy = static_cast<int64_t>(std::floor(p.y / cv.cell_px));
    if (cx % 2 == 0 && cy % 2 == 0)
      held.push_back(&p);
    else
      training.push_back(p);
  }
  c.held_out = static_cast<int>(held.size());
  c.training = static_cast<int>(training.size());
  if (held.size() < 4 || training.size() < 4) return c;
  // Weighted mean of the clipped squared error of a prediction over the held-out points.
  const auto score = [&](const auto& predict) {
    double sw = 0, se = 0;
    for (const FitPoint* p : held) {
      const Vec2 f = predict(*p);
      const double e = std::pow(p->dx - f.x, 2) + std::pow(p->dy - f.y, 2);
      se += p->weight * std::min(e, cv.clip_px * cv.clip_px);
      sw += p->weight;
    }
    return se / sw;
  };
  c.zero_score = score([](const FitPoint&) { return Vec2{}; });
  c.score = c.zero_score;
  double best = std::min(c.zero_score * (1 - cv.min_gain), c.zero_score - cv.min_removed_px * cv.min_removed_px);
  for (const double s : cv.smoothness) {
    FitOptions o = options;
    o.smoothness = s;
    const FitResult fit = fit_bspline(training, domain, o);
    c.scores.push_back(score([&](const FitPoint& p) { return displacement_at(fit.field, p.x, p.y); }));
    if (c.scores.back() < best) {
      best = c.scores.back();
      c.correct = true;
      c.smoothness = s;
      c.score = best;
    }
  }
  return c;
}

FitResult fit_bspline(const std::vector<FitPoint>& points, Size domain, const FitOptions& o) {
  FitResult r;
  r.field = make_grid(domain, o.spacing);
  std::vector<double> weights(points.size());
  for (size_t k = 0; k < points.size(); ++k) weights[k] = points[k].weight > 0 ? points[k].weight : 0;
  if (std::none_of(weights.begin(), weights.end(), [](double w) { return w > 0; }))
    fail_runtime("refinement fit: no block measurement to fit");
  const Eigen::SparseMatrix<double> bend = bending(r.field);
  for (int round = 0; round < o.rounds; ++round) {
    solve(r.field, points, weights, bend, o);
    if (round + 1 == o.rounds) break;
    // Residuals of the points still in; those beyond k x MAD (and the floor) are dropped.
    std::vector<double> residual(points.size(), 0), kept;
    for (size_t k = 0; k < points.size(); ++k) {
      if (!(weights[k] > 0)) continue;
      const Vec2 f = displacement_at(r.field, points[k].x, points[k].y);
      residual[k] = std::hypot(points[k].dx - f.x, points[k].dy - f.y);
      kept.push_back(residual[k]);
    }
    const double limit = std::max(o.reject_floor_px, o.reject_mads * 1.4826 * median_of(kept));
    for (size_t k = 0; k < points.size(); ++k)
      if (weights[k] > 0 && residual[k] > limit) weights[k] = 0;
  }
  r.used.assign(points.size(), false);
  for (size_t k = 0; k < points.size(); ++k) {
    r.used[k] = weights[k] > 0;
    r.used_count += r.used[k] ? 1 : 0;
    r.rejected += (points[k].weight > 0 && !r.used[k]) ? 1 : 0;
  }
  return r;
}

}  // namespace alinify::reg
