// The block measurement of the refinement stage (issue 16 item 2): sub-pixel shifts of textured
// blocks, and the confidence that must stay low where a block cannot be measured.
#include "alinify/reg/block_match.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

using alinify::reg::block::Block;
using alinify::reg::block::MatchOptions;
using alinify::reg::block::measure_block;
using alinify::reg::block::Measurement;
using alinify::reg::block::Verdict;

namespace {

using Field = std::function<double(double, double)>;

// A band-limited texture: 60 cosines, wavelengths 3..40 px in every direction, so that a shifted
// copy can be sampled exactly at any sub-pixel offset.
Field texture(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  struct Wave {
    double kx, ky, amp, phase;
  };
  std::vector<Wave> waves;
  for (int i = 0; i < 60; ++i) {
    const double lambda = 3 * std::pow(40.0 / 3, u(rng)), dir = 2 * M_PI * u(rng);
    waves.push_back(
        {2 * M_PI / lambda * std::cos(dir), 2 * M_PI / lambda * std::sin(dir), 4 + 8 * u(rng), 2 * M_PI * u(rng)});
  }
  return [waves](double x, double y) {
    double v = 128;
    for (const Wave& w : waves) v += w.amp * std::cos(w.kx * x + w.ky * y + w.phase);
    return v;
  };
}

// design(p) = f(p); scan(p) = f(p - d): the design content at p lies at p + d in the scan.
Block sample(const Field& f, int n, double dx = 0, double dy = 0, double noise = 0, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, noise > 0 ? noise : 1);
  Block b;
  b.size = n;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) b.px.push_back(static_cast<float>(f(x - dx, y - dy) + (noise > 0 ? g(rng) : 0)));
  return b;
}

}  // namespace

TEST(BlockMatch, RecoversSubPixelShiftsOfTexturedBlocks) {
  const Field f = texture(7);
  const Block design = sample(f, 128);
  for (const auto& [dx, dy] : std::vector<std::pair<double, double>>{
           {0.0, 0.0}, {0.3, -0.7}, {1.45, 2.2}, {-3.8, 0.05}, {0.5, 0.5}, {-0.5, 4.25}, {5.9, -6.1}}) {
    const Measurement m = measure_block(design, sample(f, 128, dx, dy));
    ASSERT_TRUE(m.usable()) << describe(m.verdict) << " at " << dx << ", " << dy;
    EXPECT_NEAR(m.dx, dx, 0.02) << "shift " << dx << ", " << dy;
    EXPECT_NEAR(m.dy, dy, 0.02) << "shift " << dx << ", " << dy;
    EXPECT_GT(m.confidence, 0.5);
    EXPECT_LT(m.disagreement, 0.05);
  }
}

TEST(BlockMatch, DoesNotLockToIntegerShifts) {
  // A sweep over one pixel: an estimator that locks to integers errs most near the half pixel.
  const Field f = texture(11);
  const Block design = sample(f, 96);
  double worst = 0;
  for (int k = 0; k <= 10; ++k) {
    const double d = 0.1 * k;
    const Measurement m = measure_block(design, sample(f, 96, d, -d));
    ASSERT_TRUE(m.usable()) << describe(m.verdict) << " at " << d;
    worst = std::max({worst, std::abs(m.dx - d), std::abs(m.dy + d)});
  }
  EXPECT_LE(worst, 0.02);
}

TEST(BlockMatch, NoisyScanStillMeasuresWithinATwentiethOfAPixel) {
  // Grey-level noise of 3 (the synthetic camera's) on the scan only.
  const Field f = texture(3);
  const Measurement m = measure_block(sample(f, 128), sample(f, 128, 0.37, -1.62, 3.0));
  ASSERT_TRUE(m.usable()) << describe(m.verdict);
  EXPECT_NEAR(m.dx, 0.37, 0.05);
  EXPECT_NEAR(m.dy, -1.62, 0.05);
}

TEST(BlockMatch, FlatBlocksHaveNoConfidence) {
  const Field flat = [](double, double) { return 140.0; };
  const Measurement m = measure_block(sample(flat, 128, 0, 0, 1.0, 1), sample(flat, 128, 0, 0, 1.0, 2));
  EXPECT_EQ(m.verdict, Verdict::kFlat);
  EXPECT_FALSE(m.usable());
  EXPECT_EQ(m.confidence, 0);
  EXPECT_LT(m.texture, 2.0);
}

