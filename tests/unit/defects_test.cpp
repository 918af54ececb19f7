// The defect finder's pieces: colour conversion and differences against published values, the
// robust colour fit against a known mapping, components merged across strip boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "alinify/defects/colour.hpp"
#include "alinify/defects/colour_model.hpp"
#include "alinify/defects/report.hpp"
#include "alinify/defects/strip.hpp"

namespace alinify::defects {
namespace {

// Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
// supplementary test data, and mathematical observations", Table 1: pairs 1, 2, 3, 4, 7, 8, 9, 17,
// 18, 19, 20, 25 and 34 (published to four decimals).
TEST(DefectsColour, DeltaE2000MatchesSharmaWuDalalTable) {
  struct Row {
    Lab a, b;
    double de;
  };
  const Row rows[] = {
      {{50.0000, 2.6772, -79.7751}, {50.0000, 0.0000, -82.7485}, 2.0425},
      {{50.0000, 3.1571, -77.2803}, {50.0000, 0.0000, -82.7485}, 2.8615},
      {{50.0000, 2.8361, -74.0200}, {50.0000, 0.0000, -82.7485}, 3.4412},
      {{50.0000, -1.3802, -84.2814}, {50.0000, 0.0000, -82.7485}, 1.0000},
      {{50.0000, 0.0000, 0.0000}, {50.0000, -1.0000, 2.0000}, 2.3669},
      {{50.0000, -1.0000, 2.0000}, {50.0000, 0.0000, 0.0000}, 2.3669},
      {{50.0000, 2.4900, -0.0010}, {50.0000, -2.4900, 0.0009}, 7.1792},
      {{50.0000, 2.5000, 0.0000}, {73.0000, 25.0000, -18.0000}, 27.1492},
      {{50.0000, 2.5000, 0.0000}, {61.0000, -5.0000, 29.0000}, 22.8977},
      {{50.0000, 2.5000, 0.0000}, {56.0000, -27.0000, -3.0000}, 31.9030},
      {{50.0000, 2.5000, 0.0000}, {58.0000, 24.0000, 15.0000}, 19.4535},
      {{60.2574, -34.0099, 36.2677}, {60.4626, -34.1751, 39.4387}, 1.2644},
      {{2.0776, 0.0795, -1.1350}, {0.9033, -0.0636, -0.5514}, 0.9082},
  };
  for (const Row& r : rows) {
    EXPECT_NEAR(delta_e2000(r.a, r.b), r.de, 5e-5) << r.a.L << " " << r.a.a << " " << r.a.b;
    EXPECT_NEAR(delta_e2000(r.b, r.a), r.de, 5e-5);
  }
}

TEST(DefectsColour, DeltaE76IsTheEuclideanDistance) {
  EXPECT_DOUBLE_EQ(delta_e76({50, 0, 0}, {53, 4, 0}), 5.0);
  EXPECT_DOUBLE_EQ(delta_e76({10, -2, 7}, {10, -2, 7}), 0.0);
  EXPECT_DOUBLE_EQ(delta_e76({0, 0, 0}, {2, 3, 6}), 7.0);
}

// sRGB primaries and white in L*a*b* (D65), as tabulated by colour-science references (two decimals).
TEST(DefectsColour, SrgbToLabKnownColours) {
  const Lab white = srgb_to_lab(255, 255, 255), black = srgb_to_lab(0, 0, 0);
  EXPECT_NEAR(white.L, 100.0, 0.01);
  EXPECT_NEAR(white.a, 0.0, 0.01);
  EXPECT_NEAR(white.b, 0.0, 0.01);
  EXPECT_NEAR(black.L, 0.0, 1e-9);
  const Lab red = srgb_to_lab(255, 0, 0), green = srgb_to_lab(0, 255, 0), blue = srgb_to_lab(0, 0, 255);
  EXPECT_NEAR(red.L, 53.24, 0.02);
  EXPECT_NEAR(red.a, 80.09, 0.02);
  EXPECT_NEAR(red.b, 67.20, 0.02);
  EXPECT_NEAR(green.L, 87.73, 0.02);
  EXPECT_NEAR(green.a, -86.18, 0.02);
  EXPECT_NEAR(green.b, 83.18, 0.02);
  EXPECT_NEAR(blue.L, 32.30, 0.02);
  EXPECT_NEAR(blue.a, 79.19, 0.02);
  EXPECT_NEAR(blue.b, -107.86, 0.02);
  // A grey has no chroma; lighter is higher L*.
  const Lab grey = srgb_to_lab(119, 119, 119);
  EXPECT_NEAR(grey.a, 0.0, 0.01);
  EXPECT_NEAR(grey.b, 0.0, 0.01);
  EXPECT_LT(grey.L, srgb_to_lab(120, 120, 120).L);
}

// Greys, fractional levels included (a colour-mapped design is not integral): L* = 116 Y^(1/3) - 16
// with Y the sRGB decoding of the level, straight from IEC 61966-2-1 (the code uses a table).
TEST(DefectsColour, GreyLightnessFollowsTheSrgbCurve) {
  for (double v : {3.3, 10.0, 64.25, 119.5, 200.7, 254.99}) {
    const double c = v / 255.0;
    const double y = c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    const double l = y > 216.0 / 24389.0 ? 116 * std::cbrt(y) - 16 : 24389.0 / 27.0 * y;
    EXPECT_NEAR(srgb_to_lab(v, v, v).L, l, 1e-4) << v;
  }
}

// Samples from a known model (matrix, offset, gain field) with a share of outliers (defects).
std::vector<Sample> samples_of(const ColourModel& truth, double outlier_share, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Sample> out;
  for (int i = 0; i < 4000; ++i) {
    Sample s;
    s.x = static_cast<float>(std::floor(u(rng) * static_cast<double>(truth.image.width)));
    s.y = static_cast<float>(std::floor(u(rng) * static_cast<double>(truth.image.height)));
    for (float& c : s.design) c = static_cast<float>(20 + 200 * u(rng));
    double p[3];
    truth.apply(s.x, s.y, s.design.data(), p);
    for (int c = 0; c < 3; ++c) s.scan[c] = static_cast<float>(p[c] + (u(rng) - 0.5));
    if (u(rng) < outlier_share)
      for (float& c : s.scan) c = static_cast<float>(255 * u(rng));
    out.push_back(s);
  }
  return out;
}

TEST(Colour, CubeRootMatchesTheLibrarysOverLabsRange) {
  // Every t that CIELAB's f takes a cube root of (above (6/29)^3, up to past the D65 white's Z), and
  // a few decades beyond, densely.
  double worst = 0;
  for (double t = 1e-4; t < 20; t *= 1.0000137) worst = std::max(worst, std::abs(cube_root(t) / std::cbrt(t) - 1));
  EXPECT_LT(worst, 1e-12);
}

// The defect map's float batch against the double path: every colour pair of a 6-level grid (black,
// near-black and white included), decoded by the same table.
TEST(Colour, FloatBatchDeltaEMatchesTheDoublePath) {
  const int32_t parts = 16 * 9;  // the envelope's unit: 1/16 level of a 3x3 box mean
  const std::vector<float> decode = linear_light_of_sums(parts);
  std::vector<int32_t> levels;
  for (double v : {0.0, 1.0 / 9, 3.5, 47.25, 128.0, 254.9, 255.0}) levels.push_back(static_cast<int32_t>(v * parts));
  std::vector<float> planes[6];
  std::vector<double> want_de, want_dl;
  for (int32_t r1 : levels)
    for (int32_t g1 : levels)
      for (int32_t b1 : levels)
        for (int32_t r2 : levels)
          for (int32_t b2 : levels) {
            const int32_t c[6] = {r1, g1, b1, r2, g1 / 2, b2};
            for (int k = 0; k < 6; ++k) planes[k].push_back(decode[c[k]]);
            const auto v = [&](int k) { return static_cast<double>(c[k]) / parts; };
            const Lab p = srgb_to_lab(v(0), v(1), v(2)), q = srgb_to_lab(v(3), v(4), v(5));
            want_de.push_back(delta_e76(p, q));
            want_dl.push_back(p.L - q.L);
          }
  const int64_t n = static_cast<int64_t>(want_de.size());
  std::vector<float> de(n), dl(n);
  const float* lin[6];
  for (int k = 0; k < 6; ++k) lin[k] = planes[k].data();
  delta_e76_linear(lin, n, de.data(), dl.data());
  double worst = 0, top = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst = std::max({worst, std::abs(de[i] - want_de[i]), std::abs(dl[i] - want_dl[i])});
    top = std::max(top, want_de[i]);
  }
  EXPECT_LT(worst, 1e-3);
  EXPECT_GT(top, 100);  // the grid spans the gamut
}

// A camera with channel crosstalk, offsets and an illumination gradient.
ColourModel known_camera() {
  ColourModel c;
  c.image = Size{1000, 800};
  c.m = {0.9, 0.05, 0.0, -0.03, 1.05, 0.02, 0.01, 0.0, 0.95};
  c.offset = {8, -5, 3};
  c.gain = {0.05, -0.04, -0.03, 0.02, -0.05};
  return c;
}

TEST(DefectsColourModel, RecoversAKnownMappingDespiteOutliers) {
  const ColourModel truth = known_camera();
  const ColourModel fit = fit_colour_model(samples_of(truth, 0.15, 7), truth.image);
  for (int k = 0; k < 9; ++k) EXPECT_NEAR(fit.m[k], truth.m[k], 0.01) << k;
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(fit.offset[k], truth.offset[k], 1.0) << k;
  for (const auto& [x, y] : {std::pair{0.0, 0.0}, {999.0, 0.0}, {500.0, 400.0}, {0.0, 799.0}, {999.0, 799.0}})
    EXPECT_NEAR(fit.gain_at(x, y), truth.gain_at(x, y), 0.005) << x << "," << y;
  EXPECT_GT(fit.inlier_fraction, 0.8);
  EXPECT_LT(fit.inlier_fraction, 0.9);  // most of the 15 % outliers are out
  EXPECT_LT(fit.residual_rms, 1.0);     // the +-0.5 noise, per channel
  // A plain least-squares fit (one round, no reweighting) is pulled by the outliers.
  FitOptions one;
  one.iterations = 1;
  const ColourModel plain = fit_colour_model(samples_of(truth, 0.15, 7), truth.image, one);
  EXPECT_GT(std::abs(plain.m[0] - truth.m[0]) + std::abs(plain.offset[0] - truth.offset[0]) / 100, 0.02);
}

// ColourModel::contrast: how the camera scales colour differences, measured on the fitted model.
// 1 for a scan that shows the design's colours; a scan exposed to 60 % (every level x 0.6) shows a
// lightness difference smaller by the direct ratio on greys; doubling the contrast about the
// middle grey raises it; a grey camera keeps it about 1. The defect map divides by it
// (EnvelopeMapFollowsItsDefinition).
TEST(DefectsColourModel, ContrastIsHowTheCameraScalesColourDifferences) {
  ColourModel identity;
  identity.image = Size{1000, 800};
  ColourModel dark = identity, strong = identity;
  dark.m = {0.6, 0, 0, 0, 0.6, 0, 0, 0, 0.6};
  strong.m = {2, 0, 0, 0, 2, 0, 0, 0, 2};
  strong.offset = {-127.5, -127.5, -127.5};
  const double same = fit_colour_model(samples_of(identity, 0.1, 3), identity.image).contrast;
  const double darker = fit_colour_model(samples_of(dark, 0.1, 3), dark.image).contrast;
  const double stronger = fit_colour_model(samples_of(strong, 0.1, 3), strong.image).contrast;
  EXPECT_NEAR(same, 1.0, 0.01);
  // Directly: Delta E between 0.6 x (d -+ 4) over Delta E between d -+ 4, on greys.
  const auto ratio = [](double v) {
    const double a = 0.6 * (v - 4), b = 0.6 * (v + 4);
    return delta_e76(srgb_to_lab(a, a, a), srgb_to_lab(b, b, b)) /
           delta_e76(srgb_to_lab(v - 4, v - 4, v - 4), srgb_to_lab(v + 4, v + 4, v + 4));
  };
  EXPECT_GT(darker, std::min(ratio(60), ratio(200)) - 0.05);
  EXPECT_LT(darker, std::max(ratio(60), ratio(200)) + 0.05);
  EXPECT_LT(darker, 0.8);
  EXPECT_GT(stronger, 1.2);  // not 2: the colours pushed past 0 and 255 clip
  // A grey camera keeps the lightness differences: contrast about 1, not the chroma it loses.
  ColourModel grey = identity;
  grey.m = {0.299, 0.587, 0.114, 0.299, 0.587, 0.114, 0.299, 0.587, 0.114};
  EXPECT_NEAR(fit_colour_model(samples_of(grey, 0.1, 3), grey.image).contrast, 1.0, 0.1);
  EXPECT_NEAR(
      ColourModel::from_json_text(fit_colour_model(samples_of(dark, 0.1, 3), dark.image).to_json_text()).contrast,
      darker, 1e-12);
}

// A camera with a non-linear tone response: the affine model's output through
// 255 (v / 255)^gamma per channel.
double toned(double v, double gamma) { return 255 * std::pow(std::clamp(v, 0.0, 255.0) / 255, gamma); }

std::vector<Sample> toned_samples(const ColourModel& linear, double gamma, double outlier_share, uint32_t seed) {
  std::vector<Sample> s = samples_of(linear, outlier_share, seed);
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  for (Sample& x : s) {
    double p[3];
    linear.apply(x.x, x.y, x.design.data(), p);
    // Outliers (scan far from the linear prediction) stay what they were.
    for (int c = 0; c < 3; ++c)
      if (std::abs(x.scan[c] - p[c]) <= 0.5) x.scan[c] = static_cast<float>(toned(p[c], gamma) + u(rng));
  }
  return s;
}

TEST(DefectsColourModel, KeepsToneCurvesOnlyWhereTheyPay) {
  const ColourModel linear = known_camera();
  // An affine camera: the tone curves are fitted but not kept.
  const ColourModel affine = fit_colour_model(samples_of(linear, 0.15, 7), linear.image);
  EXPECT_FALSE(affine.has_curve());
  EXPECT_GT(affine.curved_median, 0.85 * affine.affine_median);
  for (const double gamma : {0.6, 1.5}) {
    const std::vector<Sample> s = toned_samples(linear, gamma, 0.15, 11);
    const ColourModel fit = fit_colour_model(s, linear.image);
    FitOptions off;
    off.tone_curve = false;
    const ColourModel plain = fit_colour_model(s, linear.image, off);
    ASSERT_TRUE(fit.has_curve()) << gamma;
    EXPECT_FALSE(plain.has_curve());
    EXPECT_LT(fit.curved_median, 0.5 * fit.affine_median) << gamma;
    // Over the sampled colours (20..220) and the image. The sum of per-channel curves cannot follow
    // a curve applied after the channels mix and the gain multiplies, so a few levels remain at
    // the extremes; the affine model is off by far more.
    double worst = 0, worst_plain = 0, sum = 0, sum_plain = 0;
    int n = 0;
    for (const double x : {0.0, 500.0, 999.0})
      for (const double y : {0.0, 400.0, 799.0})
        for (const float r : {20.f, 90.f, 220.f})
          for (const float g : {25.f, 130.f, 215.f})
            for (const float b : {20.f, 60.f, 200.f}) {
              const float d[3] = {r, g, b};
              double p[3], want[3], q[3];
              linear.apply(x, y, d, p);
              fit.apply(x, y, d, want);
              plain.apply(x, y, d, q);
              for (int c = 0; c < 3; ++c, ++n) {
                const double e = std::abs(want[c] - toned(p[c], gamma)), ep = std::abs(q[c] - toned(p[c], gamma));
                worst = std::max(worst, e);
                worst_plain = std::max(worst_plain, ep);
                sum += e;
                sum_plain += ep;
              }
            }
    std::printf("gamma %.1f: tone curves mean %.2f worst %.2f, affine mean %.2f worst %.2f levels\n", gamma, sum / n,
                worst, sum_plain / n, worst_plain);
    EXPECT_LT(sum / n, 1.0) << gamma;
    EXPECT_LT(worst, worst_plain / 3) << gamma;
  }
}

TEST(DefectsColourModel, JsonRoundTripIsExact) {
  ColourModel truth;
  truth.image = Size{640, 480};
  truth.gain = {0.01, 0, 0, 0, 0};
  for (const double gamma : {1.0, 0.7}) {
    std::vector<Sample> samples = toned_samples(truth, gamma, 0.0, 3);
    for (size_t i = 0; i < samples.size(); i += 3) samples[i].flat = true;
    const ColourModel fit = fit_colour_model(samples, truth.image);
    EXPECT_EQ(fit.has_curve(), gamma != 1.0);
    EXPECT_EQ(fit.flat_samples, static_cast<int64_t>((samples.size() + 2) / 3));
    const ColourModel back = ColourModel::from_json_text(fit.to_json_text());
    EXPECT_EQ(back.flat_median, fit.flat_median);
    EXPECT_EQ(back.flat_samples, fit.flat_samples);
    EXPECT_EQ(back.m, fit.m);
    EXPECT_EQ(back.curve, fit.curve);
    EXPECT_EQ(back.offset, fit.offset);
    EXPECT_EQ(back.gain, fit.gain);
    EXPECT_EQ(back.samples, fit.samples);
    EXPECT_EQ(back.affine_median, fit.affine_median);
    EXPECT_EQ(back.curved_median, fit.curved_median);
  }
}

// A Delta E map of a whole image, labelled either as one strip or cut into strips of `cut` rows.
std::vector<Defect> find(const DeltaMap& map, int64_t w, int64_t h, int64_t cut, const DefectOptions& o) {
  std::vector<StripComponents> strips;
  for (int64_t y0 = 0; y0 < h; y0 += cut) {
    const int64_t rows = std::min(cut, h - y0);
    DeltaMap part;
    part.de.assign(map.de.begin() + y0 * w, map.de.begin() + (y0 + rows) * w);
    part.dl.assign(map.dl.begin() + y0 * w, map.dl.begin() + (y0 + rows) * w);
    strips.push_back(label_strip(part, w, h, y0, rows, o));
  }
  // Through the message, strips in reverse order: what rank 0 gets from several ranks.
  std::reverse(strips.begin(), strips.end());
  return merge_strips(decode(encode(strips)), o);
}

TEST(DefectsComponents, MergedAcrossStripBoundariesWhateverTheCut) {
  const int64_t w = 60, h = 40;
  DeltaMap map;
  map.de.assign(w * h, 0.0f);
  map.dl.assign(w * h, 0.0f);
  const auto set = [&](int64_t x, int64_t y, float de, float dl) {
    map.de[y * w + x] = de;
    map.dl[y * w + x] = dl;
  };
  // A: a diagonal line (8-connected only) from (5, 2) to (30, 27), weak (6) except one strong pixel at its end.
  for (int64_t k = 0; k <= 25; ++k) set(5 + k, 2 + k, k == 25 ? 12.0f : 6.0f, -6.0f);
  // B: a 5x5 square of 20, lighter than the design: a missing-ink patch.
  for (int64_t y = 30; y < 35; ++y)
    for (int64_t x = 40; x < 45; ++x) set(x, y, 20.0f, 18.0f);
  // C: weak everywhere (below high): never a defect, however joined.
  for (int64_t y = 5; y < 20; ++y) set(50, y, 7.0f, 0.0f);
  // D: strong but 3 px: below the minimum area.
  for (int64_t x = 10; x < 13; ++x) set(x, 37, 30.0f, 0.0f);
  DefectOptions o;
  o.min_area = 16;
  const std::vector<Defect> whole = find(map, w, h, h, o);
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[0].area, 26);  // A, first pixel (5, 2)
  EXPECT_EQ(whole[0].x0, 5);
  EXPECT_EQ(whole[0].y1, 27);
  EXPECT_EQ(whole[0].max_de, 12.0);
  EXPECT_NEAR(whole[0].cx, 17.5, 1e-9);
  EXPECT_EQ(whole[0].kind, Kind::kExtraInk);
  EXPECT_EQ(whole[1].area, 25);  // B
  EXPECT_NEAR(whole[1].cx, 42.0, 1e-9);
  EXPECT_NEAR(whole[1].cy, 32.0, 1e-9);
  EXPECT_EQ(whole[1].kind, Kind::kMissingInk);
  for (int64_t cut : {1, 2, 3, 7, 13, 16, 31}) {
    const std::vector<Defect> cutted = find(map, w, h, cut, o);
    ASSERT_EQ(cutted.size(), whole.size()) << "cut " << cut;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(cutted[i].area, whole[i].area) << "cut " << cut;
      EXPECT_EQ(cutted[i].x0, whole[i].x0);
      EXPECT_EQ(cutted[i].y0, whole[i].y0);
      EXPECT_EQ(cutted[i].x1, whole[i].x1);
      EXPECT_EQ(cutted[i].y1, whole[i].y1);
      EXPECT_NEAR(cutted[i].cx, whole[i].cx, 1e-9);
      EXPECT_NEAR(cutted[i].mean_de, whole[i].mean_de, 1e-9);
      EXPECT_EQ(cutted[i].max_de, whole[i].max_de);
    }
  }
}

