// The search over rotations and shifts: for each rotation, the turned design as a masked template,
// its NCC with the scan at every shift by FFT, the best peaks as candidates (see coarse_internal.hpp).
#include <algorithm>
#include <cmath>
#include <numbers>

#include "alinify/reg/coarse_align.hpp"
#include "coarse_internal.hpp"

namespace alinify::reg::coarse::detail {

namespace {

int next_pow2(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

// The turned design's bounding box in scan coarse pixels: the template's size and origin.
struct TemplateBox {
  double matrix[4];  // the rotation times the scale
  double scale;
  double left, top;  // template pixel (0, 0) in the turned design's frame
  int width, height;
};

TemplateBox template_box(const Image& design, double angle, double scale) {
  TemplateBox box;
  box.scale = scale;
  rotation_matrix(angle, scale, box.matrix);
  const double* m = box.matrix;
  double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
  for (double cx : {-0.5, design.width - 0.5})
    for (double cy : {-0.5, design.height - 0.5}) {
      const double turned_x = m[0] * cx + m[1] * cy, turned_y = m[2] * cx + m[3] * cy;
      x0 = std::min(x0, turned_x), x1 = std::max(x1, turned_x), y0 = std::min(y0, turned_y),
      y1 = std::max(y1, turned_y);
    }
  box.left = std::floor(x0);
  box.top = std::floor(y0);
  box.width = static_cast<int>(std::ceil(x1) - box.left) + 1;
  box.height = static_cast<int>(std::ceil(y1) - box.top) + 1;
  return box;
}

// The design turned into its box, with a 0/1 mask of where the design is.
struct Template {
  Image image;
  std::vector<float> mask;
  size_t inside = 0;  // pixels where the mask is 1
};

Template turned_template(const Image& design, const TemplateBox& box) {
  Template out;
  out.image.width = box.width;
  out.image.height = box.height;
  out.image.factor = design.factor;
  out.image.px.assign(static_cast<size_t>(box.width) * box.height, 0.f);
  out.mask.assign(out.image.px.size(), 0.f);
  const double* m = box.matrix;
  const double inverse_square = 1.0 / (box.scale * box.scale);
  // u = A^-1 z (A is a rotation times a scale s: inverse = transpose / s^2)
  for (int j = 0; j < box.height; ++j)
    for (int i = 0; i < box.width; ++i) {
      const double zx = box.left + i, zy = box.top + j;
      const double ux = (m[0] * zx + m[2] * zy) * inverse_square, uy = (m[1] * zx + m[3] * zy) * inverse_square;
      if (ux < 0 || uy < 0 || ux > design.width - 1 || uy > design.height - 1) continue;
      out.image.px[static_cast<size_t>(j) * box.width + i] = bilinear(design, ux, uy);
      out.mask[static_cast<size_t>(j) * box.width + i] = 1.f;
      ++out.inside;
    }
  return out;
}

// Score: NCC x fraction of the design inside the scan (a placement that pushes the fabric off the
// canvas would otherwise win on a small, periodic overlap); -1 where under a quarter is inside.
std::vector<float> overlap_weighted_scores(const CorrelationMap& correlation, size_t template_inside) {
  std::vector<float> score(correlation.ncc.size(), -1.f);
  for (size_t k = 0; k < score.size(); ++k) {
    const double fraction = correlation.overlap[k] / static_cast<double>(template_inside);
    if (fraction >= 0.25 && correlation.ncc[k] > -1.f)
      score[k] = static_cast<float>(correlation.ncc[k] * std::min(1.0, fraction));
  }
  return score;
}

}  // namespace

AngleSet search_angles(const Image& design, const CoarseOptions& options) {
  double step = options.angle_step_deg;
  if (step <= 0) {
    const double half = 0.25 * std::max(design.width, design.height);
    step = std::clamp(2.0 / half * 180.0 / std::numbers::pi, 0.25, 2.0);  // ~1 px at the template edge (half a step)
  }
  AngleSet set;
  const int n_small = static_cast<int>(std::ceil(options.max_rotation_deg / step - 1e-9));
  set.small_step = n_small > 0 ? options.max_rotation_deg / n_small : 0;
  for (int quarter = 0; quarter < (options.quarter_turns ? 4 : 1); ++quarter)
    for (int k = -n_small; k <= n_small; ++k) set.angles.push_back(quarter * 90.0 + k * set.small_step);
  return set;
}

SearchOutput search_placements(const Image& design, const Image& scan, const std::vector<double>& angles, double scale,
                               int peaks_per_rotation, bool keep_map) {
  const int search_factor = design.factor;
  SearchOutput out;
  // One padding for all angles: the largest template.
  int max_width = 0, max_height = 0;
  for (double angle : angles) {
    const TemplateBox box = template_box(design, angle, scale);
    max_width = std::max(max_width, box.width), max_height = std::max(max_height, box.height);
  }
  const int pad_width = next_pow2(scan.width + max_width - 1), pad_height = next_pow2(scan.height + max_height - 1);
  out.fft_width = pad_width, out.fft_height = pad_height;
  const std::vector<float> scan_mask(scan.px.size(), 1.f);
  const ImageSpectra spectra = image_spectra(scan, scan_mask, pad_width, pad_height);
  double best_map_score = -2;
  for (double angle : angles) {
    const TemplateBox box = template_box(design, angle, scale);
    const Template turned = turned_template(design, box);
    const CorrelationMap correlation = masked_ncc(spectra, turned.image, turned.mask);
    std::vector<float> score = overlap_weighted_scores(correlation, turned.inside);
    const std::vector<Peak> peaks =
        find_peaks(score, correlation.width, correlation.height, 2, peaks_per_rotation, -0.5f);
    for (const Peak& peak : peaks) {
      const double tau_x = peak.sx + correlation.min_sx - box.left, tau_y = peak.sy + correlation.min_sy - box.top;
      Placement p;
      p.angle_deg = angle;
      p.scale = scale;
      full_from_coarse(box.matrix, tau_x, tau_y, search_factor, &p.tx, &p.ty);
      p.score = peak.score;
      out.candidates.push_back(p);
      if (keep_map && peak.score > best_map_score) {
        best_map_score = peak.score;
        out.map = score;
        out.map_width = correlation.width;
        out.map_height = correlation.height;
        out.map_peaks = peaks;
      }
    }
  }
  return out;
}

}  // namespace alinify::reg::coarse::detail
