#pragma once
// Where a defect is: the centre of its extent, estimated from the Delta E map around it rather than
// from the pixels that passed the hysteresis (docs/defects.md, "Centroids"). Those pixels include
// a rim the smoothing and the warp's interpolation blur into: its width grows with the contrast, so
// a streak crossing print of different colours is found wider where it shows more and its pixel
// centroid moves along it; and the envelope leaves out a band of up to 2 x (radius + scale) + 1 px
// along a design edge inside a defect.
#include <cstdint>
#include <optional>

#include "alinify/core/geometry.hpp"
#include "alinify/defects/strip.hpp"

namespace alinify::defects {

// A window of the Delta E map, row-major, its first pixel at design pixel (x0, y0).
struct DeltaWindow {
  const float* de = nullptr;
  int64_t x0 = 0, y0 = 0, width = 0, height = 0;
};

// The margin a window needs around a defect's box: the half maximum's reach and the closing radius.
int64_t extent_margin(const DefectOptions& o);

// Boxes larger than this (pixels) keep the centroid of their pixels: the window would be a buffer
// of the order of the image for a defect that covers much of it, and the rim is a negligible part
// of such a defect.
constexpr int64_t kExtentMaxBoxPixels = int64_t{4} << 20;

// Inside the defect's box: the pixels at or above `low` in 8-connected pieces (within the box)
// that reach `high`, each weighing its Delta E over half the largest Delta E within
// +-(radius + scale) px, at most 1 (the half maximum taken as the edge: a blurred rim weighs what
// it covers whatever the contrast, and a defect's inside weighs 1 where its Delta E varies by less
// than a factor 2), and the pixels a closing of radius + scale + 1 px adds to the pieces, weighing
// 1 (the envelope's blind bands). Returns their weighted mean position, or nothing when no pixel
// counts; for a line-like defect (spread along its long axis at least 4 times that across), the
// mean of its 2 px cross-sections' weighted centres instead, each section counting once (at most;
// less at an end, where it holds under half the median section's weight), so that a rim wider
// over one print than another cannot pull the centroid along a streak. The window must cover the
// box and extent_margin(o) px around it, clipped to the image.
std::optional<Vec2> extent_centroid(const DeltaWindow& map, const Defect& d, const DefectOptions& o);

}  // namespace alinify::defects
