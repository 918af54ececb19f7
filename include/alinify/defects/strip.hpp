#pragma once
// One strip of the design grid: the colour difference of each pixel and the strip's connected
// components, in a form that rank 0 merges across strips (docs/defects.md). Every value is a
// function of global pixel coordinates, so the result does not depend on how rows are cut.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/defects/colour_model.hpp"

namespace alinify::defects {

// How a scan pixel is compared with the mapped design around it:
// kEnvelope: the smoothed scan pixel with the nearest colour (in RGB) inside the per-channel range of the
// unsmoothed mapped design within +-(radius + scale) px: the smoothed scan is a mixture of design
// colours within that reach, whatever the camera's blur or the design raster's rendering of a thin
// line (docs/defects.md); kNearest: the smoothed scan with the nearest smoothed design pixel's colour
// within +-radius.
enum class Compare { kEnvelope, kNearest };

struct DefectOptions {
  Compare compare = Compare::kEnvelope;  // --defect-compare
  int radius = 1;             // --defect-radius: the scan pixel is compared with the mapped design within +-radius px
  int scale = 1;              // --defect-scale: box pre-smoothing of both images, (2*scale+1)^2 px; 0 none
  double high = 10, low = 5;  // --defect-high / --defect-low: hysteresis in Delta E 1976
  int64_t min_area = 24;      // --defect-min-area, px (docs/defects.md)
  int join_gap = 8;           // --defect-join-gap: pieces this near are one defect (merge_strips)
  int sample_step = 0;        // colour-fit samples every step px in x and y; 0: from the image size
  bool gain_field = true;     // --no-defect-gain-field turns it off
  bool tone_curve = true;     // --no-defect-tone-curve turns it off

  void check() const;  // usage errors naming the option
  // Rows read beyond a strip on each side.
  int halo() const { return radius + scale; }
};

// The sample spacing for an image: ~100 000 samples, at least every 4th pixel.
int sample_step_for(Size image, const DefectOptions& o);

// A piece (8-connected pixels at Delta E >= low) is strong when one of its pixels reaches `high`,
// or, faint, when its mean Delta E is at least faint_mean and the Delta E above `low` summed over
// its pixels at least faint_excess. Strong pieces are joined within join_gap and kept when the
// group has min_area px (docs/defects.md, method item 3).
bool is_strong(int64_t area, double sum_de, double max_de, const DefectOptions& o);
// low + 0.3 (high - low), 6.5 by default: over the mean of the large low-contrast pieces that a
// noisy scan makes (6.0 on a weave three times synth's), under most faint drawn defects' (6.4-8.6).
inline double faint_mean(const DefectOptions& o) { return o.low + 0.3 * (o.high - o.low); }
// What a piece of min_area px has at a mean halfway between low and high: 60 by default.
inline double faint_excess(const DefectOptions& o) { return static_cast<double>(o.min_area) * (o.high - o.low) / 2; }

// Rows [in_y0, in_y0 + in_rows) of both images, pixel-interleaved RGB: a strip and its halo, clipped
// to the image. Full width (x0 = 0, image the design's size), or for delta_map alone a window of
// columns [x0, x0 + image.width) (a report's crop: image.height stays the design's; the colour
// model's gain field sees global columns; pixels within the halo of the window's sides are clamped).
struct StripPixels {
  Size image;
  int64_t in_y0 = 0, in_rows = 0;
  const uint8_t* design = nullptr;
  const uint8_t* aligned = nullptr;
  int64_t x0 = 0;
};

// Box average of radius r over the window (clamped at the window's edges: the caller reads a halo
// of r rows, so only rows it does not use see the clamp).
std::vector<float> box_smooth(const uint8_t* rgb, int64_t width, int64_t rows, int r);

// The colour-fit samples of rows [y0, y0 + rows) that fall on the sample grid (x and y multiples of
// step) and are valid (valid: one byte per pixel of those rows, or null for all valid).
std::vector<Sample> collect_samples(const StripPixels& px, int64_t y0, int64_t rows, int step, const DefectOptions& o,
                                    const uint8_t* valid);

// Per pixel of rows [y0, y0 + rows): Delta E 1976 of the scan against the colour-mapped design
// around it (Compare), and dL = L*(scan) - L*(the design colour it was compared with). Invalid pixels
// get 0, and so may (envelope) pixels whose difference is certainly below `low`. dL is defined where
// de >= low only (the components' pixels; envelope leaves the others as they were).
struct DeltaMap {
  std::vector<float> de, dl;
};
DeltaMap delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model, const DefectOptions& o,
                   const uint8_t* valid);
