// Coarse global alignment: FFT, masked NCC against a direct sum, peak ranking on a periodic image
// with a known answer, refusal of an unrelated image.
#include "alinify/reg/coarse_align.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "alinify/transform/transform_json.hpp"
#include "support/files.hpp"

namespace alinify::reg::coarse {
namespace {

TEST(CoarseFft, RoundTripAndKnownSpectrum) {
  ComplexVector d(16 * 8);
  for (size_t k = 0; k < d.size(); ++k) d[k] = Complex(std::sin(0.3 * k), std::cos(0.7 * k));
  const auto orig = d;
  fft2d(d, 16, 8, false);
  fft2d(d, 16, 8, true);
  for (size_t k = 0; k < d.size(); ++k) EXPECT_NEAR(std::abs(d[k] - orig[k]), 0.0, 1e-12);
  ComplexVector e(8, 0.0);
  e[1] = 1;  // delta at 1 -> exp(-2 pi i k / 8)
  fft1d(e.data(), 8, false);
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(std::abs(e[k] - std::polar(1.0, -2 * M_PI * k / 8)), 0.0, 1e-12);
}

ComplexVector wavy(int width, int height, double phase) {
  ComplexVector d(static_cast<size_t>(width) * height);
  for (size_t k = 0; k < d.size(); ++k) d[k] = Complex(std::sin(0.3 * k + phase), std::cos(0.7 * k - phase));
  return d;
}

// The transform is not limited to powers of two: a 12 x 10 array against the DFT's definition.
TEST(CoarseFft, MatchesTheDirectSumAtASizeThatIsNoPowerOfTwo) {
  const int width = 12, height = 10;
  const ComplexVector input = wavy(width, height, 0.4);
  ComplexVector fast = input;
  fft2d(fast, width, height, false);
  for (int v = 0; v < height; ++v)
    for (int u = 0; u < width; ++u) {
      Complex direct = 0;
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
          direct +=
              input[static_cast<size_t>(y) * width + x] *
              std::polar(1.0, -2 * M_PI * (static_cast<double>(u * x) / width + static_cast<double>(v * y) / height));
      EXPECT_NEAR(std::abs(fast[static_cast<size_t>(v) * width + u] - direct), 0.0, 1e-10) << u << "," << v;
    }
}

// Transforms on several threads at once, of sizes not planned before (so the plans are made while
// other threads plan and execute), give exactly the bits of the same transforms run one at a time.
TEST(CoarseFft, ConcurrentTransformsGiveTheSerialResults) {
  const int sizes[][2] = {{48, 40}, {36, 28}, {50, 26}, {44, 30}, {48, 40}, {36, 28}};
  constexpr int kJobs = 6;
  std::vector<ComplexVector> concurrent(kJobs);
  std::vector<std::thread> threads;
  for (int job = 0; job < kJobs; ++job)
    threads.emplace_back([&, job] {
      ComplexVector d = wavy(sizes[job][0], sizes[job][1], job);
      for (int round = 0; round < 20; ++round) {
        fft2d(d, sizes[job][0], sizes[job][1], false);
        fft2d(d, sizes[job][0], sizes[job][1], true);
      }
      concurrent[job] = d;
    });
  for (auto& t : threads) t.join();
  for (int job = 0; job < kJobs; ++job) {
    ComplexVector d = wavy(sizes[job][0], sizes[job][1], job);
    for (int round = 0; round < 20; ++round) {
      fft2d(d, sizes[job][0], sizes[job][1], false);
      fft2d(d, sizes[job][0], sizes[job][1], true);
    }
    ASSERT_EQ(d.size(), concurrent[job].size());
    for (size_t k = 0; k < d.size(); ++k) ASSERT_EQ(d[k], concurrent[job][k]) << "job " << job << " entry " << k;
  }
}

Image random_image(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  Image im;
  im.width = w;
  im.height = h;
  im.px.resize(static_cast<size_t>(w) * h);
  for (auto& v : im.px) v = u(rng);
  return im;
}

TEST(CoarseNcc, MatchesADirectMaskedSum) {
  const Image img = random_image(20, 14, 1);
  const Image t = random_image(9, 7, 2);
  std::vector<float> imask(img.px.size(), 1.f), tmask(t.px.size(), 1.f);
  for (int k = 0; k < 10; ++k) tmask[k * 3] = 0.f;  // a ragged template mask
  const ImageSpectra s = image_spectra(img, imask, 32, 32);
  const CorrelationMap m = masked_ncc(s, t, tmask);
  for (int sy = -3; sy <= 9; sy += 3)
    for (int sx = -4; sx <= 15; sx += 4) {
      double n = 0, a = 0, b = 0, aa = 0, bb = 0, ab = 0;
      for (int y = 0; y < t.height; ++y)
        for (int x = 0; x < t.width; ++x) {
          const int X = x + sx, Y = y + sy;
          if (!tmask[y * t.width + x] || X < 0 || Y < 0 || X >= img.width || Y >= img.height) continue;
          const double p = t.at(x, y), q = img.at(X, Y);
          n += 1, a += p, b += q, aa += p * p, bb += q * q, ab += p * q;
        }
      if (n < 16) continue;
      const double ncc = (ab - a * b / n) / std::sqrt((aa - a * a / n) * (bb - b * b / n));
      EXPECT_NEAR(m.ncc_at(sx, sy), ncc, 1e-4) << sx << "," << sy;
    }
}

// A periodic print (period 24 px) with one one-off block, placed in a larger canvas of mid-grey
// noise ("table") at a known shift and rotation.
struct Scene {
  Image design, scan;
  double angle_deg, tx, ty;
};

float periodic(double x, double y) {
  const double px = 24, py = 20;
  const double u = x - px * std::floor(x / px), v = y - py * std::floor(y / py);
  float c = 0.3f;
  if ((u - 8) * (u - 8) + (v - 9) * (v - 9) < 25)
    c = 0.9f;
  else if (u > 15 && u < 21 && v > 2 && v < 16)
    c = 0.1f;
  else if (std::fmod(u + v, 6.0) < 2)
    c = 0.6f;
  if (x > 100 && x < 130 && y > 60 && y < 85) c = 1.0f;  // one-off element
  return c;
}

Scene make_scene(double angle_deg, double tx, double ty, uint32_t seed) {
  Scene s;
  s.angle_deg = angle_deg;
  s.tx = tx;
  s.ty = ty;
  s.design.width = 200;
  s.design.height = 160;
  s.design.px.resize(200 * 160);
  for (int y = 0; y < 160; ++y)
    for (int x = 0; x < 200; ++x) s.design.px[y * 200 + x] = periodic(x, y);
  s.scan = random_image(240, 200, seed);
  const double a = angle_deg * M_PI / 180, c = std::cos(a), sn = std::sin(a);
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 240; ++x) {
      float& v = s.scan.px[y * 240 + x];
      v = 0.45f + 0.1f * v;  // table: mid grey, a little texture
      // scan = R design + t  =>  design = R^T (scan - t)
      const double dx = x - tx, dy = y - ty;
      const double ux = c * dx + sn * dy, uy = -sn * dx + c * dy;
      if (ux >= 0 && uy >= 0 && ux <= 199 && uy <= 159) v = periodic(ux, uy) * 0.8f + 0.05f;
    }
  return s;
}

TEST(CoarsePeaks, FindPeaksRanksLocalMaxima) {
  std::vector<float> v(10 * 10, 0.f);
  v[2 * 10 + 3] = 0.9f;
  v[2 * 10 + 4] = 0.8f;  // neighbour of the best: not a peak
  v[7 * 10 + 7] = 0.5f;
  v[0 * 10 + 9] = 0.7f;
  auto p = find_peaks(v, 10, 10, 1, 5, 0.1f);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].sx, 3);
  EXPECT_EQ(p[0].sy, 2);
  EXPECT_EQ(p[1].sx, 9);
  EXPECT_EQ(p[2].sx, 7);
}

