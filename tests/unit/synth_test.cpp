// Synthetic pairs: truth model and file, design pattern, camera model, the strip-streamed writer.
#include "alinify/synth/synth.hpp"

#include <gdal.h>
#include <gdal_alg.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/synth/truth.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using alinify::Error;
using alinify::ExitCode;
using alinify::Size;
using alinify::Vec2;
using alinify::synth::DesignPattern;
using alinify::synth::make_truth;
using alinify::synth::ScanModel;
using alinify::synth::SynthOptions;
using alinify::synth::Truth;
using alinify::synth::Wave;
using alinify::synth::write_synthetic_pair;
using alinify::test::read_file;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_truth_identical(const Truth& a, const Truth& b) {
  EXPECT_EQ(a.design, b.design);
  EXPECT_EQ(a.scan, b.scan);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(same_bits(a.m[i], b.m[i])) << "m[" << i << "]";
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(same_bits(a.offset[i], b.offset[i])) << "offset[" << i << "]";
  ASSERT_EQ(a.waves.size(), b.waves.size());
  for (size_t k = 0; k < a.waves.size(); ++k) {
    EXPECT_EQ(a.waves[k].axis, b.waves[k].axis);
    EXPECT_TRUE(same_bits(a.waves[k].amp, b.waves[k].amp));
    EXPECT_TRUE(same_bits(a.waves[k].kx, b.waves[k].kx));
    EXPECT_TRUE(same_bits(a.waves[k].ky, b.waves[k].ky));
    EXPECT_TRUE(same_bits(a.waves[k].phase, b.waves[k].phase));
  }
}

struct Rgb {
  std::vector<uint8_t> px;  // pixel-interleaved
  int w = 0, h = 0;
  double grey(int x, int y) const {
    const uint8_t* p = &px[3 * (static_cast<size_t>(y) * w + x)];
    return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
  }
};

Rgb read_rgb(const std::string& path) {
  GDALAllRegister();
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  EXPECT_NE(ds, nullptr) << path;
  Rgb r;
  if (!ds) return r;
  r.w = GDALGetRasterXSize(ds);
  r.h = GDALGetRasterYSize(ds);
  r.px.resize(static_cast<size_t>(r.w) * r.h * 3);
  int bands[3] = {1, 2, 3};
  EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Read, 0, 0, r.w, r.h, r.px.data(), r.w, r.h, GDT_Byte, 3, bands, 3, 3 * r.w, 1),
            CE_None);
  GDALClose(ds);
  return r;
}

std::vector<int> checksums(const std::string& path) {
  GDALAllRegister();
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  EXPECT_NE(ds, nullptr) << path;
  std::vector<int> sums;
  if (!ds) return sums;
  for (int b = 1; b <= GDALGetRasterCount(ds); ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b);
    sums.push_back(GDALChecksumImage(band, 0, 0, GDALGetRasterXSize(ds), GDALGetRasterYSize(ds)));
  }
  GDALClose(ds);
  return sums;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

double grey_of(const DesignPattern& d, double x, double y) {
  uint8_t c[3];
  d.colour(x, y, c);
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

#if defined(__SANITIZE_ADDRESS__)
#define ALINIFY_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALINIFY_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef ALINIFY_TEST_UNDER_ASAN
#define ALINIFY_TEST_UNDER_ASAN 0
#endif

// Peak RSS since the last reset (VmHWM); resets it through clear_refs where Linux allows.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}
long vm_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

}  // namespace

// ---------------- truth ----------------

TEST(SynthTruth, JsonRoundTripIsBitExact) {
  for (uint64_t seed : {1ULL, 7ULL, 123456789ULL}) {
    const Truth t = make_truth(Size{1234, 987}, Size{1300, 1000}, seed);
    expect_truth_identical(Truth::from_json_text(t.to_json_text(), "text"), t);
    alinify::test::ScratchDir dir("synth-truth");
    t.save(dir.file("truth.json"));
    EXPECT_FALSE(fs::exists(dir.file("truth.json.partial")));
    const Truth back = Truth::load(dir.file("truth.json"));
    expect_truth_identical(back, t);
    for (double qx : {0.0, 617.25, 1299.0})
      for (double qy : {0.0, 999.0}) {
        const Vec2 a = t.scan_to_design({qx, qy}), b = back.scan_to_design({qx, qy});
        EXPECT_TRUE(same_bits(a.x, b.x) && same_bits(a.y, b.y));
      }
  }
}

