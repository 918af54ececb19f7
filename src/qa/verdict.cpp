#include "alinify/qa/verdict.hpp"

#include <cmath>
#include <cstdio>

namespace alinify::qa {

Verdict judge(const SimilarityReport& s, const DeformationStats& d, const Thresholds& th) {
  Verdict v;
  char buf[200];
  if (s.after.tiles == 0 || !std::isfinite(s.after.ncc)) {
    v.reasons.push_back("no sampled tile could be compared after alignment (nothing maps inside the scan, or no texture)");
  } else if (s.after.ncc < th.min_ncc_after) {
    std::snprintf(buf, sizeof buf, "similarity after alignment is low: NCC %.3f < %.3f", s.after.ncc, th.min_ncc_after);
    v.reasons.push_back(buf);
  }
  if (d.folds()) {
    std::snprintf(buf, sizeof buf, "the deformation folds: Jacobian determinant %.3f at its minimum (%d of %d samples <= 0)",
                  d.jacobian_min, d.folded_points, d.grid_points);
    v.reasons.push_back(buf);
  }
  v.suspect = !v.reasons.empty();
  return v;
}

}  // namespace alinify::qa
