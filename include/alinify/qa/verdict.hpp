#pragma once
// Whether a job looks wrong: post-alignment similarity below a threshold, or a folding deformation.
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
};

struct Verdict {
  bool suspect = false;
  std::vector<std::string> reasons;  // one short sentence each
};

Verdict judge(const SimilarityReport& s, const DeformationStats& d, const Thresholds& th);

}  // namespace alinify::qa
