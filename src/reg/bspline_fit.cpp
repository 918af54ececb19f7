#include "alinify/reg/bspline_fit.hpp"

#include <omp.h>

#include <Eigen/CholmodSupport>
#include <Eigen/Sparse>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "alinify/core/error.hpp"
#include "alinify/transform/transform_eval.hpp"

namespace alinify::reg {
namespace {

using Triplets = std::vector<Eigen::Triplet<double>>;

// CHOLMOD 3 (Debian 12's SuiteSparse 5.12) assembles supernodes in an OpenMP region of a fixed 4
// threads (CHOLMOD_OMP_NUM_THREADS, compiled in: OMP_NUM_THREADS does not reach it). A rank is
// bound to one core, so 4 threads take turns on it, and the supernodes of these grids are small:
// at 283 MP (18,240 control points, the periodic pair's 69,498 block records) the
// cross-validation took 2.65 s on one core with them and 1.25 s without, the fit 0.46 -> 0.25 s,
// and on two free cores 4.71 -> 1.24 s (the same choice and coefficients; docs/registration.md,
// "CHOLMOD on one thread"). No OpenMP level is active while this lives, so CHOLMOD's region runs
// in the calling thread alone; the process's setting comes back after.
class CholmodOnOneThread {
 public:
  CholmodOnOneThread() : levels_(omp_get_max_active_levels()) { omp_set_max_active_levels(0); }
  ~CholmodOnOneThread() { omp_set_max_active_levels(levels_); }
  CholmodOnOneThread(const CholmodOnOneThread&) = delete;
  CholmodOnOneThread& operator=(const CholmodOnOneThread&) = delete;

 private:
  int levels_;
};

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

// The normal equations of the fit on one grid, assembled without triplets. Every coefficient
// couples only with those within 3 control points in x and y (a point's 4x4 support, the bending
// operator's 3x3 and +-2 along x and y): a 7x7 stencil per column at most. The pattern is the
// bending's everywhere and the offsets beyond it that some point's support holds: the fewer
// entries, the less fill in the factor (a full 7x7 everywhere made the check's sparse blocks'
// factorisations a third slower than triplets did). The data term is accumulated into the pattern's slots
// directly, and the pattern is analysed (ordering, elimination tree) once for a point set, then
// only factorised per solve (the rounds drop points: their slots stay, at zero). The first version
// built 256 triplets per point per solve: at 283 MP (45,000 blocks, 18,000 control points) the
// cross-validation's 21 solves took 19 s and the final fit 3 s on one core, most of it sorting
// triplets; then the factorisations were what was left (94 % of a fit in perf with Eigen's
// SimplicialLDLT, about 1.7 s each on the 2-core machine). CHOLMOD's supernodal Cholesky does them
// in dense BLAS blocks: the same points' cross-validation 35.6 -> 6.5 s, the fit 6.4 -> 1.1 s with
// OpenBLAS (27.2 s / 4.8 s with the reference BLAS), the same weight chosen and the same
// coefficients to 9 digits (docs/registration.md).
class NormalSystem {
 public:
  NormalSystem(const transform::BSpline& g, const std::vector<FitPoint>& points)
      : nx_(g.size[0]), ny_(g.size[1]), n_(nx_ * ny_) {
    std::vector<uint8_t> used(static_cast<size_t>(n_) * kStencil, 0);
    const Eigen::SparseMatrix<double> bend = bending(g);
    const Eigen::SparseMatrix<double> btb = bend.transpose() * bend;
    for (int c = 0; c < btb.outerSize(); ++c)
      for (Eigen::SparseMatrix<double>::InnerIterator it(btb, c); it; ++it)
        used[static_cast<size_t>(c) * kStencil + offset_between(static_cast<int>(it.row()), c)] = 1;
    for (const FitPoint& p : points) {
      if (!(p.weight > 0)) continue;
      const Support s = support_at(g, p.x, p.y);
      for (int a = 0; a < 16; ++a)
        for (int b = 0; b < 16; ++b)
          used[static_cast<size_t>(s.index[a]) * kStencil + offset(b % 4 - a % 4, b / 4 - a / 4)] = 1;
    }
    // The pattern: for each column, its rows in ascending order (dy major, dx minor: ascending
    // because a neighbour stays inside the grid).
    std::vector<int> outer(static_cast<size_t>(n_) + 1, 0);
    std::vector<int> inner;
    slot_.assign(static_cast<size_t>(n_) * kStencil, -1);
    for (int c = 0; c < n_; ++c) {
      const int cx = c % nx_, cy = c / nx_;
      for (int dy = -3; dy <= 3; ++dy)
        for (int dx = -3; dx <= 3; ++dx) {
          const int x = cx + dx, y = cy + dy;
          if (x < 0 || y < 0 || x >= nx_ || y >= ny_ || !used[static_cast<size_t>(c) * kStencil + offset(dx, dy)])
            continue;
          slot_[static_cast<size_t>(c) * kStencil + offset(dx, dy)] = static_cast<int>(inner.size());
          inner.push_back(y * nx_ + x);
        }
      outer[static_cast<size_t>(c) + 1] = static_cast<int>(inner.size());
    }
    matrix_.resize(n_, n_);
    matrix_.resizeNonZeros(static_cast<Eigen::Index>(inner.size()));
    std::copy(outer.begin(), outer.end(), matrix_.outerIndexPtr());
    std::copy(inner.begin(), inner.end(), matrix_.innerIndexPtr());
    // The bending operator's normal matrix, in the same slots.
    bend_.assign(inner.size(), 0.0);
    for (int c = 0; c < btb.outerSize(); ++c)
      for (Eigen::SparseMatrix<double>::InnerIterator it(btb, c); it; ++it)
        bend_[static_cast<size_t>(slot(static_cast<int>(it.row()), c))] += it.value();
    std::fill(matrix_.valuePtr(), matrix_.valuePtr() + inner.size(), 1.0);
    cholesky_.cholmod().print = 0;  // a failure is reported below, in one line, not on stdout
    cholesky_.analyzePattern(matrix_);
    check("analysed");
  }

