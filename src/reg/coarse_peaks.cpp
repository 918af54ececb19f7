// Peaks of a score map, and the refinement of a candidate placement (see coarse_align.hpp).
#include <algorithm>

#include "alinify/reg/coarse_align.hpp"
#include "coarse_internal.hpp"

namespace alinify::reg::coarse {

namespace {

// Whether (x, y) beats every other entry within the radius. Ties: the first in scan order wins.
bool is_local_maximum(const std::vector<float>& scores, int width, int height, int x, int y, int radius) {
  const float centre = scores[static_cast<size_t>(y) * width + x];
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) {
      const int nx = x + dx, ny = y + dy;
      if ((dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
      const float neighbour = scores[static_cast<size_t>(ny) * width + nx];
      if (neighbour > centre || (neighbour == centre && (dy < 0 || (dy == 0 && dx < 0)))) return false;
    }
  return true;
}

}  // namespace

std::vector<Peak> find_peaks(const std::vector<float>& scores, int width, int height, int radius, int n, float floor) {
  std::vector<Peak> out;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const float score = scores[static_cast<size_t>(y) * width + x];
      if (!(score > floor)) continue;
      if (is_local_maximum(scores, width, height, x, y, radius)) out.push_back(Peak{x, y, score});
    }
  std::sort(out.begin(), out.end(), [](const Peak& a, const Peak& b) { return a.score > b.score; });
  if (static_cast<int>(out.size()) > n) out.resize(n);
  return out;
}

namespace detail {

Placement refine(const Image& design, const Image& scan, Placement p, double angle_step) {
  const int factor = design.factor;
  // The scale moves within +-10 % of the candidate's (the search's scales are 8 % apart).
  const double scale_low = 0.9 * p.scale, scale_high = 1.1 * p.scale;
  double angle_delta = angle_step / 2, shift_delta = factor * 1.0, scale_delta = 0.01 * p.scale;
  p.score = placement_score(design, scan, p);
  for (int iteration = 0; iteration < 100 && (angle_delta > 0.03 || shift_delta > 0.2 * factor); ++iteration) {
    bool moved = false;
    for (int dimension = 0; dimension < 4; ++dimension)
      for (int sign : {-1, 1}) {
        Placement trial = p;
        if (dimension == 0) trial.angle_deg += sign * angle_delta;
        if (dimension == 1) trial.tx += sign * shift_delta;
        if (dimension == 2) trial.ty += sign * shift_delta;
        if (dimension == 3) trial.scale = std::clamp(trial.scale + sign * scale_delta, scale_low, scale_high);
        trial.score = placement_score(design, scan, trial);
        if (trial.score > p.score + 1e-7) {
          p = trial;
          moved = true;
        }
      }
    if (!moved) angle_delta /= 2, shift_delta /= 2, scale_delta /= 2;
  }
  return p;
}

}  // namespace detail
}  // namespace alinify::reg::coarse
