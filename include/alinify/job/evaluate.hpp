#pragma once
// Registration error against a synthetic pair's truth, over a dense grid of the design.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/defects/strip.hpp"
#include "alinify/synth/truth.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::job {

struct EvalResult {
  int64_t points = 0;                             // design grid points whose mapped position falls inside the scan
  double mean = 0, median = 0, p95 = 0, max = 0;  // pixels
  Vec2 max_at;                                    // design pixel of the largest error (the first in row order)
  std::string to_json_text() const;
};

// For each design point p on a grid with `step` px spacing: error = |truth(T(p)) - p|.
// Memory is bounded (histogram quantiles at 1e-4 px resolution), whatever the image size.
EvalResult evaluate(const transform::Transform& t, const synth::Truth& truth, int step);

// Detected defects against a synthetic pair's drawn ones. A detection matches a truth defect when
// its box overlaps the truth box widened by `tolerance` px on each side. Recall: the share of truth
// defects matched by at least one detection; precision: the share of detections matching one;
// centroid error: for each matched truth defect, the distance from its visible centre (its centre
// when the truth file has none) to the area-weighted centroid of all detections matching it (px):
// mean, max, median and the share of matched truth defects within 2 px.
struct DefectEvalResult {
  int64_t truth = 0, found = 0, matched_truth = 0, matched_found = 0;
  double recall = 0, precision = 0;
  double centroid_mean = 0, centroid_max = 0, centroid_median = 0, centroid_within_2px = 0;
  std::vector<int64_t> missed;    // truth ids
  std::vector<int64_t> spurious;  // detection ids
  std::string to_json_text() const;
};
DefectEvalResult evaluate_defects(const std::vector<defects::Defect>& found,
                                  const std::vector<synth::DefectTruth>& truth, double tolerance);

}  // namespace alinify::job
