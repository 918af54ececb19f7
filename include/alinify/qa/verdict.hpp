#pragma once
// Whether a job looks wrong: post-alignment similarity below a threshold, a folding deformation,
// or a large residual displacement measured by the refinement's blocks after the final transform.
#include <optional>
#include <string>
#include <vector>

#include "alinify/qa/deformation.hpp"
#include "alinify/qa/similarity_sample.hpp"

namespace alinify::qa {

struct Thresholds {
  // Mean tile NCC after alignment below this is suspect. Measured on a synthetic 1200x900 pair
  // (docs/qa.md): the registered result scores 0.97; shifted by 1, 2, 4, 8, 16 px it scores
  // 0.90, 0.79, 0.63, 0.46, 0.30. Fine-textured prints fall faster than coarse ones: tune per archive.
  double min_ncc_after = 0.6;
  // The refinement's blocks measure what is left of the misalignment directly, where NCC cannot
  // tell a few pixels of local error from texture and noise (a pair left 2.5 px off on average
  // scored NCC 0.89). Suspect when the p95 of the residual exceeds this, or its median a quarter
  // of it. Calibrated on the 3000x2250 synth pairs (docs/qa.md): after the final transform the
  // residual is 0.065 / 0.182 px (median / p95, fine waves, refined) and 0.080 / 0.271 px (no
  // fine waves, elastix kept); elastix alone on the fine-wave pair leaves 1.84 / 3.89 px.
  double max_residual_p95_px = 2.0;
};

// The residual measured after the final transform (metrics.json's refinement.residual_after).
struct Residual {
  int blocks = 0;  // blocks whose measurement counts
  double median_px = 0, p95_px = 0;
};

struct Verdict {
  bool suspect = false;
  std::vector<std::string> reasons;  // one short sentence each
};

// `residual`: absent when nothing measured it (--refine none).
Verdict judge(const SimilarityReport& s, const DeformationStats& d, const Thresholds& th,
              const std::optional<Residual>& residual = std::nullopt);

}  // namespace alinify::qa
