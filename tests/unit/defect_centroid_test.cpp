// The defect's centre from its extent (defects::extent_centroid) against hand-made Delta E maps
// with the two things that move the centroid of the passing pixels: a blurred rim whose width grows
// with the contrast, and the envelope's blind band along a design edge inside a defect.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "alinify/defects/centroid.hpp"

namespace alinify::defects {
namespace {

struct Map {
  int64_t w, h;
  std::vector<float> de;
  Map(int64_t width, int64_t height) : w(width), h(height), de(static_cast<size_t>(width * height), 0.0f) {}
  float& at(int64_t x, int64_t y) { return de[static_cast<size_t>(y * w + x)]; }
  DeltaWindow window() const { return DeltaWindow{de.data(), 0, 0, w, h}; }
};

// The box and the plain centroid of the pixels >= low: what the components give.
Defect pixels_of(const Map& m, const DefectOptions& o) {
  Defect d;
  d.x0 = m.w, d.y0 = m.h, d.x1 = -1, d.y1 = -1;
  double sx = 0, sy = 0;
  for (int64_t y = 0; y < m.h; ++y)
    for (int64_t x = 0; x < m.w; ++x)
      if (m.de[static_cast<size_t>(y * m.w + x)] >= o.low) {
        d.x0 = std::min(d.x0, x), d.x1 = std::max(d.x1, x), d.y0 = std::min(d.y0, y), d.y1 = std::max(d.y1, y);
        sx += static_cast<double>(x), sy += static_cast<double>(y), ++d.area;
      }
  d.cx = sx / static_cast<double>(d.area);
  d.cy = sy / static_cast<double>(d.area);
  return d;
}

// A streak 3 px wide (columns 20..22, rows 10..129) seen through a blur: the profile across it is
// 0.1, 1/3, 2/3, 1, 2/3, 1/3, 0.1. Its contrast is 40 on the upper half and 70 on the lower, so
// the outer rim (0.1 x contrast) passes `low` on the lower half only, as a streak crossing print of
// two colours does.
TEST(DefectCentroid, AStreakOfUnevenContrastIsCentredOnItsLength) {
  Map m(44, 140);
  const double profile[7] = {0.1, 1.0 / 3, 2.0 / 3, 1, 2.0 / 3, 1.0 / 3, 0.1};
  for (int64_t y = 8; y <= 131; ++y) {
    // The ends blurred the same way along the streak.
    const double along = y < 10 ? profile[y - 8 + 1] : y > 129 ? profile[5 + (y - 130)] : 1.0;
    const double contrast = y < 70 ? 40 : 70;
    for (int k = 0; k < 7; ++k) m.at(18 + k, y) = static_cast<float>(contrast * along * profile[k]);
  }
  const DefectOptions o;
  const Defect d = pixels_of(m, o);
  // The pixels: 5 a row on the upper half, 7 on the lower: 5 px towards the lower half.
  EXPECT_GT(d.cy - 69.5, 4.5);
  const std::optional<Vec2> c = extent_centroid(m.window(), d, o);
  ASSERT_TRUE(c.has_value());
  EXPECT_NEAR(c->x, 21.0, 1e-9);
  // Weighted, a row of the upper half weighs 2/3 + 1 + 1 + 1 + 2/3 and one of the lower half
  // 0.2 + 2/3 + 1 + 1 + 1 + 2/3 + 0.2 (1.2 px towards the lower half before the sections); counted
  // by cross-section, every row counts once and only the ends differ.
  EXPECT_NEAR(c->y, 69.5, 0.5);
}

// A slanted streak (30 degrees, 161 px long) whose profile across is the one measured over two
// prints on the 283 MP pair (streak 23, docs/defects.md): 6 27 54 73 64 36 13 on one half and
// 11 29 49 57 54 32 14 on the other. Against its own peak the second is wider, so the ramp weight
// gives its sections about 5.9 px against 5.3 and the weighted mean lies about 2 px along the
// streak; by cross-section along the streak's axis each section counts once.
TEST(DefectCentroid, ASlantedStreakOfUnevenProfileIsCentredOnItsLength) {
  Map m(200, 140);
  const double cx = 100.3, cy = 70.6, ux = std::cos(M_PI / 6), uy = std::sin(M_PI / 6);
  const double olive[7] = {6, 27, 54, 73, 64, 36, 13}, purple[7] = {11, 29, 49, 57, 54, 32, 14};
  const auto across_profile = [](const double* p, double across) {  // linear between the samples
    const double t = across + 3;
    if (t <= -0.5 || t >= 6.5) return 0.0;
    const double c = std::clamp(t, 0.0, 6.0);
    const int i = std::min(5, static_cast<int>(c));
    return p[i] + (p[i + 1] - p[i]) * (c - i);
  };
  for (int64_t y = 0; y < m.h; ++y)
    for (int64_t x = 0; x < m.w; ++x) {
      const double dx = static_cast<double>(x) - cx, dy = static_cast<double>(y) - cy;
      const double along = dx * ux + dy * uy, across = -dx * uy + dy * ux;
      const double end = std::clamp(81 - std::abs(along), 0.0, 1.0);  // the ends cut alike
      m.at(x, y) = static_cast<float>(end * across_profile(along < 0 ? olive : purple, across));
    }
  const DefectOptions o;
  const Defect d = pixels_of(m, o);
  const std::optional<Vec2> c = extent_centroid(m.window(), d, o);
  ASSERT_TRUE(c.has_value());
  EXPECT_LT(std::hypot(c->x - cx, c->y - cy), 0.5) << "off by (" << c->x - cx << ", " << c->y - cy << ")";
}

// A colour shift over a 40 x 30 rectangle (Delta E 30) with a blind band 5 px wide across one
// corner (|x + y - 24| <= 2 in the rectangle's coordinates), where the envelope saw a design edge.
TEST(DefectCentroid, TheEnvelopesBlindBandIsBridged) {
  Map m(60, 50);
  const int64_t rx = 10, ry = 8, rw = 40, rh = 30;
  for (int64_t y = 0; y < rh; ++y)
    for (int64_t x = 0; x < rw; ++x)
      if (std::abs(x + y - 24) > 2) m.at(rx + x, ry + y) = 30;
  const DefectOptions o;
  const Defect d = pixels_of(m, o);
  const double cx = rx + (rw - 1) / 2.0, cy = ry + (rh - 1) / 2.0;
  EXPECT_GT(std::hypot(d.cx - cx, d.cy - cy), 0.5) << "the test must show the pixels' bias";
  const std::optional<Vec2> c = extent_centroid(m.window(), d, o);
  ASSERT_TRUE(c.has_value());
  EXPECT_NEAR(c->x, cx, 1e-9);
  EXPECT_NEAR(c->y, cy, 1e-9);
}

// A window that does not hold the box is a caller's error, not a silent clamp; a box without a
// pixel at `high` has no extent.
TEST(DefectCentroid, WindowMustCoverTheBoxAndWeakBoxesHaveNoExtent) {
  Map m(20, 20);
  Defect d;
  d.x0 = 2, d.y0 = 2, d.x1 = 25, d.y1 = 10;
  EXPECT_THROW(extent_centroid(m.window(), d, DefectOptions{}), std::exception);
  d.x1 = 10;
  for (int64_t y = 2; y <= 10; ++y)
    for (int64_t x = 2; x <= 10; ++x) m.at(x, y) = 7;  // >= low, < high
  EXPECT_FALSE(extent_centroid(m.window(), d, DefectOptions{}).has_value());
}

}  // namespace
}  // namespace alinify::defects