  // One weighted, regularised least-squares solve for both components (one factorisation).
  void solve(transform::BSpline& g, const std::vector<FitPoint>& points, const std::vector<double>& weights,
             const FitOptions& o) {
    const size_t nnz = bend_.size();
    std::vector<double> data(nnz, 0.0);
    Eigen::VectorXd bx = Eigen::VectorXd::Zero(n_), by = Eigen::VectorXd::Zero(n_);
    double total = 0;
    for (size_t k = 0; k < points.size(); ++k) {
      const double w = weights[k];
      if (!(w > 0)) continue;
      total += w;
      const Support s = support_at(g, points[k].x, points[k].y);
      for (int a = 0; a < 16; ++a) {
        const double wa = w * s.weight[a];
        bx[s.index[a]] += wa * points[k].dx;
        by[s.index[a]] += wa * points[k].dy;
        // Column index[a], rows index[b]: the supports' 4x4 layout gives the offsets directly.
        const int* col = &slot_[static_cast<size_t>(s.index[a]) * kStencil];
        for (int b = 0; b < 16; ++b)
          data[static_cast<size_t>(col[offset(b % 4 - a % 4, b / 4 - a / 4)])] += wa * s.weight[b];
      }
    }
    // Scaled by the data weight per control point, so the balance does not depend on the block count.
    const double scale = total / n_;
    double* v = matrix_.valuePtr();
    for (size_t i = 0; i < nnz; ++i) v[i] = data[i] + o.smoothness * scale * bend_[i];
    for (int i = 0; i < n_; ++i) v[slot(i, i)] += o.ridge * scale;
    const CholmodOnOneThread one_thread;
    cholesky_.factorize(matrix_);
    check("factorised");
    const Eigen::VectorXd cx = cholesky_.solve(bx);
    check("solved");
    const Eigen::VectorXd cy = cholesky_.solve(by);
    check("solved");
    g.coef_x.assign(cx.data(), cx.data() + n_);
    g.coef_y.assign(cy.data(), cy.data() + n_);
  }

 private:
  // Eigen's info() looks at the factor's minor only: a CHOLMOD failure before the numeric stage
  // (out of memory, say) leaves it at Success while the factor is stale or merely symbolic, and
  // solve() then returns another system's answer. CHOLMOD's own status says.
  void check(const char* what) {
    const int status = cholesky_.cholmod().status;
    if (status < CHOLMOD_OK || cholesky_.info() != Eigen::Success)
      fail_runtime(std::string("refinement fit: the normal equations could not be ") + what + " (CHOLMOD status " +
                   std::to_string(status) + (status == CHOLMOD_OUT_OF_MEMORY ? ": out of memory" : "") +
                   (cholesky_.info() == Eigen::NumericalIssue ? ", not positive definite" : "") + ")");
  }

  static constexpr int kStencil = 49;
  static int offset(int dx, int dy) { return (dy + 3) * 7 + dx + 3; }
  int offset_between(int r, int c) const { return offset(r % nx_ - c % nx_, r / nx_ - c / nx_); }
  // The value slot of (row r, column c): r must lie within the column's pattern.
  int slot(int r, int c) const { return slot_[static_cast<size_t>(c) * kStencil + offset_between(r, c)]; }

