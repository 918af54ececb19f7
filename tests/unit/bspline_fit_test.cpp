// The refinement's fit (src/reg/bspline_fit.cpp): a known smooth displacement comes back from
// noisy scattered measurements with outliers, and a region without measurements is bridged.
#include "alinify/reg/bspline_fit.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>

namespace alinify::reg {
namespace {

// Smooth, with periods of 1200-1600 px and amplitudes of 1-1.5 px (fine waves as synth makes them).
Vec2 truth_at(double x, double y) {
  return {1.5 * std::sin(2 * M_PI * x / 1200) * std::cos(2 * M_PI * y / 1500),
          1.0 * std::cos(2 * M_PI * (x + y) / 1600)};
}

bool in_hole(double x, double y) { return x > 700 && x < 1100 && y > 500 && y < 900; }

struct Case {
  std::vector<FitPoint> points;
  int outliers = 0;
};

// Measurements every 96 px (blocks with overlap), noise 0.05 px, every 13th point 4-6 px off, and
// no weight inside a 400x400 hole (a plain area).
Case measurements(Size domain) {
  Case c;
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::uniform_real_distribution<double> off(4.0, 6.0);
  int k = 0;
  for (double y = 48; y < domain.height; y += 96)
    for (double x = 48; x < domain.width; x += 96, ++k) {
      const Vec2 t = truth_at(x, y);
      FitPoint p{x, y, t.x + noise(rng), t.y + noise(rng), 0.5 + 0.5 * ((k * 7) % 5) / 4.0};
      if (in_hole(x, y)) {
        p.weight = 0;
        p.dx = 40;  // nonsense that must count for nothing
      } else if (k % 13 == 0) {
        p.dx += off(rng);
        ++c.outliers;
      }
      c.points.push_back(p);
    }
  return c;
}

TEST(BSplineFit, RecoversSmoothFieldWithOutliersAndBridgesHole) {
  const Size domain{2000, 1500};
  const Case c = measurements(domain);
  const FitResult r = fit_bspline(c.points, domain);
  EXPECT_GE(r.rejected, c.outliers);
  EXPECT_LE(r.rejected, c.outliers + 10);  // a few good points at most are lost
  double worst = 0, worst_hole = 0;
  for (double y = 0; y < domain.height; y += 25)
    for (double x = 0; x < domain.width; x += 25) {
      const Vec2 t = truth_at(x, y), f = displacement_at(r.field, x, y);
      const double e = std::hypot(t.x - f.x, t.y - f.y);
      // The outermost 48 px lie beyond the last measurement: extrapolated, not measured.
      if (x < 48 || y < 48 || x > domain.width - 48 || y > domain.height - 48) continue;
      (in_hole(x, y) ? worst_hole : worst) = std::max(in_hole(x, y) ? worst_hole : worst, e);
    }
  EXPECT_LT(worst, 0.15) << worst;
  EXPECT_LT(worst_hole, 0.4) << worst_hole;
}

TEST(BSplineFit, FieldEvaluatesAsTheTransformStage) {
  const Size domain{900, 700};
  const FitResult r = fit_bspline(measurements(domain).points, domain);
  transform::Transform t;
  transform::Stage s;
  s.kind = transform::StageKind::kBSpline;
  s.bspline = r.field;
  t.stages.push_back(s);
  ASSERT_FALSE(transform::validate(r.field));
  for (const Vec2 p : {Vec2{0, 0}, Vec2{899, 699}, Vec2{431.5, 12.25}}) {
    const Vec2 q = t.apply(p), d = displacement_at(r.field, p.x, p.y);
    EXPECT_NEAR(q.x - p.x, d.x, 1e-12);
    EXPECT_NEAR(q.y - p.y, d.y, 1e-12);
    EXPECT_NE(d.x, 0.0);  // inside the valid region, not cut to zero
  }
}

// Dense measurements (every 32 px, as the refinement's blocks) of `field` with noise of `sigma`.
template <class Field>
std::vector<FitPoint> dense(Size domain, double sigma, Field field) {
  std::vector<FitPoint> points;
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0.0, sigma);
  for (double y = 32; y < domain.height; y += 32)
    for (double x = 32; x < domain.width; x += 32) {
      const Vec2 t = field(x, y);
      points.push_back({x, y, t.x + noise(rng), t.y + noise(rng), 1.0});
    }
  return points;
}

double rms_error(const transform::BSpline& f, Size domain, Vec2 (*truth)(double, double)) {
  double s = 0;
  int n = 0;
  for (double y = 64; y < domain.height - 64; y += 16)
    for (double x = 64; x < domain.width - 64; x += 16, ++n) {
      const Vec2 t = truth(x, y), d = displacement_at(f, x, y);
      s += std::pow(t.x - d.x, 2) + std::pow(t.y - d.y, 2);
    }
  return std::sqrt(s / n);
}

Vec2 zero_field(double, double) { return {}; }

// The cross-validation tests' domain and control grid (the refinement's 64 px).
const Size kCvDomain{1600, 1200};
FitOptions cv_options() {
  FitOptions o;
  o.spacing = 64;
  return o;
}

// Noise alone (no displacement to find): no correction predicts the held-out points better.
TEST(BSplineFit, CrossValidationMakesNoCorrectionFromNoiseAlone) {
  const SmoothnessChoice c = choose_smoothness(dense(kCvDomain, 0.1, zero_field), kCvDomain, cv_options());
  EXPECT_FALSE(c.correct) << c.smoothness;
  EXPECT_GT(c.held_out, 100);
  EXPECT_GT(c.training, 3 * c.held_out - 100);  // a quarter held out
  EXPECT_EQ(c.scores.size(), CrossValidation{}.smoothness.size());
}

// A smooth field under heavy noise: the chosen weight is a stiff one, and its fit is closer to the
// truth than the least smooth candidate's, which follows the noise.
TEST(BSplineFit, CrossValidationChoosesAStiffFieldUnderHeavyNoise) {
  const Size domain = kCvDomain;
  const FitOptions o = cv_options();
  const std::vector<FitPoint> points = dense(domain, 0.3, truth_at);
  const SmoothnessChoice c = choose_smoothness(points, domain, o);
  ASSERT_TRUE(c.correct);
  EXPECT_GT(c.smoothness, CrossValidation{}.smoothness.front());
  EXPECT_LT(c.score, c.zero_score);
  FitOptions chosen = o, loosest = o;
  chosen.smoothness = c.smoothness;
  loosest.smoothness = CrossValidation{}.smoothness.front();
  const double e_chosen = rms_error(fit_bspline(points, domain, chosen).field, domain, truth_at);
  const double e_loosest = rms_error(fit_bspline(points, domain, loosest).field, domain, truth_at);
  EXPECT_LT(e_chosen, e_loosest);
  EXPECT_LT(e_chosen, 0.1) << e_chosen;
}

// A fine field (period 256 px, 2 px) measured precisely: a stiff field cannot follow it, so the
// chosen weight is the loosest or next to it, and the fit follows the waves.
Vec2 fine_waves(double x, double y) { return {2 * std::sin(2 * M_PI * x / 256), 2 * std::cos(2 * M_PI * y / 320)}; }

TEST(BSplineFit, CrossValidationFollowsFineWavesMeasuredPrecisely) {
  const std::vector<FitPoint> points = dense(kCvDomain, 0.03, fine_waves);
  FitOptions o = cv_options();
  const SmoothnessChoice c = choose_smoothness(points, kCvDomain, o);
  ASSERT_TRUE(c.correct);
  EXPECT_LE(c.smoothness, CrossValidation{}.smoothness[1]);
  o.smoothness = c.smoothness;
  EXPECT_LT(rms_error(fit_bspline(points, kCvDomain, o).field, kCvDomain, fine_waves), 0.1);
}

// Knot insertion: the coarse level's field, moved onto the fine grid, is the same function.
TEST(BSplineFit, RefinedGridIsTheSameFunction) {
  const Size domain{1000, 700};
  for (const int factor : {2, 3, 8}) {
    transform::BSpline coarse = make_grid(domain, 40.0 * factor);
    std::mt19937 rng(factor);
    std::uniform_real_distribution<double> c(-2.0, 2.0);
    for (double& v : coarse.coef_x) v = c(rng);
    for (double& v : coarse.coef_y) v = c(rng);
    const transform::BSpline fine = refined_grid(coarse, domain, 40.0, factor);
    ASSERT_EQ(fine.size[0], make_grid(domain, 40.0).size[0]);
    double worst = 0;
    for (double y = 0; y <= domain.height - 1; y += 7.3)
      for (double x = 0; x <= domain.width - 1; x += 5.9) {
        const Vec2 a = displacement_at(coarse, x, y), b = displacement_at(fine, x, y);
        worst = std::max(worst, std::hypot(a.x - b.x, a.y - b.y));
      }
    EXPECT_LT(worst, 1e-9) << "factor " << factor;
  }
}

// A tilted field (a residual that grows toward a corner, as elastix leaves at a border) measured
// everywhere but in a 500 x 400 px corner: the two-level fit continues the trend into the corner
// (0.37 px off of 4.3 px at the corner pixel when written); one level, pulled toward zero, leaves
// nearly all of it (3.99 px). (The 283 MP periodic pair's largest error was such a corner: all its
// blocks were ambiguous dots.)
Vec2 tilt(double x, double y) { return {1.0 + 0.002 * (1600 - x), 0.5 - 0.001 * y}; }

TEST(BSplineFit, TwoLevelsFollowTheTrendIntoACornerWithoutMeasurements) {
  std::vector<FitPoint> points = dense(kCvDomain, 0.05, tilt);
  for (FitPoint& p : points)
    if (p.x < 500 && p.y > kCvDomain.height - 400) p.weight = 0;
  FitOptions two = cv_options(), one = cv_options();
  two.smoothness = one.smoothness = 0.05;
  one.coarse_factor = 1;
  const auto corner_error = [&](const FitOptions& o) {
    const FitResult r = fit_bspline(points, kCvDomain, o);
    const Vec2 t = tilt(0, kCvDomain.height - 1), f = displacement_at(r.field, 0, kCvDomain.height - 1);
    return std::hypot(t.x - f.x, t.y - f.y);
  };
  const double e_two = corner_error(two), e_one = corner_error(one);
  EXPECT_LT(e_two, 0.5) << e_two;
  EXPECT_GT(e_one, 5 * e_two) << e_one;
}

// The fit keeps CHOLMOD's OpenMP region on the calling thread by switching nested levels off for
// the factorisation: the process's own setting must come back (the warp and the defect stage use
// OpenMP after the refinement).
TEST(BSplineFit, LeavesTheProcessOpenMpSettingAsItFoundIt) {
  const int before = omp_get_max_active_levels();
  omp_set_max_active_levels(3);
  const Size domain{2000, 1500};
  const FitResult r = fit_bspline(measurements(domain).points, domain);
  EXPECT_GT(r.used_count, 0);
  EXPECT_EQ(omp_get_max_active_levels(), 3);
  int threads = 0;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    threads = omp_get_num_threads();
  }
  EXPECT_EQ(threads, 2);
  omp_set_max_active_levels(before);
}

TEST(BSplineFit, NothingToFitIsAnError) {
  std::vector<FitPoint> none(3);
  EXPECT_THROW(fit_bspline(none, Size{100, 100}), std::exception);
}

}  // namespace
}  // namespace alinify::reg