TEST(SynthTruth, ScanToDesignMatchesHandComputation) {
  Truth t;
  t.design = {100, 80};
  t.scan = {100, 80};
  t.m[0] = 1.1, t.m[1] = 0.2, t.m[2] = -0.1, t.m[3] = 0.9;
  t.offset[0] = 3, t.offset[1] = -2;
  t.waves.push_back(Wave{0, 2.0, 0.01, 0.02, 0.3});
  t.waves.push_back(Wave{1, 1.0, 0.0, 0.05, 1.0});
  const Vec2 p = t.scan_to_design({10, 20});
  // x = 1.1*10 + 0.2*20 + 3 + 2 sin(0.1 + 0.4 + 0.3); y = -0.1*10 + 0.9*20 - 2 + sin(1 + 1)
  EXPECT_NEAR(p.x, 18.0 + 2.0 * 0.7173560908995228, 1e-12);
  EXPECT_NEAR(p.y, 15.0 + 0.9092974268256817, 1e-12);
  t.waves.clear();
  const Vec2 r = t.scan_to_design({-4, 2.5});
  EXPECT_NEAR(r.x, 1.1 * -4 + 0.2 * 2.5 + 3, 1e-12);
  EXPECT_NEAR(r.y, -0.1 * -4 + 0.9 * 2.5 - 2, 1e-12);
}

TEST(SynthTruth, LoadRejectsMissingAndMalformedFilesNamingThem) {
  alinify::test::ScratchDir dir("synth-truth-bad");
  const auto expect_bad = [](const std::string& path, const std::string& needle) {
    try {
      Truth::load(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput);
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_bad(dir.file("missing.json"), "cannot open");
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.file(name)) << text;
    return dir.file(name);
  };
  expect_bad(write("garbage.json", "{ not json"), "malformed JSON");
  expect_bad(write("format.json", R"({"format":"other","version":1})"), "format");
  std::string good = make_truth(Size{50, 40}, Size{50, 40}, 3).to_json_text();
  std::string no_waves = good.substr(0, good.find("\"waves\"")) + "\"x\": 0}";
  expect_bad(write("nowaves.json", no_waves), "waves");
  std::string bad_m = good;
  bad_m.replace(bad_m.find("\"m\""), 3, "\"mm\"");
  expect_bad(write("nom.json", bad_m), "'m'");
  std::string bad_version = good;
  bad_version.replace(bad_version.find("\"version\": 1"), 12, "\"version\": 9");
  expect_bad(write("version.json", bad_version), "version");
}

TEST(SynthTruth, DrawnParametersStayInTheirRanges) {
  std::set<int> wave_counts;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const Size s{18960, 14960};
    const Truth t = make_truth(s, s, seed);
    const double sx = std::hypot(t.m[0], t.m[2]), sy = std::hypot(t.m[1], t.m[3]);
    const double angle = std::atan2(t.m[2], t.m[0]) * 180 / M_PI;
    EXPECT_LE(std::abs(angle), 1.5);
    EXPECT_NEAR(sx, 1.0, 0.02 * 1.005 + 0.005 + 1e-12);
    EXPECT_NEAR(sy, 1.0, 0.02 * 1.005 + 0.005 + 1e-12);
    EXPECT_NEAR(t.m[0] * t.m[1] + t.m[2] * t.m[3], 0.0, 1e-12);  // rotation * diagonal scale
    ASSERT_GE(t.waves.size(), 4u);
    ASSERT_LE(t.waves.size(), 6u);
    wave_counts.insert(static_cast<int>(t.waves.size()));
    double total = 0;
    int axes[2] = {0, 0};
    for (const Wave& w : t.waves) {
      total += w.amp;
      EXPECT_GT(w.amp, 0);
      const double lambda = 2 * M_PI / std::hypot(w.kx, w.ky);
      EXPECT_GE(lambda, 18960 / 3.0 - 1e-6);
      EXPECT_LE(lambda, 18960 / 1.2 + 1e-6);
      ++axes[w.axis];
    }
    EXPECT_NEAR(total, 0.0015 * 18960, 1e-9);
    EXPECT_GE(axes[0], 1);
    EXPECT_GE(axes[1], 1);
    // The scan centre lands within the shift range (+ waves) of the design centre.
    const Vec2 c = t.scan_to_design({(s.width - 1) / 2.0, (s.height - 1) / 2.0});
    EXPECT_LE(std::abs(c.x - (s.width - 1) / 2.0), 0.02 * s.width + total + 1e-6);
    EXPECT_LE(std::abs(c.y - (s.height - 1) / 2.0), 0.02 * s.height + total + 1e-6);
  }
  EXPECT_EQ(wave_counts.size(), 3u);  // 4, 5 and 6 all occur
  // Small images get proportionally small waves.
  const Truth small = make_truth(Size{1200, 900}, Size{1200, 900}, 5);
  double total = 0;
  for (const Wave& w : small.waves) total += w.amp;
  EXPECT_NEAR(total, 1.8, 1e-9);
}

