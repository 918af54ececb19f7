#pragma once
// Synthetic design/scan pairs with exact ground truth, written by strips (bounded memory).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/synth/truth.hpp"

namespace alinify::synth {

struct SynthOptions {
  std::string out_dir;
  int64_t width = 2048;
  int64_t height = 1536;
  uint64_t seed = 1;
  int strip_rows = 256;
  int threads = 0;  // 0: OpenMP default
  // "default": the procedural design, scan of the same size. "periodic": a repeating print (tile
  // straight, mirrored or half-drop, a few one-off elements) on a larger scan canvas with table
  // around it, placed by hand: shifted by a fraction of the period, rotated, optionally turned.
  std::string kind = "default";
  double margin = 0.06;         // periodic: table around the fabric, fraction of each side
  double max_rotation_deg = 5;  // periodic: rotation drawn in +-max
  bool quarter_turns = false;   // periodic: also a quarter, half or three-quarter turn
  // Deformation finer than the registration's B-spline grid (issue 16): the largest amplitude of
  // the fine waves in px, 0 for none (the default: existing pairs keep their bytes).
  double fine_waves = 0;
  // The fabric's weave in the scan only: brightness +-this fraction (0.04, the gentle weave every
  // pair has had; e.g. 0.2 for a strong weave that block matching must not lock onto).
  double weave = 0.04;
  // The camera's tone response: each channel's noiseless level v becomes 255 (v / 255)^gamma before
  // the noise (1, the default: linear, every pair's bytes as they were).
  double tone_gamma = 1;
  // Print defects drawn into the scan only (ink blots, missing print, streaks, colour shifts),
  // listed in truth.json; 0 (the default) leaves every pair's bytes as they were.
  int defects = 0;
  // > 0: every defect partly transparent, at this median Delta E 1976 over its shape (to + 1).
  double defect_contrast = 0;
};

// Adds fine waves to a truth (same seed, same waves; the other waves are left as they were):
// six waves, alternating axes, wavelengths log-uniform in [256, 3072] px (each bound at most half
// the larger side, so a small pair still holds whole periods), amplitudes in [amp/2, amp]. At the
// largest amp the CLI takes (5 px) one wave's slope is at most 0.12 and three on one axis 0.37, so
// the map cannot fold. The camera takes its sub-pixel offsets through the linear part only: they
// are off by a few hundredths of a px, symmetric about truth(q), which changes the blur, not where
// the pixel lies.
void add_fine_waves(Truth& truth, double amp, uint64_t seed);

// A colour source in continuous design-pixel coordinates ((0,0) = centre of the top-left pixel).
class Pattern {
 public:
  virtual ~Pattern() = default;
  virtual void colour(double x, double y, uint8_t rgb[3]) const = 0;
};

// The design with print defects drawn in, for the camera to sample (design.tif stays clean):
// `count` shapes placed from the seed, 6..~300 px, away from the design's edges (6 %) and from each
// other, each with Delta E 1976 >= 15 against the design under most of it (a candidate spot that
// would not give that is drawn again). With `contrast` > 0 each is drawn as a partly transparent
// ink (its opacity found by bisection) whose median Delta E 1976 over the shape is contrast to
// contrast + 1: defects at the detection threshold.
class DefectedPattern : public Pattern {
 public:
  DefectedPattern(const Pattern& base, Size size, int count, uint64_t seed, double contrast = 0);
  ~DefectedPattern() override;
  void colour(double x, double y, uint8_t rgb[3]) const override;
  const std::vector<DefectTruth>& truth() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes out_dir/design.tif, out_dir/scan.tif (tiled RGB uint8 GeoTIFF) and out_dir/truth.json.
void write_synthetic_pair(const SynthOptions& options);

// The procedural print design: colour(x, y) of continuous design-pixel coordinates
// ((0,0) = centre of the top-left pixel). Hard edges; design.tif holds colour at pixel centres.
// Large structures scale with the image size (hashed cell grid, cell ~ max(W,H)/20), a blob texture
// sits at ~1/150 of the size, fine detail (1-3 px lines, small dots) is in absolute pixels.
// Everything is deterministic from (size, seed). Defined everywhere (cells are clamped a few cells
// beyond the design), meaningful on the design area.
class DesignPattern : public Pattern {
 public:
  DesignPattern(Size size, uint64_t seed);
  ~DesignPattern();
  DesignPattern(DesignPattern&&) noexcept;
  DesignPattern& operator=(DesignPattern&&) noexcept;
  DesignPattern(const DesignPattern&) = delete;
  DesignPattern& operator=(const DesignPattern&) = delete;

  void colour(double x, double y, uint8_t rgb[3]) const override;
  Size size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A repeating print: a tile of period ~ width/12..width/7 (straight, mirrored or half-drop repeat)
// with stripes, shapes and a dot field, plus a few one-off elements over the whole design.
class PeriodicPattern : public Pattern {
 public:
  PeriodicPattern(Size size, uint64_t seed);
  ~PeriodicPattern() override;
  void colour(double x, double y, uint8_t rgb[3]) const override;
  double period_x() const;
  double period_y() const;
  int layout() const;  // 0 straight, 1 mirrored, 2 half-drop

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The truth of a periodic pair: the fabric (design) lies on a larger scan canvas (margin of table on
// each side of its rotated bounding box), rotated within +-max_rotation (plus a quarter/half turn when
// asked), scale 1 +- 1%, centre shifted from the canvas centre by 0.3..0.6 of the period per axis
// (within the margin), and gentle waves. Returns the truth with its scan size.
Truth make_periodic_truth(Size design, double period_x, double period_y, uint64_t seed, double margin,
                          double max_rotation_deg, bool quarter_turns);

// The ground truth of a pair drawn from the seed: rotation +-1.5 deg, scale 1 +- 0.02 (anisotropy
// +-0.5%) about the image centres, shift +-2% of the size, 4-6 sine waves totalling 0.0015*max(W,H) px
// with wavelengths in [max/3, max/1.2].
Truth make_truth(Size design, Size scan, uint64_t seed);

// The camera model: scan pixel (x, y) = mean of the design at truth(q + d) over 4 sub-pixel offsets
// (table colour outside the design), then weave texture, illumination, colour shift and noise.
// Holds references: the design and the truth must outlive the model. Deterministic per pixel, so
// the written scan does not depend on strips or threads.
class ScanModel {
 public:
  ScanModel(const Pattern& design, const Truth& truth, uint64_t seed, double weave = 0.04, double tone_gamma = 1);
  void pixel(int64_t x, int64_t y, uint8_t rgb[3]) const;

 private:
  const Pattern& design_;
  const Truth& truth_;
  uint64_t seed_;
  double dx_[4], dy_[4];  // sub-pixel offsets mapped through the truth's linear part
  double illum_a_, illum_b_, illum_c_;
  double gain_[3], bias_[3];
  double weave_low_, weave_gain_;  // weave factor = low + gain * f * (1 - f), f across a thread
  double tone_gamma_;
};

}  // namespace alinify::synth
