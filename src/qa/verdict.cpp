#include "alinify/qa/verdict.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>

namespace alinify::qa {

Verdict judge(const SimilarityReport& s, const DeformationStats& d, const Thresholds& th,
              const std::optional<Residual>& residual) {
  Verdict v;
  if (s.after.tiles == 0 || !std::isfinite(s.after.ncc)) {
    v.reasons.push_back(
        "no sampled tile could be compared after alignment (nothing maps inside the scan, or no texture)");
  } else if (s.after.ncc < th.min_ncc_after) {
    v.reasons.push_back(
        fmt::format("similarity after alignment is low: NCC {:.3f} < {:.3f}", s.after.ncc, th.min_ncc_after));
  }
  if (d.folds()) {
    v.reasons.push_back(
        fmt::format("the deformation folds: Jacobian determinant {:.3f} at its minimum ({} of {} samples <= 0)",
                    d.jacobian_min, d.folded_points, d.grid_points));
  }
  if (residual && residual->blocks > 0 &&
      (residual->p95_px > th.max_residual_p95_px || residual->median_px > th.max_residual_p95_px / 4)) {
    v.reasons.push_back(fmt::format(
        "the residual misalignment measured by {} blocks is large: median {:.2f} px, p95 {:.2f} px (limits {:.2f} "
        "/ {:.2f} px)",
        residual->blocks, residual->median_px, residual->p95_px, th.max_residual_p95_px / 4, th.max_residual_p95_px));
  }
  v.suspect = !v.reasons.empty();
  return v;
}

}  // namespace alinify::qa
