// Registration error against a synthetic truth.
#include "alinify/job/evaluate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/synth/synth.hpp"
#include "alinify/transform/transform.hpp"
#include "support/test_transforms.hpp"

using alinify::Error;
using alinify::ExitCode;
using alinify::Size;
using alinify::Vec2;
using alinify::job::EvalResult;
using alinify::job::evaluate;
using alinify::synth::Truth;
using alinify::test::affine;
using alinify::transform::Transform;

using alinify::test::inverse_affine_of;

namespace {

// The design -> scan transform that inverts the truth's affine part, with an optional design-side
// shift (dx, dy): truth(T(p)) = p + (dx, dy) exactly when the truth has no waves.
Truth no_wave_truth(uint64_t seed) {
  Truth t = alinify::synth::make_truth(Size{640, 480}, Size{660, 470}, seed);
  t.waves.clear();
  return t;
}

}  // namespace

TEST(Evaluate, ExactInverseGivesZeroError) {
  const Truth truth = no_wave_truth(3);
  const EvalResult r = evaluate(inverse_affine_of(truth), truth, 4);
  EXPECT_GT(r.points, 0.8 * (640 / 4) * (480 / 4));
  EXPECT_LE(r.points, (640 / 4) * (480 / 4));
  EXPECT_LT(r.max, 1e-6);
  EXPECT_LT(r.mean, 1e-6);
  EXPECT_LE(r.median, r.max);
  EXPECT_LE(r.p95, r.max);
}

TEST(Evaluate, HalfPixelShiftGivesHalfPixelError) {
  const Truth truth = no_wave_truth(5);
  const EvalResult r = evaluate(inverse_affine_of(truth, 0.5, 0), truth, 3);
  EXPECT_NEAR(r.mean, 0.5, 1e-3);
  EXPECT_NEAR(r.median, 0.5, 2e-4);
  EXPECT_NEAR(r.p95, 0.5, 2e-4);
  EXPECT_NEAR(r.max, 0.5, 1e-9);
  const EvalResult diag = evaluate(inverse_affine_of(truth, 3, -4), truth, 7);
  EXPECT_NEAR(diag.mean, 5.0, 1e-6);
  EXPECT_NEAR(diag.median, 5.0, 2e-4);
}

TEST(Evaluate, CountsOnlyPointsLandingInsideTheScan) {
  Truth truth;
  truth.design = {100, 80};
  truth.scan = {100, 80};
  // Identity truth and transform: every grid point counts, with zero error.
  EvalResult r = evaluate(affine(1, 0, 0, 1, 0, 0), truth, 10);
  EXPECT_EQ(r.points, 10 * 8);
  EXPECT_EQ(r.max, 0.0);
  // Shifted 49.6 px right: design x in {0..40} lands at x <= 89.6 inside; x >= 50 lands beyond 99.5.
  r = evaluate(affine(1, 0, 0, 1, 49.6, 0), truth, 10);
  EXPECT_EQ(r.points, 5 * 8);
  EXPECT_NEAR(r.mean, 49.6, 1e-9);
  EXPECT_NEAR(r.median, 49.6, 2e-4);
}

TEST(Evaluate, QuantilesMatchABruteForceReference) {
  // Identity truth, transform scaled 1% about the origin: error = 0.01 * |p|, a spread distribution.
  Truth truth;
  truth.design = {300, 200};
  truth.scan = {400, 300};
  const double k = 1.01;
  const EvalResult r = evaluate(affine(k, 0, 0, k, 0, 0), truth, 2);
  std::vector<double> e;
  for (int y = 0; y < 200; y += 2)
    for (int x = 0; x < 300; x += 2) e.push_back(std::hypot(x * k - x, y * k - y));
  std::sort(e.begin(), e.end());
  const auto at = [&](double q) { return e[static_cast<size_t>(std::ceil(q * e.size()) - 1)]; };
  double mean = 0;
  for (double v : e) mean += v;
  mean /= static_cast<double>(e.size());
  EXPECT_EQ(r.points, static_cast<int64_t>(e.size()));
  EXPECT_NEAR(r.mean, mean, 1e-9);
  EXPECT_NEAR(r.median, at(0.5), 1e-4);
  EXPECT_NEAR(r.p95, at(0.95), 1e-4);
  EXPECT_NEAR(r.max, e.back(), 1e-12);
  // The error grows with the distance from the origin: largest at the last grid point.
  EXPECT_EQ(r.max_at.x, 298);
  EXPECT_EQ(r.max_at.y, 198);
  EXPECT_LT(r.median, r.p95);
  EXPECT_LT(r.p95, r.max);
  EXPECT_LT(r.mean, r.max);
}

TEST(Evaluate, LargeErrorsBeyondTheFineHistogram) {
  // Errors of ~100..300 px go to the coarse bins: quantiles stay within 1%, max stays exact.
  Truth truth;
  truth.design = {200, 100};
  truth.scan = {2000, 1000};
  const EvalResult r = evaluate(affine(1, 0, 0, 1, 100, 0), truth, 5);
  EXPECT_NEAR(r.mean, 100.0, 1e-9);
  EXPECT_NEAR(r.median, 100.0, 1.0);
  EXPECT_NEAR(r.max, 100.0, 1e-12);
  const EvalResult s = evaluate(affine(2, 0, 0, 2, 100, 0), truth, 5);
  EXPECT_LE(s.median, s.p95);
  EXPECT_LE(s.p95, s.max);
  EXPECT_NEAR(s.max, std::hypot(195.0 + 100, 95.0), 1e-9);
}

