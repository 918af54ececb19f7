// Fabric on the table: the mask and oriented box on an uneven, noisy table, and the placements the
// box implies for a design.
#include "alinify/reg/fabric_box.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace alinify::reg::coarse {
namespace {

struct Rect {
  double cx, cy, length, breadth, angle_deg;
  bool inside(double x, double y) const {
    const double a = angle_deg * M_PI / 180, dx = x - cx, dy = y - cy;
    const double u = dx * std::cos(a) + dy * std::sin(a), v = -dx * std::sin(a) + dy * std::cos(a);
    return std::abs(u) <= length / 2 && std::abs(v) <= breadth / 2;
  }
};

// A table with an illumination gradient and noise; where `fabric` is set, a striped print with a
// flat disk of exactly the table's grey in the middle (enclosed: must stay fabric).
Image table_scene(int w, int h, const Rect* fabric, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(-1.5f, 1.5f);
  Image im;
  im.width = w;
  im.height = h;
  im.px.resize(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double u = 2.0 * x / (w - 1) - 1, v = 2.0 * y / (h - 1) - 1;
      const double table = 120 + 15 * u + 10 * v * v;
      double acc = 0;
      for (int sy = 0; sy < 4; ++sy)  // 4x4 supersampling: edge pixels are mixed, like a camera's
        for (int sx = 0; sx < 4; ++sx) {
          const double px = x - 0.375 + 0.25 * sx, py = y - 0.375 + 0.25 * sy;
          if (fabric && fabric->inside(px, py)) {
            const bool disk = std::hypot(px - fabric->cx, py - fabric->cy) < 15;
            acc += disk ? table : 90 + 60 * (std::sin(px * 0.9 + py * 0.4) > 0);
          } else {
            acc += table;
          }
        }
      im.px[static_cast<size_t>(y) * w + x] = static_cast<float>(acc / 16 + noise(rng));
    }
  return im;
}

TEST(FabricBox, FindsATurnedRectangleOnAnUnevenTable) {
  for (const Rect r : {Rect{128, 105, 160, 110, 3.0}, Rect{140, 100, 120, 150, -4.5}, Rect{120, 110, 170, 100, 0.0}}) {
    const Image scan = table_scene(260, 220, &r, 3);
    const FabricBox b = find_fabric_box(scan);
    ASSERT_TRUE(b.found) << b.why_not;
    EXPECT_FALSE(b.touches_edge);
    // The box's sides may come out swapped by a quarter turn: compare as a rectangle.
    double angle = r.angle_deg, length = r.length, breadth = r.breadth;
    if (std::abs(b.angle_deg - angle) > 45) angle += b.angle_deg > angle ? 90 : -90, std::swap(length, breadth);
    EXPECT_NEAR(b.angle_deg, angle, 0.5);
    EXPECT_NEAR(b.length, length, 2.0);
    EXPECT_NEAR(b.breadth, breadth, 2.0);
    EXPECT_NEAR(b.cx, r.cx, 1.0);
    EXPECT_NEAR(b.cy, r.cy, 1.0);
    EXPECT_GT(b.fill, 0.95);
    // The flat disk in the middle looks like table but is enclosed by print: it is fabric.
    EXPECT_EQ(b.mask[static_cast<size_t>(std::lround(r.cy)) * scan.width + std::lround(r.cx)], 1);
    EXPECT_EQ(b.mask[5 * scan.width + 5], 0);
  }
}

TEST(FabricBox, BareTableHasNoBox) {
  const FabricBox b = find_fabric_box(table_scene(200, 160, nullptr, 4));
  EXPECT_FALSE(b.found);
  EXPECT_NE(b.why_not.find("no fabric"), std::string::npos) << b.why_not;
}

TEST(FabricBox, FabricCutOffByTheScanEdgeIsFlagged) {
  const Rect r{60, 80, 160, 100, 1.0};  // its left part lies beyond x = 0
  const FabricBox b = find_fabric_box(table_scene(200, 160, &r, 5));
  EXPECT_TRUE(b.touches_edge);
  // A design of the true size no longer fits the cut-off box.
  CoarseOptions o;
  EXPECT_TRUE(box_placements(b, 1, 160, 100, o).empty());
}

TEST(FabricBox, PlacementsPutTheDesignCentreOnTheBoxCentre) {
  FabricBox b;
  b.found = true;
  b.cx = 100, b.cy = 80, b.length = 150, b.breadth = 100, b.angle_deg = 2;
  const int F = 4;  // the box is in coarse pixels of 4 full-resolution pixels
  const double dw = 600, dh = 400;
  CoarseOptions o;
  auto one = box_placements(b, F, dw, dh, o);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[0].angle_deg, 2, 1e-12);
  EXPECT_NEAR(one[0].scale, 1, 1e-12);
  const transform::Affine a = one[0].affine();
  const double mx = (dw - 1) / 2, my = (dh - 1) / 2;
  EXPECT_NEAR(a.m[0] * mx + a.m[1] * my + a.offset[0], F * 100 + 1.5, 1e-9);
  EXPECT_NEAR(a.m[2] * mx + a.m[3] * my + a.offset[1], F * 80 + 1.5, 1e-9);
  // With quarter turns the half turn fits too; the quarter turns do not (3:2 is not 2:3).
  o.quarter_turns = true;
  auto two = box_placements(b, F, dw, dh, o);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NEAR(two[1].angle_deg, 182, 1e-12);
  // The search at every rotation (no --quarter-turns) has the half turn too.
  o.quarter_turns = false;
  o.max_rotation_deg = 180;
  auto every = box_placements(b, F, dw, dh, o);
  ASSERT_EQ(every.size(), 2u);
  EXPECT_NEAR(every[0].angle_deg, 2, 1e-12);
  EXPECT_NEAR(every[1].angle_deg, 182, 1e-12);
  o.max_rotation_deg = 5;
  o.quarter_turns = true;
  // Another aspect or a box turned beyond --max-rotation: nothing.
  EXPECT_TRUE(box_placements(b, F, 600, 600, o).empty());
  b.angle_deg = 20;
  o.quarter_turns = false;
  EXPECT_TRUE(box_placements(b, F, dw, dh, o).empty());
}

}  // namespace
}  // namespace alinify::reg::coarse