TEST(CoarsePlacement, PeriodicImageLandsOnTheRightRepeat) {
  for (auto [angle, tx, ty] :
       {std::tuple{0.0, 27.0, 13.0}, std::tuple{3.0, 31.0, 22.0}, std::tuple{-4.0, 17.0, 22.0}}) {
    Scene s = make_scene(angle, tx, ty, 7);
    CoarseOptions o;
    CoarseResult r = estimate_placement(s.design, s.scan, o);
    EXPECT_FALSE(r.rejected) << r.reason;
    EXPECT_FALSE(r.ambiguous) << r.reason;
    EXPECT_TRUE(r.wider_note.empty()) << "found within --max-rotation at scale 1: nothing more searched";
    EXPECT_NEAR(r.best.angle_deg, angle, 0.5);
    EXPECT_NEAR(r.best.tx, tx, 2.0);
    EXPECT_NEAR(r.best.ty, ty, 2.0);
    ASSERT_TRUE(r.has_runner_up);
    // The runner-up is another repeat: about a period away, and clearly lower.
    EXPECT_GT(placement_distance(r.best, r.runner_up, 200, 160), 8.0);
    EXPECT_LT(r.runner_up.score, r.best.score);
  }
}

TEST(CoarsePlacement, QuarterTurnIsFound) {
  // The scan holds the design turned by 90 degrees: scan = R(90) design + t.
  Scene s = make_scene(0, 0, 0, 3);
  Image scan = random_image(200, 240, 5);
  const double tx = 178, ty = 25;  // R(90)(x, y) = (-y, x)
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 200; ++x) {
      float& v = scan.px[y * 200 + x];
      v = 0.45f + 0.1f * v;
      const double ux = y - ty, uy = -(x - tx);
      if (ux >= 0 && uy >= 0 && ux <= 199 && uy <= 159) v = periodic(ux, uy);
    }
  CoarseOptions o;
  o.quarter_turns = true;
  CoarseResult r = estimate_placement(s.design, scan, o);
  EXPECT_FALSE(r.rejected) << r.reason;
  EXPECT_NEAR(r.best.angle_deg, 90, 0.5);
  EXPECT_NEAR(r.best.tx, tx, 2.0);
  EXPECT_NEAR(r.best.ty, ty, 2.0);
}

