#pragma once
// The QA pictures, all made from previews (a few hundred pixels a side) read with GDAL's averaging,
// so no picture ever needs the full image in memory.
#include <string>
#include <vector>

#include "alinify/io/raster.hpp"
#include "alinify/qa/image.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::qa {

struct Previews {
  double design_scale = 1;                // design pixels per preview pixel
  RgbImage design, aligned;               // on the design's grid
  RgbImage scan_as_is;                    // the scan laid on the design's grid unmoved (identity: "before")
  std::vector<uint8_t> scan_as_is_valid;  // 1 where the scan covers the design pixel
  double scan_scale = 1;                  // scan pixels per preview pixel
  RgbImage scan;                          // the whole scan
};

// Previews whose longer side is at most max_side pixels. They are read in bands of preview rows
// (kPreviewBandRows); with parts > 1 only every parts-th band from `part` is read, the others left
// as they are, so that ranks can share the reads (about 3 s at 283 MP, two full-resolution images
// read through) and rank 0 put the bands together: the same bytes for any number of parts.
constexpr int kPreviewBandRows = 16;
Previews read_previews(const io::Raster& design, const io::Raster& scan, const io::Raster& aligned, int max_side,
                       int part = 0, int parts = 1);
// The pixels of the bands `part` read, as bytes; and the other way, into previews of the same sizes.
std::string pack_bands(const Previews& p, int part, int parts);
void unpack_bands(Previews& p, const std::string& bytes, int part, int parts);

// Alternating cells of a and b (same size): edges that do not continue across cells show misalignment.
RgbImage checkerboard(const RgbImage& a, const RgbImage& b, int cells_along_longer_side = 8);

// |grey(a) - grey(b)| after standardising each (mean 0, sd 1, so lighting differences do not count),
// coloured 0..3 sd; pixels not valid (valid empty: all valid) are mid grey.
RgbImage difference_heatmap(const RgbImage& a, const RgbImage& b, const std::vector<uint8_t>& valid = {});

struct DeformationPicture {
  RgbImage image;        // map + colour bar on the right
  double max_value = 0;  // pixels at the top of the colour bar
};
// |T(p) - A(p)| (local deformation beyond the affine part) over the design, at width x height,
// with a vertical colour bar from 0 (bottom) to the map's maximum (top).
DeformationPicture deformation_map(const transform::Transform& t, Size design, int width, int height);

// The scan preview, dimmed, with the design's grid lines (lines_along_longer_side of them) drawn
// where the transform puts them: bends show the deformation, crossings show folding.
RgbImage warped_grid(const Previews& p, const transform::Transform& t, Size design, int lines_along_longer_side = 16);

// The refinement's measured residual per block (job/refine.cpp), on the block grid: magnitudes in
// px, row-major, NaN where a block does not count (not measured, flat, ambiguous, ...). Small:
// one value per 32x32 design pixels.
struct ResidualGrid {
  int cols = 0, rows = 0;
  int block_size = 0, block_step = 0;  // design px: the blocks' side and their spacing
  std::vector<float> before, after;    // through elastix's transform; through the final one
  bool empty() const { return cols == 0 || rows == 0; }
};
// One residual map: a cell per block, coloured from 0 px (dark blue) to top_px (pale yellow) as the other
// heat maps, mid grey where the block does not count, scaled so that its longer side is about
// max_side; a colour bar on the right.
RgbImage residual_map(const ResidualGrid& grid, const std::vector<float>& values, double top_px, int max_side = 512);

// The aligned preview scaled down to at most max_side (for the batch index).
RgbImage thumbnail(const RgbImage& image, int max_side);

}  // namespace alinify::qa
