#pragma once
// The refinement's fit (issue 16 item 2; docs/registration.md, "Refinement"): one smooth cubic
// B-spline displacement field through scattered, weighted block measurements, by regularised
// least squares with robust rejection. Pure function, no I/O, no ranks: rank 0 calls it on the
// gathered measurements in a fixed order, so the field is the same for any rank count.
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::reg {

// A measured displacement (dx, dy) at (x, y), full-resolution pixels; weight 0 counts for nothing.
struct FitPoint {
  double x = 0, y = 0;
  double dx = 0, dy = 0;
  double weight = 0;
};

struct FitOptions {
  double spacing = 256;  // control-point spacing, full-resolution pixels
  // Weight of the bending term (squared second differences of the coefficients) against the data
  // term, relative to the data weight per control point: it bridges blocks without texture and
  // keeps the field smooth between measurements. 0.0005: the unit test's 1.5 px field of period
  // 1200 px comes back within 0.07 px; 0.05 flattens it by 0.8 px.
  double smoothness = 0.0005;
  // A pull toward zero (same scale), so that control points far from any measurement (the borders,
  // beyond the last block) stay near zero instead of extrapolating: at 1e-6 a fine-wave pair's
  // border went 25 px off (eval max); 1e-3 leaves 9 px there and the smallest mean; 1e-2 shrinks
  // the unit test's field by 0.18 px.
  double ridge = 1e-3;
  // Two levels: a grid coarse_factor times sparser is fitted first and the fine grid fits what it
  // leaves, so the ridge pulls the fine level toward the coarse one, not toward zero. Where a
  // region has no usable block the field then follows the trend of the blocks around it instead of
  // decaying to no correction. The 283 MP periodic pair's largest error was such a region: an
  // 800 x 1200 px corner of dots every 8 px, every block ambiguous, where elastix left 4.2 px and
  // one level 1.14 px (eval max); factor 2 / 4 / 8 / 16 left 0.43 / 0.41 / 0.62 / 0.86 px. Factors
  // 4 and 8 left eval mean and p95 within 0.01 px or better on it, the bench pair and the
  // fine-wave pair (docs/registration.md, "Two levels"). 1: one level.
  int coarse_factor = 4;
  // The coarse level's bending weight over the fine level's. The same number is physically much
  // stiffer on the coarser grid (the bending term is scaled per control point): the coarse level
  // is a trend. 1/4 and 1/16 of it moved the periodic pair's max by +-0.1 px.
  double coarse_smoothness = 1.0;
  int rounds = 3;                // fits; after each but the last, outliers are rejected
  double reject_mads = 3.0;      // residual > reject_mads x 1.4826 x MAD is an outlier
  double reject_floor_px = 0.3;  // ... but never below this (measurement noise is ~0.05 px)
};

// The bending weight chosen by cross-validation (choose_smoothness): the measurements' noise,
// not the deformation, decides how smooth the field must be. One fixed weight cannot serve both
// kinds of pair: on a 3000x2250 synth pair whose residual is noise (elastix eval mean 0.062 px)
// the weight 0.0005 follows the noise and makes it worse (0.073 px) while x10000 halves it
// (0.031 px); on the same size with fine waves of a few px, 0.0005 gives 0.106 px and x10000
// leaves 1.55 px.
struct CrossValidation {
  // Candidates, smallest first; the fit options' own smoothness is not used.
  // The loosest (5e-5) was added when the 283 MP fine-wave pair chose 5e-4, then the loosest.
  std::vector<double> smoothness = {5e-5, 5e-4, 5e-3, 5e-2, 5e-1, 5, 50};
  // Held-out cells: the points in every other cell of this size in both directions (a quarter of
  // them) are predicted from the fit to the others. Cells twice the block size keep most held-out
  // blocks from sharing pixels (and so noise) with a training block.
  double cell_px = 128;
  // Held-out errors are clipped at this (px), so that a wrong match costs every candidate the
  // same; above the few px elastix leaves of fine waves, which must count in full. (1 and 3 px
  // chose the same weights on 3000x2250 pairs with and without fine waves.)
  double clip_px = 3.0;
  // A correction is kept only when it predicts the held-out points this much better than no
  // correction (fraction of the no-correction score): below it the gain is within the noise of
  // the score itself.
  double min_gain = 0.05;
  // ... and when the error it removes, sqrt(no-correction score - its score), is at least this
  // (px): 1/64 px, the warp's own tolerance (warp/lattice_build.hpp). The design registered to
  // itself leaves 0.001 px, which a correction would otherwise halve.
  double min_removed_px = 1.0 / 64;
};

struct SmoothnessChoice {
  bool correct = false;        // false: no correction predicts held-out points as well (keep T)
  double smoothness = 0;       // the chosen weight when `correct`
  double zero_score = 0;       // held-out mean clipped squared error of no correction, px^2
  double score = 0;            // the same of the choice (zero_score when not `correct`)
  std::vector<double> scores;  // the same for each candidate, in the candidates' order
  int held_out = 0, training = 0;
};

struct FitResult {
  transform::BSpline field;  // valid over the whole domain ([0, w-1] x [0, h-1])
  std::vector<bool> used;    // per point: weight > 0 and not rejected in the last round
  int used_count = 0;
  int rejected = 0;  // points with weight > 0 rejected as outliers
};

// The grid: control points every `spacing` px from -spacing, enough of them that the whole domain
// lies in the evaluator's valid region ([1, size-2) in continuous index).
transform::BSpline make_grid(Size domain, double spacing);

// Throws alinify::Error (runtime) when there is nothing to fit (no point with weight > 0).
FitResult fit_bspline(const std::vector<FitPoint>& points, Size domain, const FitOptions& options = {});

// Cross-validation of the bending weight over `cv.smoothness` (and of no correction at all) on
// held-out cells; `options` gives everything else. Rank-independent like the fit: a pure
// function of the points. Returns correct = false when there are too few points to hold out.
SmoothnessChoice choose_smoothness(const std::vector<FitPoint>& points, Size domain, const FitOptions& options,
                                   const CrossValidation& cv = {});

// choose_smoothness in parts, so that the candidates can be fitted on different ranks:
// the points split into training and held-out (every other cell in both directions), ...
struct CrossValidationSplit {
  std::vector<FitPoint> training, held;  // points with weight > 0 only
};
CrossValidationSplit split_for_cross_validation(const std::vector<FitPoint>& points, const CrossValidation& cv);
// ... the held-out score of each listed candidate (indices into cv.smoothness), fitted on the
// training points (empty when there are too few points to hold out), ...
std::vector<double> held_out_scores(const CrossValidationSplit& split, Size domain, const FitOptions& options,
                                    const CrossValidation& cv, const std::vector<int>& candidates);
// ... and the choice from every candidate's score, in the candidates' order.
SmoothnessChoice decide_smoothness(const CrossValidationSplit& split, const std::vector<double>& scores,
                                   const CrossValidation& cv);

// The same cubic B-spline function on a grid `factor` times finer: `coarse` on make_grid(domain,
// factor * s) as coefficients on make_grid(domain, s) (knot insertion; exact on the domain).
transform::BSpline refined_grid(const transform::BSpline& coarse, Size domain, double s, int factor);

// into += from, coefficient by coefficient: two fields on the same grid summed (Add stages sum).
void add_field(transform::BSpline& into, const transform::BSpline& from);

// The field's displacement at (x, y).
Vec2 displacement_at(const transform::BSpline& field, double x, double y);

}  // namespace alinify::reg