// Smooth blobs, no repeat: a print whose scan was made at another pixel size.
float blobs(double x, double y) {
  static const double kBlobs[][3] = {{30, 40, 18},  {120, 30, 25}, {170, 110, 20}, {60, 120, 30},
                                     {100, 80, 12}, {150, 60, 10}, {20, 90, 14},   {180, 20, 16}};
  double v = 0.2;
  for (const auto& b : kBlobs)
    v += 0.5 * std::exp(-((x - b[0]) * (x - b[0]) + (y - b[1]) * (y - b[1])) / (b[2] * b[2]));
  return static_cast<float>(v + 0.1 * std::sin(x / 7.0) * std::cos(y / 9.0));
}

// The blobs' 200 x 160 px halved: the design of the scale and aspect tests.
Image blob_design() {
  Image design;
  design.width = 120;
  design.height = 96;
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 120; ++x) design.px.push_back(blobs(x * 200.0 / 120, y * 200.0 / 120));
  return design;
}

// A w x h scan of faint noise showing blob_design() where design_of(x, y) (the design pixel the scan
// pixel shows, a pair) falls inside it.
template <class DesignOf>
Image blob_scan(int w, int h, uint32_t seed, const DesignOf& design_of) {
  Image scan = random_image(w, h, seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float& v = scan.px[static_cast<size_t>(y) * w + x];
      v = 0.45f + 0.1f * v;
      const auto [ux, uy] = design_of(x, y);
      if (ux >= 0 && uy >= 0 && ux <= 119 && uy <= 95) v = blobs(ux * 200.0 / 120, uy * 200.0 / 120) * 0.8f + 0.05f;
    }
  return scan;
}

