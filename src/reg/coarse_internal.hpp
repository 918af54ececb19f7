#pragma once
// The pieces of the coarse alignment that its files share (src/reg/coarse_*.cpp, coarse_align.cpp).
// Not part of the public interface (include/alinify/reg/coarse_align.hpp).
#include <string>
#include <vector>

#include "alinify/reg/coarse_align.hpp"

namespace alinify::reg::coarse::detail {

// ---- images (coarse_image.cpp) ----

// Bilinear sample at (x, y), clamped to the image.
float bilinear(const Image& image, double x, double y);
// Zero mean, unit variance (for the numerics of the correlations).
Image normalised(const Image& image);

// ---- placement geometry (coarse_placement.cpp) ----

// Linear part of a placement: rotation by angle_deg times scale, row-major 2x2.
void rotation_matrix(double angle_deg, double scale, double matrix[4]);
// Coarse translation tau (scan coarse = A * design coarse + tau) <-> full-resolution t.
// q = A p + t with p = F u + c, q = F v + c  =>  tau = (A c + t - c) / F, c = (F - 1) / 2.
void full_from_coarse(const double matrix[4], double coarse_x, double coarse_y, int factor, double* full_x,
                      double* full_y);
void coarse_from_full(const double matrix[4], double full_x, double full_y, int factor, double* coarse_x,
                      double* coarse_y);

// ---- refinement (coarse_peaks.cpp) ----

// Hill climbing on (angle, scale, tx, ty) of the full-overlap score, steps halving.
Placement refine(const Image& design, const Image& scan, Placement start, double angle_step);

// ---- the search (coarse_search.cpp) ----

struct AngleSet {
  std::vector<double> angles;  // the small rotations within max_rotation, times the quarter turns
  double small_step = 0;       // between neighbouring small rotations (0: only the quarter turns)
};
AngleSet search_angles(const Image& design, const CoarseOptions& options);

struct SearchOutput {
  std::vector<Placement> candidates;  // the kept peaks of every rotation, full-resolution placements
  int fft_width = 0, fft_height = 0;
  // With keep_map: the score map of the rotation with the best peak, and that rotation's peaks.
  std::vector<float> map;
  int map_width = 0, map_height = 0;
  std::vector<Peak> map_peaks;
};
// The FFT search: for each angle the design, turned and scaled by `scale` (scan px per design
// px), is a masked template whose NCC with the scan is computed at every shift; up to
// peaks_per_rotation local maxima of NCC x (fraction of the design inside the scan) become
// candidates. Both images are normalised and share one factor.
SearchOutput search_placements(const Image& design, const Image& scan, const std::vector<double>& angles, double scale,
                               int peaks_per_rotation, bool keep_map);

// ---- debug pictures (coarse_debug.cpp) ----

// A 0/1 mask as a black-and-white PGM.
void write_mask_pgm(const std::string& path, const std::vector<uint8_t>& mask, int width, int height);
// The score map of the best rotation as a colour PPM: grey = score (black: no valid overlap), a
// red cross on the best peak, yellow crosses on the other peaks kept at that rotation.
void write_score_map(const std::string& path, const std::vector<float>& scores, int width, int height,
                     const std::vector<Peak>& peaks);
// The refined candidates, best first, one per line.
void write_candidates(const std::string& path, const std::vector<Placement>& refined);

}  // namespace alinify::reg::coarse::detail
