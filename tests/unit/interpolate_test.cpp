// The two tests sample_rgb dispatches on: where the scan has data, and where a filter's footprint
// needs no clamping.
#include "alinify/warp/interpolate.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace alinify::warp;

namespace {

// A 10x8 scan, of which the window holds columns 2..7 and rows 1..6 (no pixel data needed here).
const SourceView kScan{nullptr, 2, 1, 6, 6, 6 * 3, 10, 8};

}  // namespace

TEST(Interpolate, InsideScanReachesHalfAPixelPastEachEdge) {
  EXPECT_TRUE(inside_scan(kScan, -0.5, -0.5));
  EXPECT_TRUE(inside_scan(kScan, 9.5, 7.5));
  EXPECT_FALSE(inside_scan(kScan, std::nextafter(-0.5, -1.0), 3));
  EXPECT_FALSE(inside_scan(kScan, 3, std::nextafter(7.5, 8.0)));
  EXPECT_FALSE(inside_scan(kScan, std::nextafter(9.5, 10.0), 3));
  EXPECT_FALSE(inside_scan(kScan, std::numeric_limits<double>::quiet_NaN(), 3));
}

TEST(Interpolate, FootprintInsideNeedsEveryTapInTheScanAndTheWindow) {
  // Bilinear reads (ix, iy) .. (ix + 1, iy + 1); the window's last column and row are 7 and 6.
  EXPECT_TRUE(footprint_inside(kScan, 2, 1, Interp::kBilinear));
  EXPECT_TRUE(footprint_inside(kScan, 6, 5, Interp::kBilinear));
  EXPECT_FALSE(footprint_inside(kScan, 7, 5, Interp::kBilinear));
  EXPECT_FALSE(footprint_inside(kScan, 1, 3, Interp::kBilinear));
  // Bicubic reads (ix - 1, iy - 1) .. (ix + 2, iy + 2).
  EXPECT_TRUE(footprint_inside(kScan, 3, 2, Interp::kBicubic));
  EXPECT_FALSE(footprint_inside(kScan, 2, 2, Interp::kBicubic));
  EXPECT_FALSE(footprint_inside(kScan, 6, 2, Interp::kBicubic));
  // A window as large as the scan: the scan's own edge decides.
  const SourceView whole{nullptr, 0, 0, 10, 8, 10 * 3, 10, 8};
  EXPECT_TRUE(footprint_inside(whole, 8, 6, Interp::kBilinear));
  EXPECT_FALSE(footprint_inside(whole, 9, 6, Interp::kBilinear));
}

TEST(Interpolate, FillColourIsWrittenOutsideTheScan) {
  uint8_t out[3] = {0, 0, 0};
  sample_rgb(kScan, -3.0, 2.0, Interp::kBicubic, Rgb{7, 8, 9}, out);
  EXPECT_EQ(out[0], 7);
  EXPECT_EQ(out[1], 8);
  EXPECT_EQ(out[2], 9);
}