// The scan at another scale than the design (scan = s R design + t, s 0.6 and 1.6): not found at
// scale 1, found by the search at other scales, which the result says.
TEST(CoarsePlacement, AScanAtAnotherScaleIsFoundByTheScaleSearch) {
  // 120 x 96 px (the blobs' 200 x 160 halved on the way): the 17 other scales cost 17 searches.
  // A scan 2.8 times the design's size holds it at 2.5: the scales searched reach 10 % beyond the
  // scan's size over the design's (a synth scan enlarged 2.5 and 3 times was not found before), and
  // are searched although scale 1 scored 0.5 on a piece of the enlarged blobs.
  const Image design = blob_design();
  for (auto [scale, angle, tx, ty] :
       {std::tuple{0.6, 2.0, 24.0, 18.0}, std::tuple{1.6, -1.5, 12.0, 15.0}, std::tuple{2.5, 1.0, 20.0, 14.0}}) {
    const int w = static_cast<int>(120 * scale) + 36, h = static_cast<int>(96 * scale) + 36;
    const double a = angle * M_PI / 180, c = std::cos(a), sn = std::sin(a);
    // Copies: clang 14 (the sanitizer build) does not capture structured bindings.
    const double s = scale, ox = tx, oy = ty;
    const Image scan = blob_scan(w, h, 4, [&](int x, int y) {
      const double dx = (x - ox) / s, dy = (y - oy) / s;
      return std::pair{c * dx + sn * dy, -sn * dx + c * dy};
    });
    CoarseOptions o;
    const CoarseResult r = estimate_placement(design, scan, o);
    EXPECT_FALSE(r.rejected) << r.reason;
    EXPECT_NEAR(r.best.scale, scale, 0.02 * scale) << r.wider_note;
    EXPECT_NEAR(r.best.angle_deg, angle, 1.0);
    EXPECT_NEAR(r.best.tx, tx, 2.0);
    EXPECT_NEAR(r.best.ty, ty, 2.0);
    const double widest = std::max(2.0, 1.1 * std::max(w / 120.0, h / 96.0));
    EXPECT_NE(r.wider_note.find(fmt::format("found at scales 0.50 to {:.2f}:", widest)), std::string::npos)
        << r.wider_note;
    // Without the scale search the same scan is not found, or found at the wrong place.
    o.max_scale = o.min_scale;
    o.any_rotation = false;
    const CoarseResult one = estimate_placement(design, scan, o);
    EXPECT_TRUE(one.rejected || std::hypot(one.best.tx - tx, one.best.ty - ty) > 10) << describe(one.best);
  }
}

TEST(CoarsePlacement, AScanStretchedAlongItsRowsIsFoundAtItsAspect) {
  // A line-scan camera whose line rate does not follow the conveyor: the fabric 1.3 times longer
  // along y than the design says, the scan framed around it. The isotropic search alone scores
  // low; the search on the scan's rows resampled to the design's aspect finds it, and the
  // placement's affine map carries the stretch (a synth scan stretched 25 % was not found).
  const Image design = blob_design();
  const double sy = 1.3, angle = 1.5, tx = 10.0, ty = 12.0;
  const int w = 140, h = static_cast<int>(96 * sy) + 24;
  const double a = angle * M_PI / 180, c = std::cos(a), sn = std::sin(a);
  const Image scan = blob_scan(w, h, 5, [&](int x, int y) {
    const double dx = x - tx, dy = (y - ty) / sy;  // scan = S (R d) + t, S = diag(1, sy)
    return std::pair{c * dx + sn * dy, -sn * dx + c * dy};
  });
  CoarseOptions o;
  const CoarseResult r = estimate_placement(design, scan, o);
  ASSERT_FALSE(r.rejected) << r.reason;
  EXPECT_NE(r.wider_note.find("found at the scan's rows resampled"), std::string::npos) << r.wider_note;
  EXPECT_NEAR(r.best.stretch_y, sy, 0.1);
  // The affine map against the truth at the design's corners and centre.
  const transform::Affine m = r.best.affine();
  for (const auto& [x, y] : {std::pair{0.0, 0.0}, {119.0, 0.0}, {0.0, 95.0}, {119.0, 95.0}, {60.0, 48.0}}) {
    const double qx = c * x - sn * y + tx, qy = sy * (sn * x + c * y) + ty;
    EXPECT_NEAR(m.m[0] * x + m.m[1] * y + m.offset[0], qx, 3.0) << x << "," << y;
    EXPECT_NEAR(m.m[2] * x + m.m[3] * y + m.offset[1], qy, 3.0) << x << "," << y;
  }
}

