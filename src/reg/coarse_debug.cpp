// Debug pictures of the coarse alignment (--coarse-debug-dir): the fabric mask, the score map of the
// best rotation, the refined candidates.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "coarse_internal.hpp"

namespace alinify::reg::coarse::detail {

void write_mask_pgm(const std::string& path, const std::vector<uint8_t>& mask, int width, int height) {
  std::vector<char> grey(mask.size());
  for (size_t k = 0; k < mask.size(); ++k) grey[k] = static_cast<char>(mask[k] ? 255 : 0);
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << width << " " << height << "\n255\n";
  out.write(grey.data(), static_cast<std::streamsize>(grey.size()));
}

// Yellow crosses mark the neighbouring repeats the confidence weighs against.
void write_score_map(const std::string& path, const std::vector<float>& scores, int width, int height,
                     const std::vector<Peak>& peaks) {
  float lo = 1e30f, hi = -1e30f;
  for (float score : scores)
    if (score > -0.99f) lo = std::min(lo, score), hi = std::max(hi, score);
  if (hi <= lo) hi = lo + 1;
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (size_t k = 0; k < scores.size(); ++k) {
    const double brightness = scores[k] <= -0.99f ? 0.0 : 0.15 + 0.85 * (scores[k] - lo) / (hi - lo);
    rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] =
        static_cast<uint8_t>(std::lround(std::clamp(brightness, 0.0, 1.0) * 255));
  }
  for (size_t n = peaks.size(); n-- > 0;) {  // the best last, on top
    const uint8_t colour[3] = {255, static_cast<uint8_t>(n == 0 ? 0 : 220), 0};
    for (int d = -4; d <= 4; ++d)
      for (auto [x, y] : {std::pair{peaks[n].sx + d, peaks[n].sy}, std::pair{peaks[n].sx, peaks[n].sy + d}})
        if (x >= 0 && y >= 0 && x < width && y < height)
          for (int c = 0; c < 3; ++c) rgb[(static_cast<size_t>(y) * width + x) * 3 + c] = colour[c];
  }
  std::ofstream out(path, std::ios::binary);
  out << "P6\n" << width << " " << height << "\n255\n";
  out.write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
}

void write_candidates(const std::string& path, const std::vector<Placement>& refined) {
  std::ofstream out(path);
  out << "# rank angle_deg scale tx ty score (refined, full resolution px)\n";
  for (size_t k = 0; k < refined.size(); ++k)
    out << k << " " << refined[k].angle_deg << " " << refined[k].scale << " " << refined[k].tx << " " << refined[k].ty
        << " " << refined[k].score << "\n";
}

}  // namespace alinify::reg::coarse::detail
