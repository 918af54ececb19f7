#pragma once
// The colour model of a print: how a design colour looks in the aligned scan, fitted robustly on
// pixel pairs so that defects (a small share of the pixels) do not pull it (docs/defects.md).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"

namespace alinify::defects {

// A design whose channels each vary by at most this many levels over a sample's box and a pixel
// around it is flat there (synth's designs and digital prints: uniform areas vary by 0).
constexpr int kFlatRange = 2;

// One pixel pair: design pixel position and both (pre-smoothed) RGB colours, 0..255.
struct Sample {
  float x = 0, y = 0;
  std::array<float, 3> design{}, scan{};
  // The design is one colour (within kFlatRange levels) over the sample's box and a pixel around
  // it: the residual there is the scan's noise and texture, not an edge's misregistration.
  bool flat = false;
};

// scan = g(x, y) * (M * design + tone curves) + offset, with the illumination gain
// g = 1 + c . (u, v, u^2, uv, v^2), u and v the design position scaled to -1..1 (g = 1 everywhere
// when the gain field is off). The tone curves: scan channel c gains, for each design channel j,
// sum_t C_cjt * tone_term(t, d_j), the terms 255 (d/255)^p for p = 0.5, 0.75, 2: a camera's or an
// ink's non-linear response (a gamma from 0.5 to 2, with a black level, lies within about 1 level
// of the span with d itself: docs/defects.md), all zero when the affine model fits as well.
struct ColourModel {
  static constexpr int kToneTerms = 3;
  std::array<double, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major 3x3
  std::array<double, 9 * kToneTerms> curve{};          // C, index (3 c + j) * kToneTerms + t
  std::array<double, 3> offset{0, 0, 0};
  std::array<double, 5> gain{0, 0, 0, 0, 0};
  Size image{1, 1};  // for u, v
  // Fit quality on the samples: median and RMS of the RGB residual norm over the inliers, and the
  // inliers' share (weight > 0 at the end of the reweighting).
  double residual_median = 0, residual_rms = 0, inlier_fraction = 0;
  int64_t samples = 0;
  // The residual medians over all samples of the affine fit and of the fit with tone curves (0 when
  // not fitted): the curves are kept when they bring it below FitOptions::curve_keep of the affine's.
  double affine_median = 0, curved_median = 0;
  // The residual median over the flat samples (Sample::flat), every one of them, and their count:
  // the scan's noise and texture alone, whatever share of the design is edges (docs/defects.md,
  // "A noisy scan").
  double flat_median = 0;
  int64_t flat_samples = 0;
  // How the camera scales colour differences: the median, over the samples' design colours d, of
  // Delta E 1976 between the mapped colours of d -+ (4, 4, 4) levels over Delta E between
  // d -+ (4, 4, 4) themselves (1 for the identity; about 0.6-0.7 for a scan exposed to 60 %). The
  // defect map divides by it, so Delta E and its thresholds are the print's difference from the
  // design, whatever the exposure (docs/defects.md, "The camera's contrast"). Within [0.25, 4].
  double contrast = 1;

  bool has_curve() const;
  static double tone_term(int t, double d);
  double gain_at(double x, double y) const;
  // The design colour as the scan should show it at (x, y) (not clamped).
  void apply(double x, double y, const float design[3], double out[3]) const;
  // The same without the gain and the offset: M * design + the tone curves.
  void ungained(const float design[3], double out[3]) const;
  // What a Delta E measured in the scan's colours is multiplied by: 1 / contrast.
  double de_scale() const { return 1.0 / contrast; }

  std::string to_json_text() const;
  static ColourModel from_json_text(const std::string& text);
};

struct FitOptions {
  bool gain_field = true;
  int iterations = 10;       // reweighting rounds
  bool tone_curve = true;    // also fit the tone curves, keep them where they pay (below)
  double curve_keep = 0.85;  // kept when the residual median falls below this share of the affine fit's
};

// Iteratively reweighted least squares (Tukey's biweight on the RGB residual norm, cut off at
// 3 x the median residual + 2 grey levels). Deterministic for a given sample order; the caller sorts.
// Fewer than 16 samples: the identity model, with samples = their count. With tone_curve, both
// models are fitted and the one with tone curves is returned when it pays (curve_keep).
ColourModel fit_colour_model(const std::vector<Sample>& samples, Size image, const FitOptions& options = {});

}  // namespace alinify::defects