TEST(CoarsePlacement, UnrelatedImageIsRejected) {
  Scene s = make_scene(0, 20, 20, 9);
  Image other = random_image(240, 200, 11);
  CoarseOptions o;
  CoarseResult r = estimate_placement(s.design, other, o);
  EXPECT_TRUE(r.rejected);
  EXPECT_NE(r.reason.find("not found"), std::string::npos);
  EXPECT_NE(r.reason.find("(every rotation and scales 0.50 to 2.00 searched too, not found there either)"),
            std::string::npos)
      << r.reason;
  EXPECT_FALSE(r.mirrored) << r.reason;  // nor mirrored
}

// A print scanned from its back (or a transfer paper): the scan is the design mirrored left to
// right. No placement holds it; the rejection says that the mirrored scan does. The design: 400
// random spots of both signs, 2-6 px, on 200 x 160 px (smooth blobs are not enough: a turn and a
// scale fit their mirror image at over 0.3, as 60 blobs of 3-20 px did, and so did 150 spots on
// 120 x 96 px, which the search halves).
TEST(CoarsePlacement, AMirroredScanIsRejectedAsMirrored) {
  std::mt19937 rng(12);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::array<double, 4>> spots;
  for (int k = 0; k < 400; ++k) spots.push_back({200 * u(rng), 160 * u(rng), 2 + 4 * u(rng), u(rng) - 0.5});
  const auto print = [&](double x, double y) {
    double v = 0.5;
    for (const auto& b : spots)
      v += b[3] * std::exp(-((x - b[0]) * (x - b[0]) + (y - b[1]) * (y - b[1])) / (b[2] * b[2]));
    return static_cast<float>(std::clamp(v, 0.0, 1.0));
  };
  Image design;
  design.width = 200;
  design.height = 160;
  for (int y = 0; y < 160; ++y)
    for (int x = 0; x < 200; ++x) design.px.push_back(print(x, y));
  const double angle = 2.0, tx = 15.0, ty = 12.0, a = angle * M_PI / 180, c = std::cos(a), sn = std::sin(a);
  const int w = 240, h = 200;
  Image scan = random_image(w, h, 6);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float& v = scan.px[static_cast<size_t>(y) * w + x];
      v = 0.45f + 0.1f * v;
      const double mx = (w - 1 - x) - tx, my = y - ty;  // mirrored, then turned and shifted
      const double dx = c * mx + sn * my, dy = -sn * mx + c * my;
      if (dx >= 0 && dy >= 0 && dx <= 199 && dy <= 159) v = print(dx, dy) * 0.8f + 0.05f;
    }
  const CoarseResult r = estimate_placement(design, scan, CoarseOptions{});
  EXPECT_TRUE(r.rejected) << describe(r.best);
  EXPECT_TRUE(r.mirrored) << r.reason;
  EXPECT_NE(r.reason.find("the scan mirrored left to right holds it"), std::string::npos) << r.reason;
  // The same scan mirrored back is found where it was drawn.
  const CoarseResult back = estimate_placement(design, mirror_columns(scan), CoarseOptions{});
  ASSERT_FALSE(back.rejected) << back.reason;
  EXPECT_FALSE(back.mirrored);
  EXPECT_NEAR(back.best.angle_deg, angle, 1.0);
  EXPECT_NEAR(back.best.tx, tx, 2.0);
  EXPECT_NEAR(back.best.ty, ty, 2.0);
}