// A synthetic texture, the scan = a known colour map of it; one patch painted over in the scan.
struct Pair {
  int64_t w = 200, h = 150;
  std::vector<uint8_t> design, aligned;
};

Pair textured_pair() {
  Pair p;
  p.design.resize(p.w * p.h * 3);
  p.aligned.resize(p.design.size());
  for (int64_t y = 0; y < p.h; ++y)
    for (int64_t x = 0; x < p.w; ++x) {
      const int64_t i = (y * p.w + x) * 3;
      // Smooth colour ramps with blocks: many colours, soft edges.
      const double fx = static_cast<double>(x) / 25.0, fy = static_cast<double>(y) / 19.0;
      p.design[i] = static_cast<uint8_t>(128 + 90 * std::sin(fx));
      p.design[i + 1] = static_cast<uint8_t>(128 + 90 * std::cos(fy));
      p.design[i + 2] = static_cast<uint8_t>(128 + 60 * std::sin(fx + fy));
      // scan = 0.9 * design + 10 (each channel)
      for (int c = 0; c < 3; ++c) p.aligned[i + c] = static_cast<uint8_t>(std::lround(0.9 * p.design[i + c] + 10));
    }
  return p;
}

// A sample is flat where the design is one colour over its box and a pixel around it; the flat
// samples' residual is the scan's noise, however many edges the design has.
TEST(DefectsColourModel, FlatSamplesMeasureTheNoiseAwayFromEdges) {
  const int64_t w = 64, h = 24;
  std::vector<uint8_t> design(static_cast<size_t>(w * h * 3)), scan(design.size());
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 2);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = static_cast<size_t>((y * w + x) * 3 + c);
        design[i] = x < 30 ? 40 : 200;  // an edge between x = 29 and 30
        // The scan is the design shifted by a pixel (the edge at 31) plus noise: off at the edge only.
        scan[i] = static_cast<uint8_t>(std::clamp((x < 31 ? 40 : 200) + noise(rng), 0.0, 255.0));
      }
  DefectOptions o;  // scale 1: 3x3 box, flat when uniform over 5x5
  const StripPixels px{Size{w, h}, 0, h, design.data(), scan.data()};
  const std::vector<Sample> samples = collect_samples(px, 0, h, 4, o, nullptr);
  int flat = 0;
  for (const Sample& s : samples) {
    const bool near_edge = s.x >= 30 - 2 && s.x <= 29 + 2;
    EXPECT_EQ(s.flat, !near_edge) << s.x << "," << s.y;
    flat += s.flat;
  }
  EXPECT_GT(flat, 0);
  FitOptions fo;
  fo.gain_field = false;
  fo.tone_curve = false;
  const ColourModel m = fit_colour_model(samples, Size{w, h}, fo);
  EXPECT_EQ(m.flat_samples, flat);
  // Noise of sd 2 per channel, averaged over 9 px: the norm of three channels' errors is about
  // 2 / 3 * sqrt(3) = 1.15 at its typical size; the edge's one-pixel shift adds 53 levels a channel
  // to the samples beside it, which the median over the flat ones never sees.
  EXPECT_LT(m.flat_median, 2.0);
  EXPECT_GT(m.flat_median, 0.3);
}