  int nx_, ny_, n_;
  std::vector<int> slot_;     // per column and stencil offset: index into the values, -1 outside the grid
  std::vector<double> bend_;  // B^T B per value slot
  Eigen::SparseMatrix<double> matrix_;
  // Lower: CHOLMOD reads the lower triangle of the symmetric matrix (both are stored).
  Eigen::CholmodSupernodalLLT<Eigen::SparseMatrix<double>, Eigen::Lower> cholesky_;
};

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

// Knot insertion for a uniform cubic B-spline: beta(u) = sum_j w_j beta(f u - j), j = -(2f-2)..2f-2,
// w = four boxes of length f convolved, / f^3 ((1 4 6 4 1) / 8 for f = 2). make_grid puts the
// coarse knot k at f s (k - 1) and the fine knot m at s (m - 1), so coarse k feeds fine
// m = f k + j - (f - 1); fine indices outside the grid carry no weight on the domain.
transform::BSpline refined_grid(const transform::BSpline& coarse, Size domain, double s, int factor) {
  transform::BSpline fine = make_grid(domain, s);
  const int f = factor;
  std::vector<double> w(1, 1.0);
  for (int b = 0; b < 4; ++b) {
    std::vector<double> next(w.size() + static_cast<size_t>(f) - 1, 0.0);
    for (size_t i = 0; i < w.size(); ++i)
      for (int k = 0; k < f; ++k) next[i + static_cast<size_t>(k)] += w[i];
    w = next;
  }
  for (double& v : w) v /= static_cast<double>(f) * f * f;
  const int half = 2 * f - 2;
  const int cnx = coarse.size[0], cny = coarse.size[1], fnx = fine.size[0], fny = fine.size[1];
  const auto refine = [&](const std::vector<double>& c, std::vector<double>& out) {
    std::vector<double> rows(static_cast<size_t>(cny) * fnx, 0.0);  // refined along x
    for (int ky = 0; ky < cny; ++ky)
      for (int kx = 0; kx < cnx; ++kx)
        for (int j = -half; j <= half; ++j) {
          const int m = f * kx + j - (f - 1);
          if (m >= 0 && m < fnx)
            rows[static_cast<size_t>(ky) * fnx + m] += c[static_cast<size_t>(ky) * cnx + kx] * w[j + half];
        }
    for (int ky = 0; ky < cny; ++ky)
      for (int j = -half; j <= half; ++j) {
        const int m = f * ky + j - (f - 1);
        if (m < 0 || m >= fny) continue;
        for (int x = 0; x < fnx; ++x)
          out[static_cast<size_t>(m) * fnx + x] += rows[static_cast<size_t>(ky) * fnx + x] * w[j + half];
      }
  };
  refine(coarse.coef_x, fine.coef_x);
  refine(coarse.coef_y, fine.coef_y);
  return fine;
}

void add_field(transform::BSpline& into, const transform::BSpline& from) {
  if (into.coef_x.size() != from.coef_x.size() || into.coef_y.size() != from.coef_y.size())
    fail_runtime("refinement fit: fields on different grids cannot be added");
  for (size_t k = 0; k < into.coef_x.size(); ++k) {
    into.coef_x[k] += from.coef_x[k];
    into.coef_y[k] += from.coef_y[k];
  }
}

namespace {

// The systems of a fit's grids, analysed once for a point set.
struct Levels {
  Levels(Size domain, const FitOptions& o, const std::vector<FitPoint>& points)
      : fine(make_grid(domain, o.spacing), points) {
    if (o.coarse_factor > 1) coarse.emplace(make_grid(domain, o.spacing * o.coarse_factor), points);
  }
  NormalSystem fine;
  std::optional<NormalSystem> coarse;
};

// One solve of both levels with the current weights: the coarse grid through the points, the fine
// grid through what it leaves; the field returned is their sum on the fine grid.
transform::BSpline solve_levels(Levels& levels, const std::vector<FitPoint>& points, const std::vector<double>& weights,
                                Size domain, const FitOptions& o) {
  transform::BSpline fine = make_grid(domain, o.spacing);
  if (!levels.coarse) {
    levels.fine.solve(fine, points, weights, o);
    return fine;
  }
  transform::BSpline coarse = make_grid(domain, o.spacing * o.coarse_factor);
  FitOptions oc = o;
  oc.smoothness = o.smoothness * o.coarse_smoothness;
  levels.coarse->solve(coarse, points, weights, oc);
  std::vector<FitPoint> rest = points;
  for (size_t k = 0; k < rest.size(); ++k) {
    if (!(weights[k] > 0)) continue;
    const Vec2 c = displacement_at(coarse, rest[k].x, rest[k].y);
    rest[k].dx -= c.x;
    rest[k].dy -= c.y;
  }
  levels.fine.solve(fine, rest, weights, o);
  add_field(fine, refined_grid(coarse, domain, o.spacing, o.coarse_factor));
  return fine;
}

// fit_bspline on systems already made for the grids of (domain, o).
FitResult fit_with(Levels& levels, const std::vector<FitPoint>& points, Size domain, const FitOptions& o) {
  FitResult r;
  std::vector<double> weights(points.size());
  for (size_t k = 0; k < points.size(); ++k) weights[k] = points[k].weight > 0 ? points[k].weight : 0;
  if (std::none_of(weights.begin(), weights.end(), [](double w) { return w > 0; }))
    fail_runtime("refinement fit: no block measurement to fit");
  for (int round = 0; round < o.rounds; ++round) {
    r.field = solve_levels(levels, points, weights, domain, o);
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

}  // namespace

FitResult fit_bspline(const std::vector<FitPoint>& points, Size domain, const FitOptions& o) {
  Levels levels(domain, o, points);
  return fit_with(levels, points, domain, o);
}

CrossValidationSplit split_for_cross_validation(const std::vector<FitPoint>& points, const CrossValidation& cv) {
  CrossValidationSplit split;
  for (const FitPoint& p : points) {
    if (!(p.weight > 0)) continue;
    const auto cx = static_cast<int64_t>(std::floor(p.x / cv.cell_px));
    const auto cy = static_cast<int64_t>(std::floor(p.y / cv.cell_px));
    (cx % 2 == 0 && cy % 2 == 0 ? split.held : split.training).push_back(p);
  }
  return split;
}

namespace {

bool enough(const CrossValidationSplit& split) { return split.held.size() >= 4 && split.training.size() >= 4; }

// Weighted mean of the clipped squared error of a prediction over the held-out points.
template <class Predict>
double held_out_error(const CrossValidationSplit& split, const CrossValidation& cv, const Predict& predict) {
  double sw = 0, se = 0;
  for (const FitPoint& p : split.held) {
    const Vec2 f = predict(p);
    const double e = std::pow(p.dx - f.x, 2) + std::pow(p.dy - f.y, 2);
    se += p.weight * std::min(e, cv.clip_px * cv.clip_px);
    sw += p.weight;
  }
  return se / sw;
}

}  // namespace

std::vector<double> held_out_scores(const CrossValidationSplit& split, Size domain, const FitOptions& options,
                                    const CrossValidation& cv, const std::vector<int>& candidates) {
  std::vector<double> scores;
  if (!enough(split) || candidates.empty()) return scores;
  Levels levels(domain, options, split.training);  // one analysis for every candidate
  for (const int k : candidates) {
    FitOptions o = options;
    o.smoothness = cv.smoothness.at(static_cast<size_t>(k));
    const FitResult fit = fit_with(levels, split.training, domain, o);
    scores.push_back(
        held_out_error(split, cv, [&](const FitPoint& p) { return displacement_at(fit.field, p.x, p.y); }));
  }
  return scores;
}

SmoothnessChoice decide_smoothness(const CrossValidationSplit& split, const std::vector<double>& scores,
                                   const CrossValidation& cv) {
  SmoothnessChoice c;
  c.held_out = static_cast<int>(split.held.size());
  c.training = static_cast<int>(split.training.size());
  if (!enough(split)) return c;
  if (scores.size() != cv.smoothness.size()) fail_runtime("cross-validation: a score per candidate expected");
  c.zero_score = held_out_error(split, cv, [](const FitPoint&) { return Vec2{}; });
  c.score = c.zero_score;
  c.scores = scores;
  double best = std::min(c.zero_score * (1 - cv.min_gain), c.zero_score - cv.min_removed_px * cv.min_removed_px);
  for (size_t k = 0; k < scores.size(); ++k)
    if (scores[k] < best) {
      best = scores[k];
      c.correct = true;
      c.smoothness = cv.smoothness[k];
      c.score = best;
    }
  return c;
}

SmoothnessChoice choose_smoothness(const std::vector<FitPoint>& points, Size domain, const FitOptions& options,
                                   const CrossValidation& cv) {
  const CrossValidationSplit split = split_for_cross_validation(points, cv);
  std::vector<int> all(cv.smoothness.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int>(k);
  return decide_smoothness(split, held_out_scores(split, domain, options, cv, all), cv);
}

}  // namespace alinify::reg