// ---------------- design pattern ----------------

TEST(SynthTruth, FineWavesComeFromTheirOwnStreamWithinTheirRanges) {
  const Truth base = make_truth(Size{20000, 15000}, Size{20000, 15000}, 9);
  Truth none = base;
  alinify::synth::add_fine_waves(none, 0, 9);
  expect_truth_identical(none, base);  // off: the truth of every existing pair

  Truth fine = base;
  alinify::synth::add_fine_waves(fine, 3, 9);
  ASSERT_EQ(fine.waves.size(), base.waves.size() + 6);
  for (size_t i = 0; i < base.waves.size(); ++i) EXPECT_TRUE(same_bits(fine.waves[i].amp, base.waves[i].amp));
  for (size_t i = base.waves.size(); i < fine.waves.size(); ++i) {
    const Wave& w = fine.waves[i];
    const double lambda = 2 * M_PI / std::hypot(w.kx, w.ky);
    EXPECT_GE(lambda, 256 - 1e-9);
    EXPECT_LE(lambda, 3072 + 1e-9);
    EXPECT_GE(w.amp, 1.5);
    EXPECT_LE(w.amp, 3.0);
  }
  Truth again = base;
  alinify::synth::add_fine_waves(again, 3, 9);
  expect_truth_identical(again, fine);  // same seed, same waves

  // A small pair keeps whole periods: wavelengths at most half the larger side.
  Truth small = make_truth(Size{600, 400}, Size{600, 400}, 9);
  const size_t first_fine = small.waves.size();
  alinify::synth::add_fine_waves(small, 2, 9);
  for (size_t i = first_fine; i < small.waves.size(); ++i)
    EXPECT_LE(2 * M_PI / std::hypot(small.waves[i].kx, small.waves[i].ky), 300 + 1e-9);
}

TEST(SynthCamera, WeaveContrastIsTheOptionAndItsDefaultIsTheEarlierWeave) {
  // The default's bytes rest on these two being the earlier literals exactly.
  const double weave = 0.04;
  EXPECT_TRUE(same_bits(1 - weave, 0.96));
  EXPECT_TRUE(same_bits(8 * weave, 0.32));
  const Size size{256, 256};
  const DesignPattern design(size, 2);
  const Truth truth = make_truth(size, size, 2);
  // How far a weave moves the scan from a scan without one, over a 96 x 96 patch.
  const ScanModel none(design, truth, 2, 0.0);
  const auto change = [&](double contrast) {
    const ScanModel camera(design, truth, 2, contrast);
    double sum = 0;
    for (int y = 80; y < 176; ++y)
      for (int x = 80; x < 176; ++x) {
        uint8_t a[3], b[3];
        camera.pixel(x, y, a);
        none.pixel(x, y, b);
        sum += std::abs(a[1] - b[1]);
      }
    return sum / (96 * 96);
  };
  const ScanModel plain(design, truth, 2), explicit_default(design, truth, 2, 0.04);
  for (int k = 0; k < 64; ++k) {
    uint8_t a[3], b[3];
    plain.pixel(3 * k, 2 * k, a);
    explicit_default.pixel(3 * k, 2 * k, b);
    EXPECT_EQ(std::memcmp(a, b, 3), 0);
  }
  const double gentle = change(0.04), strong = change(0.2);
  EXPECT_GT(gentle, 0.5);                                                        // grey levels
  EXPECT_GT(strong, 3 * gentle) << "gentle " << gentle << " strong " << strong;  // 5x the contrast
}