std::vector<Defect> run_on(const Pair& p, const DefectOptions& o) {
  StripPixels px{Size{p.w, p.h}, 0, p.h, p.design.data(), p.aligned.data()};
  const std::vector<Sample> samples = collect_samples(px, 0, p.h, 4, o, nullptr);
  FitOptions fo;
  fo.gain_field = false;
  const ColourModel model = fit_colour_model(samples, Size{p.w, p.h}, fo);
  EXPECT_NEAR(model.m[0], 0.9, 0.02);
  EXPECT_NEAR(model.offset[1], 10, 2.0);
  std::vector<StripComponents> strips;
  for (int64_t y0 = 0; y0 < p.h; y0 += 64) {
    const int64_t rows = std::min<int64_t>(64, p.h - y0);
    const DeltaMap map = delta_map(px, y0, rows, model, o, nullptr);
    strips.push_back(label_strip(map, p.w, p.h, y0, rows, o));
  }
  return merge_strips(strips, o);
}

TEST(DefectsPipeline, NoDefectsOnAFaithfulScan) {
  const DefectOptions o;
  EXPECT_TRUE(run_on(textured_pair(), o).empty());
}

TEST(DefectsPipeline, FindsADarkPatchAcrossAStripBoundary) {
  Pair p = textured_pair();
  // A dark 10x12 blot over rows 58..69 (across the strip boundary at row 64), on a light red part of
  // the design (R ~ 215, G ~ 45, B ~ 70): the blot is much darker than the ink it covers.
  for (int64_t y = 58; y < 70; ++y)
    for (int64_t x = 30; x < 40; ++x)
      for (int c = 0; c < 3; ++c) p.aligned[(y * p.w + x) * 3 + c] = 15;
  const std::vector<Defect> d = run_on(p, DefectOptions{});
  ASSERT_EQ(d.size(), 1u);
  // The box may grow by the smoothing and the neighbourhood (1 + 1 px) but holds the blot.
  EXPECT_LE(d[0].x0, 30);
  EXPECT_GE(d[0].x0, 28);
  EXPECT_GE(d[0].x1, 39);
  EXPECT_LE(d[0].x1, 41);
  EXPECT_LE(d[0].y0, 58);
  EXPECT_GE(d[0].y1, 69);
  EXPECT_NEAR(d[0].cx, 34.5, 0.5);
  EXPECT_NEAR(d[0].cy, 63.5, 0.5);
  EXPECT_EQ(d[0].kind, Kind::kExtraInk) << d[0].mean_de << " " << d[0].mean_dl;
}