// With debug_dir: the fabric mask (PGM), the best rotation's score map (PPM) and the refined
// candidates, best first, the first being the result's best placement.
TEST(CoarsePlacement, DebugFolderHoldsTheMaskTheScoreMapAndTheCandidates) {
  const test::ScratchDir dir("coarse_debug");
  Scene s = make_scene(3.0, 31.0, 22.0, 7);
  CoarseOptions o;
  o.debug_dir = dir.file("debug");
  CoarseResult r = estimate_placement(s.design, s.scan, o);
  ASSERT_FALSE(r.rejected) << r.reason;
  auto head = [&](const std::string& name, size_t n) {
    std::ifstream in(dir.file("debug/" + name), std::ios::binary);
    std::string text(n, '\0');
    in.read(text.data(), static_cast<std::streamsize>(n));
    return text.substr(0, static_cast<size_t>(in.gcount()));
  };
  EXPECT_EQ(head("fabric_mask.pgm", 15), "P5\n240 200\n255\n");
  EXPECT_EQ(head("score_map.ppm", 3), "P6\n");
  std::ifstream candidates(dir.file("debug/candidates.txt"));
  std::string line;
  ASSERT_TRUE(std::getline(candidates, line));
  EXPECT_EQ(line, "# rank angle_deg scale tx ty score (refined, full resolution px)");
  ASSERT_TRUE(std::getline(candidates, line));
  std::istringstream first(line);
  int rank = -1;
  double angle = 0, scale = 0, tx = 0, ty = 0, score = 0;
  first >> rank >> angle >> scale >> tx >> ty >> score;
  EXPECT_EQ(rank, 0);
  EXPECT_NEAR(angle, r.best.angle_deg, 1e-4);
  EXPECT_NEAR(tx, r.best.tx, 1e-3);
  EXPECT_NEAR(ty, r.best.ty, 1e-3);
  EXPECT_NEAR(score, r.best.score, 1e-5);
}

TEST(CoarseTransformJson, InitialPlacementRoundTripsAndIsOptional) {
  transform::TransformFile f;
  f.design = Size{100, 80};
  f.scan = Size{120, 90};
  f.preset = "affine";
  transform::Stage st;
  st.affine.offset[0] = 3;
  f.transform.stages.push_back(st);
  const auto plain = transform::from_json_text(transform::to_json_text(f), "plain");
  EXPECT_FALSE(plain.has_initial);
  f.has_initial = true;
  f.initial.method = "search";
  f.initial.affine.offset[1] = -7.5;
  f.initial.score = 0.9;
  f.initial.has_runner_up = true;
  f.initial.runner_up.offset[0] = 40;
  f.initial.runner_up_score = 0.6;
  f.initial.confidence = (0.9 - 0.6) / 0.9;
  f.initial.ambiguous = true;
  f.initial.box_state = "disagrees";
  f.initial.box_distance = 812.5;
  const auto back = transform::from_json_text(transform::to_json_text(f), "with initial");
  ASSERT_TRUE(back.has_initial);
  EXPECT_EQ(back.initial.method, "search");
  EXPECT_DOUBLE_EQ(back.initial.affine.offset[1], -7.5);
  EXPECT_TRUE(back.initial.has_runner_up);
  EXPECT_DOUBLE_EQ(back.initial.runner_up.offset[0], 40);
  EXPECT_DOUBLE_EQ(back.initial.runner_up_score, 0.6);
  EXPECT_TRUE(back.initial.ambiguous);
  EXPECT_EQ(back.initial.box_state, "disagrees");
  EXPECT_DOUBLE_EQ(back.initial.box_distance, 812.5);
}

}  // namespace
}  // namespace alinify::reg::coarse