// The same into `map`, whose memory is reused from strip to strip.
void delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model, const DefectOptions& o,
               const uint8_t* valid, DeltaMap& map);

// A connected component (8-connected, Delta E >= low) of a strip, or several merged.
struct Blob {
  int64_t area = 0;
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive box, design pixels
  int64_t first_x = 0, first_y = 0;        // its first pixel in raster order: the sort key
  double sum_de = 0, max_de = 0, sum_dl = 0, sum_x = 0, sum_y = 0;
};

// A run of one label on a strip's top or bottom row: x in [x0, x1).
struct Run {
  int32_t x0 = 0, x1 = 0, label = 0;  // label: index into the strip's blobs
};

struct StripComponents {
  int64_t y0 = 0, rows = 0;
  std::vector<Blob> blobs;  // every strong blob (is_strong), and every blob touching an inner strip edge
  std::vector<Run> top, bottom;
  // Per blob, the join cells its pixels fall in (join_cell(o) px squares, key (y / c) << 32 | x / c),
  // sorted: pieces are joined when their boxes are near and some cells of theirs are neighbours.
  std::vector<std::vector<int64_t>> cells;
};

// The side of a join cell: the join gap + 1, at least 4 px.
int join_cell(const DefectOptions& o);

// Labels rows [y0, y0 + rows) of the map (Delta E >= low). A blob that touches the strip's top or
// bottom row (where that row is not the image's edge) is kept whatever its size: it may continue in
// the next strip. The others are kept only when they are strong (is_strong).
StripComponents label_strip(const DeltaMap& map, int64_t width, int64_t height, int64_t y0, int64_t rows,
                            const DefectOptions& o);

std::string encode(const std::vector<StripComponents>& strips);
std::vector<StripComponents> decode(const std::string& bytes);

enum class Kind { kMissingInk, kExtraInk, kColourShift };
const char* kind_name(Kind k);

struct Defect {
  int64_t id = 0;
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive box, design pixels
  double cx = 0, cy = 0;                   // centroid, design pixels
  double scan_cx = 0, scan_cy = 0;         // the centroid through the transform
  int64_t area = 0;
  double mean_de = 0, max_de = 0, mean_dl = 0;
  Kind kind = Kind::kColourShift;
};

// Rank 0: joins blobs across strip boundaries (8-connected), keeps the strong ones (is_strong), joins
// those with at most join_gap px between their boxes and pixels in neighbouring join cells, then
// such groups within join_gap of each other that both fill a tenth of their boxes (one streak or
// colour shift broken where it crosses print of nearly its own colour is one defect; a long thin
// piece's box does not swallow the pieces inside it), keeps groups of at least min_area px, sorts them by
// their first pixel and numbers them from 1. Any strip order in, any set of strips covering the image in whole (the
// blobs of each strip in its order).
std::vector<Defect> merge_strips(std::vector<StripComponents> strips, const DefectOptions& o);

// A coarse kind from the lightness: |mean dL| >= 0.3 x the mean Delta E: missing ink when the scan
// is lighter, extra ink when darker; else a colour shift.
Kind classify(double mean_de, double mean_dl);

}  // namespace alinify::defects