TEST(SynthDesign, RichNonPeriodicContent) {
  const int w = 600, h = 400;
  const DesignPattern d(Size{w, h}, 11);
  std::set<uint32_t> colours;
  double sum = 0, sum2 = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t c[3];
      d.colour(x, y, c);
      colours.insert(c[0] << 16 | c[1] << 8 | c[2]);
      const double g = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
      sum += g;
      sum2 += g * g;
    }
  const double n = static_cast<double>(w) * h;
  const double var = sum2 / n - (sum / n) * (sum / n);
  EXPECT_GT(colours.size(), 300u);
  EXPECT_GT(var, 600.0);
  // No translation by a cell (30 px here) or by a few cells reproduces the pattern.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> ux(0, w / 2.0), uy(0, h / 2.0);
  for (Vec2 shift : {Vec2{30, 0}, Vec2{0, 30}, Vec2{60, 30}, Vec2{120, 90}}) {
    std::vector<double> a, b;
    for (int i = 0; i < 3000; ++i) {
      const double x = ux(rng), y = uy(rng);
      a.push_back(grey_of(d, x, y));
      b.push_back(grey_of(d, x + shift.x, y + shift.y));
    }
    EXPECT_LT(std::abs(correlation(a, b)), 0.3) << shift.x << "," << shift.y;
  }
}

TEST(SynthDesign, DeterministicAndSeedDependent) {
  const DesignPattern a(Size{800, 500}, 3), b(Size{800, 500}, 3), c(Size{800, 500}, 4);
  int differ_ab = 0, differ_ac = 0;
  for (int y = 0; y < 500; y += 3)
    for (int x = 0; x < 800; x += 3) {
      uint8_t ca[3], cb[3], cc[3];
      a.colour(x + 0.3, y - 0.2, ca);
      b.colour(x + 0.3, y - 0.2, cb);
      c.colour(x + 0.3, y - 0.2, cc);
      differ_ab += std::memcmp(ca, cb, 3) != 0;
      differ_ac += std::memcmp(ca, cc, 3) != 0;
    }
  EXPECT_EQ(differ_ab, 0);
  EXPECT_GT(differ_ac, 800 * 500 / 9 / 2);
}

TEST(SynthDesign, LargeStructuresScaleWithTheImage) {
  // The same seed at 2x the size: the pattern at (2x, 2y) resembles the pattern at (x, y) in the
  // large structures (cells, motifs), so the grey values correlate clearly.
  const DesignPattern small(Size{600, 400}, 9), big(Size{1200, 800}, 9);
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> ux(0, 599), uy(0, 399);
  std::vector<double> a, b;
  for (int i = 0; i < 3000; ++i) {
    const double x = ux(rng), y = uy(rng);
    a.push_back(grey_of(small, x, y));
    b.push_back(grey_of(big, 2 * x + 0.5, 2 * y + 0.5));
  }
  EXPECT_GT(correlation(a, b), 0.5);
}

// ---------------- written pair ----------------

