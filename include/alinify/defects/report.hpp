#pragma once
// The defect list beside the aligned image: <out>.defects.csv and <out>.defects.geojson, and the
// CSV read back (for eval --defects); the mask of design pixels the scan covers.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/defects/strip.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::defects {

std::string csv_text(const std::vector<Defect>& defects);
// GeoJSON FeatureCollection in design pixel coordinates (x right, y down; no CRS): one Polygon per
// defect, its box's outer pixel edges, with the CSV's columns as properties.
std::string geojson_text(const std::vector<Defect>& defects);
// Reads csv_text's format; bad input naming the file otherwise.
std::vector<Defect> read_csv(const std::string& path);

// One byte per pixel of rows [y0, y0 + rows) of the design grid: 1 when the pixel lies at least
// `margin` px inside the design and the transform puts it at least `margin` px inside the scan (near
// either edge the aligned output mixes in what lies beyond: table, fill). The transform is evaluated on nodes every 16
// px anchored at global (0, 0) and interpolated bilinearly between them (a smooth map: far below a pixel).
// Columns [x0, x0 + cols) only when given (a window: the same bytes as those columns of full rows).
std::vector<uint8_t> coverage_mask(const transform::Transform& t, Size design, Size scan, int64_t y0, int64_t rows,
                                   double margin, int64_t x0 = 0, int64_t cols = -1);
// The same into `mask` (resized; every byte written): a strip loop keeps one buffer.
void coverage_mask(const transform::Transform& t, Size design, Size scan, int64_t y0, int64_t rows, double margin,
                   std::vector<uint8_t>& mask, int64_t x0 = 0, int64_t cols = -1);

// `inspect` without a transform: clears `valid` (one byte per pixel of rows [y0, y0 + rows)) within
// `margin` px of the aligned image's fill, the pixels whose 3x3 block (clamped to the window) is
// exactly (fill, fill, fill): what a warp writes where the scan does not reach. A scan's noise makes
// such a block unlikely in print (a print saturated to the fill colour over 3x3 px is masked too).
// The window must hold `margin + 1` rows beyond the strip where the image has them.
void mask_fill(const StripPixels& px, int64_t y0, int64_t rows, int fill, int64_t margin, uint8_t* valid);

}  // namespace alinify::defects