// The report's crops compute Delta E on a window of columns (StripPixels::x0): inside the window,
// beyond the halo of its sides, the same values as the full-width strip, gain field included.
TEST(DefectsPipeline, AWindowOfColumnsGivesTheFullStripsDeltaEInside) {
  Pair p = textured_pair();
  for (int64_t y = 40; y < 52; ++y)
    for (int64_t x = 90; x < 104; ++x)
      for (int c = 0; c < 3; ++c) p.aligned[(y * p.w + x) * 3 + c] = 20;
  ColourModel model;
  model.image = Size{p.w, p.h};
  model.m = {0.9, 0, 0, 0, 0.9, 0, 0, 0, 0.9};
  model.offset = {10, 10, 10};
  model.gain = {0.05, -0.04, 0.02, 0.01, 0.03};  // varies with x: a wrong column origin shows
  for (const Compare how : {Compare::kEnvelope, Compare::kNearest}) {
    DefectOptions o;
    o.compare = how;
    const StripPixels full{Size{p.w, p.h}, 0, p.h, p.design.data(), p.aligned.data()};
    const DeltaMap whole = delta_map(full, 30, 40, model, o, nullptr);
    // Columns 70..129 copied out, rows 0..h (the halo of rows 30..69 and more).
    const int64_t x0 = 70, cw = 60;
    std::vector<uint8_t> d(static_cast<size_t>(cw * p.h * 3)), a(d.size());
    for (int64_t y = 0; y < p.h; ++y) {
      std::copy_n(&p.design[(y * p.w + x0) * 3], cw * 3, &d[y * cw * 3]);
      std::copy_n(&p.aligned[(y * p.w + x0) * 3], cw * 3, &a[y * cw * 3]);
    }
    StripPixels win{Size{cw, p.h}, 0, p.h, d.data(), a.data()};
    win.x0 = x0;
    const DeltaMap part = delta_map(win, 30, 40, model, o, nullptr);
    double top = 0;
    for (int64_t y = 0; y < 40; ++y)
      for (int64_t x = o.halo(); x < cw - o.halo(); ++x) {
        EXPECT_FLOAT_EQ(part.de[y * cw + x], whole.de[y * p.w + x0 + x]) << y << "," << x;
        top = std::max<double>(top, part.de[y * cw + x]);
      }
    EXPECT_GT(top, 10);  // the blot is inside the window
    // The colour samples come from full-width strips only.
    EXPECT_THROW(collect_samples(win, 30, 40, 4, o, nullptr), std::exception);
  }
}

