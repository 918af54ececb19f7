#pragma once
// Whether a job looks wrong: post-alignment similarity below a threshold, or a folding deformation.
#include <string>
#include <vector>

#include "alinify/qa/deformation.hpp"
#include "alinify/qa/similarity_sample.hpp"

namespace alinify::qa {

struct Thresholds {
  // Mean tile NCC after alignment below this is suspect. Measured on synthetic pairs (docs/qa.md):
  // correct alignments score above 0.8, a few pixels off scores below 0.5.
  double min_ncc_after = 0.6;
};

struct Verdict {
  bool suspect = false;
  std::vector<std::string> reasons;  // one short sentence each
};

Verdict judge(const SimilarityReport& s, const DeformationStats& d, const Thresholds& th);

}  // namespace alinify::qa