TEST(BlockMatch, PeriodicBlocksAreAmbiguous) {
  // A 6 px repeat inside an 8 px search radius: shifts 6 px apart match equally well.
  const Field grid = [](double x, double y) {
    return 128 + 40 * std::cos(2 * M_PI * x / 6) + 40 * std::cos(2 * M_PI * y / 6);
  };
  const Measurement m = measure_block(sample(grid, 128), sample(grid, 128, 0.4, -0.3));
  EXPECT_EQ(m.verdict, Verdict::kAmbiguous) << describe(m.verdict);
  EXPECT_EQ(m.confidence, 0);
  EXPECT_GT(m.second, 0.8 * m.peak);
}

TEST(BlockMatch, AStraightEdgeIsMeasuredInOneDirectionOnly) {
  // A soft edge at 30 degrees: moved along itself it looks the same, so the correlation peaks as
  // sharply at the wrong shift as at the right one (the aperture problem). Without the isotropy
  // check this block measured "ok" with a confidence near 1.
  const double nx = std::cos(M_PI / 6), ny = std::sin(M_PI / 6);
  const Field edge = [&](double x, double y) { return 128 + 60 * std::tanh((nx * (x - 64) + ny * (y - 64)) / 3); };
  const Measurement m = measure_block(sample(edge, 128), sample(edge, 128, -2 * ny, 2 * nx));
  EXPECT_EQ(m.verdict, Verdict::kOneDirectional) << describe(m.verdict);
  EXPECT_EQ(m.confidence, 0);
  EXPECT_LT(m.isotropy, 0.05);
  EXPECT_GT(m.texture, 2.0);  // not flat: it has structure, all of it one way
}

TEST(BlockMatch, MostlyOneWayTextureWeighsLessThanTextureEveryWay) {
  // Stripes of 30 px (no repeat within the 8 px radius) with a weak texture across them:
  // measurable, but the shift along the stripes rests on the weak part only, so the block counts
  // for less in the fit. (9 px stripes repeat within the radius: `ambiguous`, weight 0 anyway.)
  const Field weak = texture(13);
  const Field stripes = [&](double x, double y) {
    return 128 + 50 * std::cos(2 * M_PI * (0.8 * x + 0.6 * y) / 30) + 0.15 * (weak(x, y) - 128);
  };
  const Measurement striped = measure_block(sample(stripes, 128), sample(stripes, 128, 0.6, -0.4));
  const Measurement textured = measure_block(sample(texture(13), 128), sample(texture(13), 128, 0.6, -0.4));
  ASSERT_TRUE(textured.usable()) << describe(textured.verdict);
  EXPECT_GT(textured.isotropy, 0.3);
  EXPECT_EQ(textured.aperture, 1.0);
  EXPECT_GT(striped.isotropy, 0.05);
  EXPECT_LT(striped.isotropy, 0.3);
  EXPECT_LT(striped.aperture, 1.0);
  ASSERT_TRUE(striped.usable()) << describe(striped.verdict);
  EXPECT_LT(striped.confidence, textured.confidence);
}

TEST(BlockMatch, IsotropyOfKnownPatterns) {
  const Field rings = [](double x, double y) { return 128 + 60 * std::cos(std::hypot(x - 64, y - 64) / 2.5); };
  const Field ramp = [](double x, double) { return 2.0 * x; };
  EXPECT_GT(alinify::reg::block::isotropy(sample(rings, 128)), 0.8);  // every direction alike
  EXPECT_LT(alinify::reg::block::isotropy(sample(ramp, 128)), 1e-6);  // one direction only
  EXPECT_EQ(alinify::reg::block::isotropy(sample([](double, double) { return 7.0; }, 64)), 0.0);
}

TEST(BlockMatch, AShiftBeyondTheRadiusIsNotMeasured) {
  const Field f = texture(5);
  MatchOptions o;
  o.max_shift = 4;
  const Measurement m = measure_block(sample(f, 128), sample(f, 128, 9.3, 1.0), o);
  EXPECT_FALSE(m.usable()) << "a 9.3 px shift reported as " << m.dx << ", " << m.dy;
  EXPECT_EQ(m.confidence, 0);
  // Within the radius the same pair measures.
  o.max_shift = 16;
  const Measurement wide = measure_block(sample(f, 128), sample(f, 128, 9.3, 1.0), o);
  ASSERT_TRUE(wide.usable()) << describe(wide.verdict);
  EXPECT_NEAR(wide.dx, 9.3, 0.02);
}

TEST(BlockMatch, UnrelatedBlocksDoNotMatch) {
  const Measurement m = measure_block(sample(texture(1), 128), sample(texture(2), 128));
  EXPECT_FALSE(m.usable()) << describe(m.verdict) << " peak " << m.peak;
}

TEST(BlockMatch, MismatchedSizesAreRefused) {
  const Field f = texture(1);
  EXPECT_THROW(measure_block(sample(f, 64), sample(f, 32)), std::exception);
  EXPECT_THROW(measure_block(sample(f, 8), sample(f, 8)), std::exception);
}