// The envelope map (integer row kernels, a ring of row ranges, a bound that skips pixels) against
// its definition computed directly in double: each smoothed scan pixel against the nearest colour
// inside the per-channel range of the mapped design within +-(radius + scale) px. Noise, blots, a
// gain field and a strip in the middle of the image.
TEST(DefectsPipeline, EnvelopeMapFollowsItsDefinition) {
  Pair p = textured_pair();
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> noise(-6, 6);
  for (uint8_t& v : p.aligned) v = static_cast<uint8_t>(std::clamp(v + noise(rng), 0, 255));
  for (int64_t y = 40; y < 52; ++y)
    for (int64_t x = 30; x < 60; ++x) p.aligned[(y * p.w + x) * 3 + 1] = 250;  // a blot on the green channel
  for (const int64_t y : {int64_t{1}, int64_t{60}, p.h - 2})
    for (int64_t x = 0; x < p.w; ++x) p.aligned[(y * p.w + x) * 3] = 5;  // streaks along rows
  ColourModel model;
  model.image = Size{p.w, p.h};
  model.m = {0.9, 0.02, 0, 0, 0.88, 0.03, 0.01, 0, 0.9};
  model.offset = {10, 12, 9};
  model.gain = {0.05, -0.04, 0.02, 0.01, 0.03};
  for (const bool curved : {false, true})
    for (const int scale : {0, 1, 2})
      for (const int64_t y0 : {int64_t{0}, int64_t{30}, p.h - 40}) {  // at the top, inside, at the bottom
        // Delta E in the design's contrast: divided by the camera's (ColourModel::contrast).
        model.contrast = scale == 1 ? 0.7 : 1.0;
        DefectOptions o;
        o.scale = scale;
        o.radius = 1;
        const int64_t rows = 40, reach = o.radius + o.scale, w = p.w, h = p.h;
        // Tone curves (the row kernel's table) or none (its arithmetic).
        model.curve = {};
        if (curved)
          model.curve = {0.2,   -0.06, -0.03, 0, 0.01, 0, 0,    0, 0.02, -0.02, 0,    0,     0.15, -0.05,
                         -0.02, 0.01,  0,     0, 0,    0, 0.03, 0, 0.02, 0,     0.18, -0.04, -0.04};
        ASSERT_EQ(model.has_curve(), curved);
        const StripPixels px{Size{w, h}, 0, h, p.design.data(), p.aligned.data()};
        const DeltaMap got = delta_map(px, y0, rows, model, o, nullptr);
        const auto mapped = [&](int64_t x, int64_t y, int c) {
          const uint8_t* d = &p.design[(y * w + x) * 3];
          const float f[3] = {static_cast<float>(d[0]), static_cast<float>(d[1]), static_cast<float>(d[2])};
          double out[3];
          model.apply(static_cast<double>(x), static_cast<double>(y), f, out);
          return std::clamp(out[c], 0.0, 255.0);
        };
        int64_t above = 0;
        for (int64_t y = y0; y < y0 + rows; ++y)
          for (int64_t x = 0; x < w; ++x) {
            double s[3], e[3];
            for (int c = 0; c < 3; ++c) {
              double sum = 0, lo = 1e9, hi = -1e9;
              for (int64_t dy = -scale; dy <= scale; ++dy)
                for (int64_t dx = -scale; dx <= scale; ++dx)
                  sum += p.aligned[(std::clamp<int64_t>(y + dy, 0, h - 1) * w + std::clamp<int64_t>(x + dx, 0, w - 1)) *
                                       3 +
                                   c];
              s[c] = sum / static_cast<double>((2 * scale + 1) * (2 * scale + 1));
              for (int64_t ny = std::max<int64_t>(0, y - reach); ny <= std::min(h - 1, y + reach); ++ny)
                for (int64_t nx = std::max<int64_t>(0, x - reach); nx <= std::min(w - 1, x + reach); ++nx) {
                  lo = std::min(lo, mapped(nx, ny, c));
                  hi = std::max(hi, mapped(nx, ny, c));
                }
              e[c] = std::clamp(s[c], lo, hi);
            }
            const Lab ls = srgb_to_lab(s[0], s[1], s[2]), le = srgb_to_lab(e[0], e[1], e[2]);
            const double want = delta_e76(ls, le) / model.contrast, value = got.de[(y - y0) * w + x];
            // The design is mapped to 1/16 level (Delta E within 0.05 of the exact value); below `low`
            // a pixel may also be left at 0 (the bound), never raised to `low`.
            if (want >= o.low) {
              ++above;
              ASSERT_NEAR(value, want, 0.1) << "scale " << scale << " at " << x << "," << y;
              ASSERT_NEAR(got.dl[(y - y0) * w + x], (ls.L - le.L) / model.contrast, 0.15);
            } else {
              ASSERT_LT(value, want + 0.1) << "scale " << scale << " at " << x << "," << y;
            }
          }
        EXPECT_GT(above, y0 == 30 ? 300 : 0) << "scale " << scale;  // the blot and the streak, at least
      }
}