TEST(SynthPair, WritesTiledRgbGeoTiffsAndTruth) {
  alinify::test::ScratchDir dir("synth-pair");
  SynthOptions o;
  o.out_dir = dir.file("out");  // created by the writer
  o.width = 600;
  o.height = 400;
  o.strip_rows = 64;
  o.seed = 21;
  write_synthetic_pair(o);
  for (const char* name : {"design.tif", "scan.tif"}) {
    const std::string path = dir.file(std::string("out/") + name);
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_FALSE(fs::exists(path + ".partial"));
    GDALAllRegister();
    GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
    ASSERT_NE(ds, nullptr);
    EXPECT_STREQ(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "GTiff");
    EXPECT_EQ(GDALGetRasterXSize(ds), 600);
    EXPECT_EQ(GDALGetRasterYSize(ds), 400);
    ASSERT_EQ(GDALGetRasterCount(ds), 3);
    for (int b = 1; b <= 3; ++b) {
      GDALRasterBandH band = GDALGetRasterBand(ds, b);
      EXPECT_EQ(GDALGetRasterDataType(band), GDT_Byte);
      int bx = 0, by = 0;
      GDALGetBlockSize(band, &bx, &by);
      EXPECT_EQ(bx, 256);
      EXPECT_EQ(by, 256);
    }
    const char* interleave = GDALGetMetadataItem(ds, "INTERLEAVE", "IMAGE_STRUCTURE");
    ASSERT_NE(interleave, nullptr);
    EXPECT_STREQ(interleave, "PIXEL");
    EXPECT_EQ(GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE"), nullptr);
    GDALClose(ds);
  }
  EXPECT_FALSE(fs::exists(dir.file("out/truth.json.partial")));
  const Truth t = Truth::load(dir.file("out/truth.json"));
  expect_truth_identical(t, make_truth(Size{600, 400}, Size{600, 400}, 21));
  const std::string text = read_file(dir.file("out/truth.json"));
  EXPECT_NE(text.find("\"alinify-truth\""), std::string::npos);
  EXPECT_NE(text.find('\n'), std::string::npos);  // human-readable, indented
}

TEST(SynthPair, FilesHoldTheModelsWhateverTheStripsAndThreads) {
  alinify::test::ScratchDir dir("synth-split");
  SynthOptions o;
  o.width = 517;  // not a multiple of the tile size nor of the strips
  o.height = 301;
  o.seed = 4;
  o.out_dir = dir.file("a");
  o.strip_rows = 64;
  write_synthetic_pair(o);
  o.out_dir = dir.file("b");
  o.strip_rows = 100;
  o.threads = 1;
  write_synthetic_pair(o);
  EXPECT_EQ(checksums(dir.file("a/design.tif")), checksums(dir.file("b/design.tif")));
  EXPECT_EQ(checksums(dir.file("a/scan.tif")), checksums(dir.file("b/scan.tif")));

  const DesignPattern design(Size{517, 301}, 4);
  const Truth truth = Truth::load(dir.file("a/truth.json"));
  const ScanModel camera(design, truth, 4);
  const Rgb df = read_rgb(dir.file("a/design.tif")), sf = read_rgb(dir.file("a/scan.tif"));
  ASSERT_EQ(df.w, 517);
  ASSERT_EQ(sf.h, 301);
  int64_t design_mismatch = 0, scan_mismatch = 0;
  for (int y = 0; y < 301; ++y)
    for (int x = 0; x < 517; ++x) {
      uint8_t c[3];
      design.colour(x, y, c);
      design_mismatch += std::memcmp(c, &df.px[3 * (static_cast<size_t>(y) * 517 + x)], 3) != 0;
      camera.pixel(x, y, c);
      scan_mismatch += std::memcmp(c, &sf.px[3 * (static_cast<size_t>(y) * 517 + x)], 3) != 0;
    }
  EXPECT_EQ(design_mismatch, 0);
  EXPECT_EQ(scan_mismatch, 0);
}

TEST(SynthPair, SameSeedSameFilesDifferentSeedDifferentFiles) {
  alinify::test::ScratchDir dir("synth-seed");
  SynthOptions o;
  o.width = 300;
  o.height = 200;
  o.strip_rows = 64;
  o.seed = 8;
  o.out_dir = dir.file("a");
  write_synthetic_pair(o);
  o.out_dir = dir.file("b");
  write_synthetic_pair(o);
  o.seed = 9;
  o.out_dir = dir.file("c");
  write_synthetic_pair(o);
  EXPECT_EQ(checksums(dir.file("a/design.tif")), checksums(dir.file("b/design.tif")));
  EXPECT_EQ(checksums(dir.file("a/scan.tif")), checksums(dir.file("b/scan.tif")));
  EXPECT_EQ(read_file(dir.file("a/truth.json")), read_file(dir.file("b/truth.json")));
  EXPECT_NE(checksums(dir.file("a/design.tif")), checksums(dir.file("c/design.tif")));
  EXPECT_NE(checksums(dir.file("a/scan.tif")), checksums(dir.file("c/scan.tif")));
  EXPECT_NE(read_file(dir.file("a/truth.json")), read_file(dir.file("c/truth.json")));
}

TEST(SynthPair, ScanIsTheDesignWarpedByTheTruth) {
  alinify::test::ScratchDir dir("synth-corr");
  SynthOptions o;
  o.out_dir = dir.path().string();
  o.width = 600;
  o.height = 400;
  o.strip_rows = 64;
  o.seed = 13;
  write_synthetic_pair(o);
  const Rgb scan = read_rgb(dir.file("scan.tif")), design_file = read_rgb(dir.file("design.tif"));
  const Truth truth = Truth::load(dir.file("truth.json"));
  const DesignPattern design(truth.design, 13);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> ux(0, 599), uy(0, 399);
  std::vector<double> s, warped, shifted, unwarped;
  int differ = 0;
  while (s.size() < 2000) {
    const int x = ux(rng), y = uy(rng);
    const Vec2 p = truth.scan_to_design({static_cast<double>(x), static_cast<double>(y)});
    if (p.x < 0 || p.y < 0 || p.x > 599 || p.y > 399) continue;  // table, not fabric
    s.push_back(scan.grey(x, y));
    warped.push_back(grey_of(design, p.x, p.y));
    shifted.push_back(grey_of(design, std::fmod(p.x + 600 / 7.0, 600.0), std::fmod(p.y + 400 / 5.0, 400.0)));
    unwarped.push_back(design_file.grey(x, y));
    differ += std::abs(scan.grey(x, y) - design_file.grey(x, y)) > 2;
  }
  const double c_warped = correlation(s, warped), c_shifted = correlation(s, shifted);
  RecordProperty("corr_warped", std::to_string(c_warped));
  RecordProperty("corr_shifted", std::to_string(c_shifted));
  RecordProperty("corr_unwarped", std::to_string(correlation(s, unwarped)));
  EXPECT_GT(c_warped, 0.8);
  EXPECT_LT(std::abs(c_shifted), 0.3);
  EXPECT_GT(c_warped, correlation(s, unwarped));  // the truth explains the scan better than identity
  EXPECT_GT(differ, 1000);                        // the camera changed most pixels
}

TEST(SynthPair, FailureLeavesNoPartialFiles) {
  alinify::test::ScratchDir dir("synth-fail");
  // scan.tif.partial is a non-empty folder: the scan cannot be created after the design was.
  fs::create_directories(dir.file("scan.tif.partial"));
  std::ofstream(dir.file("scan.tif.partial/keep")) << "x";
  SynthOptions o;
  o.out_dir = dir.path().string();
  o.width = 300;
  o.height = 200;
  EXPECT_THROW(write_synthetic_pair(o), Error);
  EXPECT_FALSE(fs::exists(dir.file("design.tif.partial")));
  EXPECT_FALSE(fs::exists(dir.file("design.tif")));
  EXPECT_FALSE(fs::exists(dir.file("scan.tif")));
  EXPECT_FALSE(fs::exists(dir.file("truth.json")));
  EXPECT_TRUE(fs::exists(dir.file("scan.tif.partial/keep")));  // not ours: left alone

  // An output folder that cannot be created: bad input naming it.
  std::ofstream(dir.file("plain")) << "x";
  o.out_dir = dir.file("plain/sub");
  try {
    write_synthetic_pair(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find(o.out_dir), std::string::npos);
  }
  o.out_dir = dir.file("ok");
  o.width = 0;
  EXPECT_THROW(write_synthetic_pair(o), Error);
}

TEST(SynthPair, StreamsWithBoundedMemory) {
  // 3000x2000 RGB is 18 MB per image (36 MB for both): a whole-image buffer of either would break
  // the bound below; the writer holds one strip per file (2 x 0.6 MB here) plus one row of GDAL
  // tiles per file (2 x 2.3 MB). Measured growth: about 4 MiB.
#if ALINIFY_TEST_UNDER_ASAN
  // ASan keeps freed blocks in a quarantine (256 MiB) and adds shadow memory: RSS says nothing about
  // alinify's buffers there. The bound is checked by the normal build (./dev test).
  GTEST_SKIP() << "peak RSS is not meaningful under AddressSanitizer; checked in the normal build";
#endif
  alinify::test::ScratchDir dir("synth-mem");
  SynthOptions o;
  // Warm-up on a tiny pair: loads GDAL's drivers and code pages and starts the OpenMP threads, so
  // that the measurement below sees only what grows with the image.
  o.out_dir = dir.file("warm");
  o.width = 300;
  o.height = 200;
  write_synthetic_pair(o);
  if (!reset_peak_rss()) GTEST_SKIP() << "cannot reset the peak RSS (/proc/self/clear_refs)";
  const long before = vm_kib("VmRSS:");
  ASSERT_GT(before, 0);
  ASSERT_LE(vm_kib("VmHWM:"), before + 1024);  // the reset worked
  o.out_dir = dir.path().string();
  o.width = 3000;
  o.height = 2000;
  o.strip_rows = 64;
  write_synthetic_pair(o);
  const long growth_kib = vm_kib("VmHWM:") - before;
  RecordProperty("peak_rss_growth_kib", std::to_string(growth_kib));
  EXPECT_LT(growth_kib, 12 * 1024) << "peak RSS grew by " << growth_kib / 1024 << " MiB";
  EXPECT_EQ(fs::file_size(dir.file("design.tif")) / 1000000, fs::file_size(dir.file("scan.tif")) / 1000000);
  EXPECT_GT(fs::file_size(dir.file("scan.tif")), 18000000u);
}
