#pragma once
// Coarse global alignment: lands the registration on the right repeat of a repeating print.
// Pure functions on small float images (a few hundred pixels across); see docs/registration.md.
//
// Coordinates: a coarse image with total factor F holds at pixel (i, j) the mean of full-resolution
// pixels [F*i, F*i+F) x [F*j, F*j+F), whose centre is F*i + (F-1)/2 (the scale-free convention of
// the registration images). Placements are affine maps design full-res pixel -> scan full-res pixel.
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/core/simd_buffer.hpp"
#include "alinify/io/decimate.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::reg::coarse {

struct Image {
  int width = 0, height = 0;
  int factor = 1;  // full-resolution pixels per coarse pixel
  std::vector<float> px;
  float at(int x, int y) const { return px[static_cast<size_t>(y) * width + x]; }
};

// Averages `image` down by the integer g (>= 1): factor becomes image.factor * g.
Image downsample(const io::GreyImage& image, int g);
Image downsample(const Image& image, int g);
// The image resampled to `rows` rows (linear along y, pixel centres kept: row j samples the input
// at (j + 0.5) * height / rows - 0.5); width and factor unchanged.
Image resample_rows(const Image& image, int rows);
// The image mirrored left to right (column x becomes width - 1 - x).
Image mirror_columns(const Image& image);
// The g that brings the larger side of `size` (decimated pixels) to at most `target` pixels.
int factor_for(int64_t width, int64_t height, int target);

// ---- FFT (FFTW3, in place) ----
// Safe to call from several threads at once: plans are made once per size under a lock (FFTW's
// planner is not thread-safe) and only executed afterwards, which is (src/reg/coarse_fft.cpp).
using Complex = std::complex<double>;
void fft1d(Complex* data, int n, bool inverse);  // any n >= 1; inverse not normalised

// FFT storage: aligned so that FFTW may use its SIMD code (core/simd_buffer.hpp).
using ComplexVector = simd::Vector<Complex>;

// 2D, row-major width x height; inverse normalised by 1/(w*h).
void fft2d(ComplexVector& data, int width, int height, bool inverse);

// Masked normalised cross-correlation of `templ` (with 0/1 mask) over `image` (with 0/1 mask) at
// every integer shift s: templ pixel x lies on image pixel x + s. Computed with FFTs (Padfield,
// "Masked object registration in the Fourier domain", 2012). Result laid out for shifts
// sx in [-(tw-1), iw-1], sy in [-(th-1), ih-1]; overlap = number of pixels where both masks are 1.
struct CorrelationMap {
  int min_sx = 0, min_sy = 0, width = 0, height = 0;
  std::vector<float> ncc, overlap;
  float ncc_at(int sx, int sy) const { return ncc[static_cast<size_t>(sy - min_sy) * width + (sx - min_sx)]; }
};
// Precomputed spectra of the image side (reused for every rotation).
struct ImageSpectra {
  int pad_w = 0, pad_h = 0, iw = 0, ih = 0;
  ComplexVector f1, f2;  // FFT(f*m), FFT(f^2*m)
  ComplexVector m;       // FFT(m)
};
ImageSpectra image_spectra(const Image& image, const std::vector<float>& mask, int pad_w, int pad_h);
CorrelationMap masked_ncc(const ImageSpectra& image, const Image& templ, const std::vector<float>& tmask);

// ---- peaks ----
struct Peak {
  int sx = 0, sy = 0;
  double score = 0;
};
// Local maxima of `score` (width x height, row-major) over a (2r+1)^2 window, best first, at most n;
// entries below `floor` are ignored.
std::vector<Peak> find_peaks(const std::vector<float>& score, int width, int height, int radius, int n,
                             float floor = -1e30f);

// ---- placement search ----
struct Placement {
  double angle_deg = 0;  // rotation of the design in the scan, including a quarter turn
  double scale = 1;
  double tx = 0, ty = 0;  // full-resolution: scan = R(angle)*scale*design + t
  double score = 0;       // full-overlap score (NCC x overlap fraction), in [-1, 1]
  // Found on the scan's rows resampled (a scan stretched along y against the design's aspect):
  // the scan's y = stretch_y * (y' + 0.5) - 0.5 of the resampled image's y'; affine() includes it.
  double stretch_y = 1;
  transform::Affine affine() const;
};

struct CoarseOptions {
  double max_rotation_deg = 5;
  double angle_step_deg = 0;  // 0: from the coarse image size (about 1 deg)
  bool quarter_turns = false;
  int peaks_per_rotation = 4;
  int refine = 5;            // candidates refined (best distinct first)
  double min_score = 0.3;    // below: not this design (or no fabric)
  double min_margin = 0.05;  // confidence below: ambiguous
  bool use_search = true;    // correlation search over translations and rotations
  bool use_box = true;       // the fabric's bounding box (fabric_box.hpp) as candidates and as a check
  double box_weight = 0.05;  // added to the confidence when the box agrees, taken off when it disagrees
  // When the best placement scores below wider_search_below or is ambiguous, the search is made
  // again (without debug files: debug_dir shows the first search) at every
  // rotation (any_rotation: a fabric turned beyond max_rotation_deg) and at scales (scan px per
  // design px) from min_scale to max_scale, scale_step apart (a scan made at another resolution
  // than the design); the higher best of the two wins when it scores wider_win times as much.
  // max_scale <= min_scale: no other scale.
  bool any_rotation = true;
  double min_scale = 0.5, max_scale = 2.0, scale_step = 1.08;
  double wider_search_below = 0.5, wider_win = 1.25;
  std::string debug_dir;  // when set: score maps (PGM) and candidates.txt
};

struct CoarseResult {
  Placement best, runner_up;
  bool has_runner_up = false;
  double confidence = 0;           // (best - runner-up) / best, +- box_weight by the box (see docs/registration.md)
  std::string box_state = "none";  // agrees | disagrees | none (no usable box: box_note says why)
  std::string box_note;
  double box_distance = -1;  // full-res px between the best placement and the box's, when there is a box
  bool ambiguous = false, rejected = false;
  std::string reason;      // why ambiguous/rejected, with both placements
  std::string wider_note;  // set when the placement was found only at other rotations or scales
  // Rejected, but the scan mirrored left to right holds the design (a print scanned from its back,
  // a transfer paper): the reason says so. Not registered mirrored: the user mirrors the file.
  bool mirrored = false;
  double seconds = 0;
  int candidates = 0;
};

// The design's placement in the scan. `design` and `scan` must have the same factor.
CoarseResult estimate_placement(const Image& design, const Image& scan, const CoarseOptions& options);

// Full-overlap score of a placement (used to rank and refine candidates): NCC of the design
// against the scan sampled at the placement, times the fraction of the design inside the scan.
double placement_score(const Image& design, const Image& scan, const Placement& p);

// Mean displacement (full-res px) between two placements over the design's corners and centre.
double placement_distance(const Placement& a, const Placement& b, int64_t design_w, int64_t design_h);

std::string describe(const Placement& p);

}  // namespace alinify::reg::coarse