TEST(DefectsComponents, PiecesWithinTheJoinGapAreOneDefect) {
  // A streak broken where it crosses print of its own colour: two strong pieces 6 px apart on one
  // row band, and a third piece 20 px further on.
  const int64_t w = 120, h = 20;
  DeltaMap map;
  map.de.assign(w * h, 0.0f);
  map.dl.assign(w * h, 0.0f);
  for (int64_t y = 8; y < 12; ++y) {
    for (int64_t x = 5; x < 25; ++x) map.de[y * w + x] = 30;   // piece 1: x 5..24
    for (int64_t x = 31; x < 50; ++x) map.de[y * w + x] = 30;  // piece 2: x 31..49, 6 px gap
    for (int64_t x = 70; x < 90; ++x) map.de[y * w + x] = 30;  // piece 3: x 70..89, 20 px gap
  }
  DefectOptions o;
  o.join_gap = 8;
  const std::vector<Defect> joined = find(map, w, h, 7, o);
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0].x0, 5);
  EXPECT_EQ(joined[0].x1, 49);
  EXPECT_EQ(joined[0].area, (20 + 19) * 4);
  EXPECT_NEAR(joined[0].cx, (20 * 14.5 + 19 * 40.0) / 39.0, 1e-9);
  EXPECT_EQ(joined[1].x0, 70);
  EXPECT_EQ(joined[1].id, 2);
  o.join_gap = 0;
  EXPECT_EQ(find(map, w, h, 7, o).size(), 3u);
  o.join_gap = 20;
  EXPECT_EQ(find(map, w, h, 7, o).size(), 1u);
}

TEST(DefectsComponents, ALongThinPieceDoesNotSwallowThePiecesInsideItsBox) {
  // A rim of difference 3 px wide along the top and left borders (a scan padded with black) and a
  // diagonal crease: their boxes cover most of the image. A blot 37 px from the rim is its own
  // defect; a blot 7 px from the crease in x and in y joins it, as a piece of the same defect
  // would. Before the join looked at the pieces' cells, the rim's box took in everything (one
  // defect for three).
  const int64_t w = 160, h = 120;
  DeltaMap map;
  map.de.assign(w * h, 0.0f);
  map.dl.assign(w * h, 0.0f);
  int64_t crease_area = 0;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const bool rim = y < 3 || x < 3;
      const bool crease = y >= 60 && std::abs(x - y) <= 1;  // from (59, 60) down-right
      const bool far_blot = x >= 40 && x < 50 && y >= 40 && y < 50;
      const bool near_blot = x >= 100 && x < 106 && y >= 80 && y < 86;  // (100, 85) to the crease's (93, 92)
      if (rim || crease || far_blot || near_blot) map.de[y * w + x] = 30;
      crease_area += crease;
    }
  DefectOptions o;
  o.join_gap = 8;
  for (const int64_t cut : {7, 32, 120}) {
    const std::vector<Defect> found = find(map, w, h, cut, o);
    ASSERT_EQ(found.size(), 3u) << "cut " << cut;
    // In raster order of their first pixels: the rim, the far blot, the crease with the near blot.
    EXPECT_EQ(found[0].x0, 0);
    EXPECT_EQ(found[0].area, 3 * w + 3 * (h - 3));
    EXPECT_EQ(found[1].area, 100);
    EXPECT_NEAR(found[1].cx, 44.5, 1e-9);
    EXPECT_EQ(found[2].x0, 59);
    EXPECT_EQ(found[2].y0, 60);
    EXPECT_EQ(found[2].area, crease_area + 36);
  }
}