TEST(Evaluate, WavesShowUpAsErrorOfAnAffineOnlyTransform) {
  Truth truth = alinify::synth::make_truth(Size{1200, 900}, Size{1200, 900}, 8);
  double amp = 0;
  for (const auto& w : truth.waves) amp += w.amp;
  const EvalResult r = evaluate(inverse_affine_of(truth), truth, 8);
  EXPECT_GT(r.max, 0.2 * amp);
  EXPECT_LE(r.max, amp + 1e-9);
  EXPECT_GT(r.mean, 0.0);
  EXPECT_LE(r.median, r.p95);
}

TEST(Evaluate, FailsWhenNothingLandsInsideTheScan) {
  const Truth truth = no_wave_truth(1);
  try {
    evaluate(affine(1, 0, 0, 1, 1e6, 0), truth, 10);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("no design point maps inside the scan"), std::string::npos);
  }
  EXPECT_THROW(evaluate(affine(1, 0, 0, 1, 0, 0), truth, 0), Error);
}

TEST(Evaluate, JsonHasTheSixFields) {
  EvalResult r;
  r.points = 12;
  r.mean = 0.25;
  r.median = 0.125;
  r.p95 = 0.5;
  r.max = 1.0 / 3.0;
  r.max_at = Vec2{8, 4};
  const auto j = nlohmann::json::parse(r.to_json_text());
  EXPECT_EQ(j.at("points").get<int64_t>(), 12);
  EXPECT_EQ(j.at("mean").get<double>(), 0.25);
  EXPECT_EQ(j.at("median").get<double>(), 0.125);
  EXPECT_EQ(j.at("p95").get<double>(), 0.5);
  EXPECT_EQ(j.at("max").get<double>(), 1.0 / 3.0);
  EXPECT_EQ(j.at("max_at"), nlohmann::json::array({8.0, 4.0}));
  EXPECT_EQ(j.size(), 6u);
}

namespace {

alinify::synth::DefectTruth drawn(int64_t id, int64_t x0, int64_t y0, int64_t x1, int64_t y1, double vx, double vy) {
  alinify::synth::DefectTruth t;
  t.id = id;
  t.x0 = x0, t.y0 = y0, t.x1 = x1, t.y1 = y1;
  t.cx = 0.5 * static_cast<double>(x0 + x1);
  t.cy = 0.5 * static_cast<double>(y0 + y1);
  t.visible_cx = vx, t.visible_cy = vy, t.visible_px = 10;
  return t;
}

alinify::defects::Defect detection(int64_t id, int64_t x0, int64_t y0, int64_t x1, int64_t y1, double cx, double cy,
                                   int64_t area) {
  alinify::defects::Defect d;
  d.id = id;
  d.x0 = x0, d.y0 = y0, d.x1 = x1, d.y1 = y1;
  d.cx = cx, d.cy = cy, d.area = area;
  return d;
}

}  // namespace

// A hand-made list: one blot found 0.5 px off, a streak visible on its right part only and found in
// two pieces, one defect missed, one detection far from everything.
TEST(DefectEval, ScoresAHandMadeList) {
  std::vector<alinify::synth::DefectTruth> truth = {
      drawn(1, 10, 10, 30, 30, 20, 20),
      drawn(2, 100, 50, 200, 54, 175, 52),  // shape centre (150, 52): its left half did not show
      drawn(3, 300, 300, 310, 310, 305, 305)};
  const std::vector<alinify::defects::Defect> found = {
      detection(1, 12, 12, 29, 28, 20.5, 20, 300),
      detection(2, 152, 50, 168, 54, 160, 52, 50),   // the two pieces of the streak: together
      detection(3, 172, 50, 200, 54, 186, 52, 100),  // (50 * 160 + 100 * 186) / 150 = 177.33
      detection(4, 500, 500, 505, 505, 502, 502, 20)};
  const alinify::job::DefectEvalResult r = alinify::job::evaluate_defects(found, truth, 4);
  EXPECT_EQ(r.truth, 3);
  EXPECT_EQ(r.found, 4);
  EXPECT_EQ(r.matched_truth, 2);
  EXPECT_EQ(r.matched_found, 3);
  EXPECT_DOUBLE_EQ(r.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.precision, 3.0 / 4.0);
  EXPECT_EQ(r.missed, std::vector<int64_t>{3});
  EXPECT_EQ(r.spurious, std::vector<int64_t>{4});
  const double streak_error = (50.0 * 160 + 100.0 * 186) / 150 - 175;
  EXPECT_NEAR(r.centroid_max, streak_error, 1e-9);
  EXPECT_NEAR(r.centroid_mean, 0.5 * (0.5 + streak_error), 1e-9);
  EXPECT_NEAR(r.centroid_median, 0.5 * (0.5 + streak_error), 1e-9);
  EXPECT_DOUBLE_EQ(r.centroid_within_2px, 0.5);  // 0.5 px yes, 2.33 px no
  // A detection just beyond the tolerance is not a match.
  const alinify::job::DefectEvalResult apart =
      alinify::job::evaluate_defects({detection(1, 35, 10, 40, 20, 37, 15, 30)}, {truth[0]}, 4);
  EXPECT_EQ(apart.matched_truth, 0);
  EXPECT_EQ(apart.spurious, std::vector<int64_t>{1});
  // A truth file without the visible part: scored against the shape's centre.
  truth[1].visible_px = 0;
  const alinify::job::DefectEvalResult shape = alinify::job::evaluate_defects({found[1], found[2]}, {truth[1]}, 4);
  EXPECT_NEAR(shape.centroid_max, (50.0 * 160 + 100.0 * 186) / 150 - 150, 1e-9);
}