TEST(DefectsComponents, AnIslandInADefectsHoleIsPartOfIt) {
  // A defect that the envelope holed over plain print (an 80 px square, 50 px hole) and a 6 px
  // island in the middle of the hole, 22 px from the rest: both fill much of their boxes, so the
  // island joins though their pixels lie more than two join cells apart.
  const int64_t w = 120, h = 100;
  DeltaMap map;
  map.de.assign(w * h, 0.0f);
  map.dl.assign(w * h, 0.0f);
  for (int64_t y = 10; y < 90; ++y)
    for (int64_t x = 20; x < 100; ++x) {
      const bool hole = x >= 35 && x < 85 && y >= 25 && y < 75;
      const bool island = x >= 57 && x < 63 && y >= 47 && y < 53;
      if (!hole || island) map.de[y * w + x] = 30;
    }
  DefectOptions o;
  o.join_gap = 8;
  for (const int64_t cut : {7, 100}) {
    const std::vector<Defect> found = find(map, w, h, cut, o);
    ASSERT_EQ(found.size(), 1u) << "cut " << cut;
    EXPECT_EQ(found[0].area, 80 * 80 - 50 * 50 + 36);
  }
}

TEST(DefectsComponents, PiecesUnderTheMinimumAreaCountTogether) {
  // A colour shift over varied print, cut by the envelope into three pieces of 12 px each (under
  // --defect-min-area 24), 4 px apart, across a strip boundary (rows 7 | 8): one defect of 36 px.
  // The same pieces 30 px apart are none; pieces that never reach --defect-high join nothing.
  const int64_t w = 120, h = 20;
  const auto map_of = [&](int64_t spacing, float peak) {
    DeltaMap map;
    map.de.assign(w * h, 0.0f);
    map.dl.assign(w * h, 0.0f);
    for (int k = 0; k < 3; ++k)
      for (int64_t y = 6; y < 9; ++y)
        for (int64_t x = 10 + k * (4 + spacing); x < 14 + k * (4 + spacing); ++x) map.de[y * w + x] = peak;
    return map;
  };
  DefectOptions o;
  ASSERT_EQ(o.min_area, 24);
  ASSERT_EQ(o.join_gap, 8);
  for (const int64_t cut : {int64_t{8}, int64_t{20}}) {
    const std::vector<Defect> near = find(map_of(4, 14), w, h, cut, o);
    ASSERT_EQ(near.size(), 1u) << cut;
    EXPECT_EQ(near[0].area, 36);
    EXPECT_EQ(near[0].x0, 10);
    EXPECT_EQ(near[0].x1, 29);
    EXPECT_TRUE(find(map_of(30, 14), w, h, cut, o).empty()) << cut;
    EXPECT_TRUE(find(map_of(4, 9), w, h, cut, o).empty()) << cut;  // over low, under high
  }
}

TEST(DefectsComponents, AFaintPieceCountsByItsDeltaEAboveLow) {
  // No pixel at --defect-high (10): a 40 px patch at 9 (160 above low, mean 9) is a defect; a 30 px
  // patch at 6.9 (57 above low, under 24 x (10 - 5) / 2) is not, nor a 300 px region at 6 (300
  // above low, but a mean under 5 + 0.3 x 5), what a noisy scan makes. Each across a strip boundary.
  const int64_t w = 160, h = 40;
  const auto patch = [&](DeltaMap& map, int64_t x0, int64_t y0, int64_t pw, int64_t ph, float de) {
    for (int64_t y = y0; y < y0 + ph; ++y)
      for (int64_t x = x0; x < x0 + pw; ++x) map.de[y * w + x] = de;
  };
  DeltaMap map;
  map.de.assign(w * h, 0.0f);
  map.dl.assign(w * h, 0.0f);
  patch(map, 5, 6, 8, 5, 9.0f);     // 40 px, faint
  patch(map, 40, 6, 6, 5, 6.9f);    // 30 px, too little
  patch(map, 80, 2, 30, 10, 6.0f);  // 300 px, mean too low
  DefectOptions o;
  ASSERT_DOUBLE_EQ(faint_mean(o), 6.5);
  ASSERT_DOUBLE_EQ(faint_excess(o), 60.0);
  for (const int64_t cut : {int64_t{8}, int64_t{20}}) {
    const std::vector<Defect> found = find(map, w, h, cut, o);
    ASSERT_EQ(found.size(), 1u) << cut;
    EXPECT_EQ(found[0].x0, 5);
    EXPECT_EQ(found[0].area, 40);
    EXPECT_FLOAT_EQ(static_cast<float>(found[0].max_de), 9.0f);
  }
  // The edges of the rule.
  EXPECT_TRUE(is_strong(24, 24 * 7.5, 9.99, o));
  EXPECT_FALSE(is_strong(24, 24 * 7.45, 9.99, o));    // 58.8 above low
  EXPECT_FALSE(is_strong(400, 400 * 6.49, 9.99, o));  // mean under 6.5
  EXPECT_TRUE(is_strong(400, 400 * 6.5, 9.99, o));
  EXPECT_TRUE(is_strong(1, 10.0, 10.0, o));  // a pixel at high, whatever its size
}

// A design line one pixel wide where the print (and so the scan) shows it about 1.6 px wide and
// blurred: a pattern line thinner than 2 px, sampled at pixel centres in the design raster and
// averaged over the pixel by the camera. Not a defect (the clean synthetic pairs' false defects of
// the first version were such lines); a dark blot of the same width and 12 px long is.
TEST(DefectsPipeline, AThinLineDrawnWiderInTheScanIsNoDefectABlotIs) {
  const int64_t w = 80, h = 60;
  std::vector<uint8_t> design(w * h * 3), aligned(w * h * 3);
  const uint8_t bg[3] = {14, 63, 117}, ink[3] = {183, 105, 142};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = (y * w + x) * 3 + c;
        design[i] = y == 30 ? ink[c] : bg[c];
        // Coverage of the scan pixel by the wider line: rows 29 and 31 a third, row 30 fully.
        const double cover = y == 30 ? 1.0 : (y == 29 || y == 31) ? 0.35 : 0.0;
        aligned[i] = static_cast<uint8_t>(std::lround(bg[c] + cover * (ink[c] - bg[c])));
      }
  DefectOptions o;
  StripPixels px{Size{w, h}, 0, h, design.data(), aligned.data()};
  const ColourModel identity;
  const auto found = [&] {
    const DeltaMap map = delta_map(px, 0, h, identity, o, nullptr);
    return merge_strips({label_strip(map, w, h, 0, h, o)}, o);
  };
  EXPECT_TRUE(found().empty());
  for (int64_t y = 12; y < 16; ++y)
    for (int64_t x = 30; x < 42; ++x)
      for (int c = 0; c < 3; ++c) aligned[(y * w + x) * 3 + c] = 10;
  EXPECT_EQ(found().size(), 1u);
}

TEST(DefectsReport, CsvRoundTrip) {
  Defect d;
  d.id = 3;
  d.x0 = 1;
  d.y0 = 2;
  d.x1 = 10;
  d.y1 = 20;
  d.cx = 5.25;
  d.cy = 11.5;
  d.area = 77;
  d.mean_de = 14.5;
  d.max_de = 30.25;
  d.mean_dl = -9;
  d.kind = Kind::kExtraInk;
  EXPECT_NE(csv_text({d}).find("\n3,1,2,10,20,5.25,11.50,0.00,0.00,77,14.50,30.25,-9.00,extra_ink\n"),
            std::string::npos);
  EXPECT_NE(geojson_text({d}).find("\"kind\": \"extra_ink\""), std::string::npos);
}

TEST(DefectsCoverage, IdentityTransformMasksTheMargin) {
  transform::Transform t;
  t.stages.push_back(transform::Stage{});
  t.stages[0].affine.offset[0] = 10;  // design x maps to scan x + 10
  const std::vector<uint8_t> m = coverage_mask(t, Size{100, 80}, Size{100, 80}, 40, 3, 2.0);
  // Valid where 2 <= x (the design's edge) and x + 10 <= 97 (the scan's), i.e. 2 <= x <= 87.
  for (int64_t x = 0; x < 100; ++x) EXPECT_EQ(m[x], x >= 2 && x <= 87 ? 1 : 0) << x;
  const std::vector<uint8_t> top = coverage_mask(t, Size{100, 80}, Size{100, 80}, 0, 3, 2.0);
  EXPECT_EQ(top[5], 0);            // row 0 is within the margin
  EXPECT_EQ(top[2 * 100 + 5], 1);  // row 2 is not
}

// A rotated, scaled affine (exact under the node interpolation) whose scan edges cut cells
// diagonally on all four sides, a strip not aligned to the 16 px nodes: every pixel's mask is the per-pixel test of
// the exact transform, cells filled whole included. Pixels within 1e-6 px of the edge are skipped
// (rounding decides those).
TEST(DefectsCoverage, EqualsThePerPixelTestAcrossTheScanEdge) {
  transform::Transform t;
  t.stages.push_back(transform::Stage{});
  const double a = 0.35, k = 0.93;  // radians, scale: all four scan edges cross the design
  transform::Affine& f = t.stages[0].affine;
  f.m[0] = k * std::cos(a);
  f.m[1] = -k * std::sin(a);
  f.m[2] = k * std::sin(a);
  f.m[3] = k * std::cos(a);
  f.offset[0] = 30.5;
  f.offset[1] = -60.25;
  const Size design{300, 220}, scan{260, 180};
  const double margin = 3.5;
  const int64_t y0 = 5, rows = 203;
  const std::vector<uint8_t> m = coverage_mask(t, design, scan, y0, rows, margin);
  int64_t ones = 0, zeros = 0, wrong = 0;
  for (int64_t y = y0; y < y0 + rows; ++y)
    for (int64_t x = 0; x < design.width; ++x) {
      const Vec2 q = t.apply(Vec2{static_cast<double>(x), static_cast<double>(y)});
      const double xmax = scan.width - 1 - margin, ymax = scan.height - 1 - margin;
      const double edge = std::min({q.x - margin, xmax - q.x, q.y - margin, ymax - q.y});
      if (std::abs(edge) < 1e-6) continue;
      const bool in_design =
          x >= margin && x <= design.width - 1 - margin && y >= margin && y <= design.height - 1 - margin;
      const uint8_t want = edge > 0 && in_design;
      const uint8_t got = m[static_cast<size_t>((y - y0) * design.width + x)];
      wrong += got != want;
      (got ? ones : zeros) += 1;
    }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(ones, 1000);  // the edge crosses the strip: both kinds of cell are there
  EXPECT_GT(zeros, 1000);
  // A window of columns (what the report's crops and the centroids read): the same bytes as those
  // columns of the full rows, nodes not aligned to the window.
  for (const auto& [x0, cols] : {std::pair<int64_t, int64_t>{37, 101}, {0, 17}, {283, 17}, {16, 32}}) {
    const std::vector<uint8_t> part = coverage_mask(t, design, scan, y0, rows, margin, x0, cols);
    ASSERT_EQ(part.size(), static_cast<size_t>(rows * cols));
    for (int64_t y = 0; y < rows; ++y)
      for (int64_t x = 0; x < cols; ++x)
        ASSERT_EQ(part[static_cast<size_t>(y * cols + x)], m[static_cast<size_t>(y * design.width + x0 + x)])
            << x0 + x << "," << y0 + y;
  }
  EXPECT_THROW(coverage_mask(t, design, scan, y0, rows, margin, 290, 11), std::exception);
}

}  // namespace
}  // namespace alinify::defects
