// The real binary on real files: elastix, mpirun, GDAL. Each test is self-contained (CTest runs
// every test in its own process).
#include <cpl_string.h>
#include <gdal.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "alinify/defects/report.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/synth/synth.hpp"
#include "alinify/synth/truth.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify::test;
namespace fs = std::filesystem;

namespace {

// Exit code, the file named in the one error line, and nothing left behind.
void expect_refused(const CommandResult& r, int code, const std::string& named, const std::string& out_path) {
  EXPECT_EQ(r.exit_code, code) << r.output;
  EXPECT_NE(r.output.find(named), std::string::npos) << "error does not name " << named << ":\n" << r.output;
  int error_lines = 0;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) error_lines += line.find("[error]") != std::string::npos;
  EXPECT_EQ(error_lines, 1) << r.output;
  if (!out_path.empty()) {
    EXPECT_FALSE(fs::exists(out_path)) << out_path;
    EXPECT_FALSE(fs::exists(out_path + ".partial")) << out_path;
  }
}

// `alinify register` of design and scan into d/t.json, then `alinify eval` of it against the
// truth of the pair in d/pair: within 0.3 px mean and 0.6 px p95.
void expect_registered(const ScratchDir& d, const std::string& design, const std::string& scan,
                       const std::string& what) {
  auto r = cli("register --design " + quote(design) + " --scan " + quote(scan) + " --out " + quote(d.file("t.json")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto e = cli("eval --transform " + quote(d.file("t.json")) + " --truth " + quote(d.file("pair/truth.json")));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto j = nlohmann::json::parse(e.output.substr(e.output.find('{')));
  std::cout << "registration error vs truth, " << what << ": " << j.dump() << "\n";
  EXPECT_LE(j["mean"].get<double>(), 0.3);
  EXPECT_LE(j["p95"].get<double>(), 0.6);
}

}  // namespace

TEST(Cli, EndToEndRunIsAccurateAndRankCountInvariant) {
  ScratchDir d("e2e-run");
  synth_pair(d, 1200, 900);
  const std::string design = d.file("pair/design.tif"), scan = d.file("pair/scan.tif");
  auto r = run_command(mpirun(2) + quote(alinify_bin()) + " run --design " + quote(design) + " --scan " + quote(scan) +
                       " --out " + quote(d.file("aligned.tif")) + " --transform-out " + quote(d.file("t.json")) +
                       " --mem-budget 2GiB");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[r1/2]"), std::string::npos) << "rank 1 did not log";
  EXPECT_NE(r.output.find("plan: register at 1/"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(d.file("aligned.tif")));
  EXPECT_TRUE(fs::exists(d.file("t.elastix/elastix.log")));
  EXPECT_TRUE(fs::exists(d.file("t.elastix/TransformParameters.full.1.txt")));

  auto e = cli("eval --transform " + quote(d.file("t.json")) + " --truth " + quote(d.file("pair/truth.json")));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto j = nlohmann::json::parse(e.output.substr(e.output.find('{')));
  std::cout << "registration error vs truth: " << j.dump() << "\n";
  EXPECT_LE(j["mean"].get<double>(), 0.3);
  EXPECT_LE(j["p95"].get<double>(), 0.6);
  EXPECT_GT(j["points"].get<int64_t>(), 50000);

  // The same transform warped with 1, 2 and 3 ranks: identical pixels.
  std::string sums[3];
  for (int np = 1; np <= 3; ++np) {
    const std::string out = d.file("w" + std::to_string(np) + ".tif");
    auto w = run_command(mpirun(np) + quote(alinify_bin()) + " warp --design " + quote(design) + " --scan " +
                         quote(scan) + " --transform " + quote(d.file("t.json")) + " --out " + quote(out) +
                         " --interp bicubic --tile 128" + " --mem-budget 64MiB");
    ASSERT_EQ(w.exit_code, 0) << w.output;
    sums[np - 1] = gdal_checksums(out);
  }
  EXPECT_FALSE(sums[0].empty());
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(sums[0], sums[2]);

  // map-points agrees with the transform file that eval judged accurate: the design centre maps
  // into the scan.
  std::ofstream(d.file("p.csv")) << "id,x,y\n1,600,450\n2,0,0\n";
  auto m = cli("map-points --transform " + quote(d.file("t.json")) + " --in " + quote(d.file("p.csv")) + " --out " +
               quote(d.file("q.csv")));
  ASSERT_EQ(m.exit_code, 0) << m.output;
  std::ifstream in(d.file("q.csv"));
  std::string header, row;
  std::getline(in, header);
  EXPECT_EQ(header, "x,y,scan_x,scan_y");
  std::getline(in, row);
  double x, y, sx, sy;
  char c;
  std::istringstream(row) >> x >> c >> y >> c >> sx >> c >> sy;
  EXPECT_EQ(x, 600);
  EXPECT_GT(sx, 300);
  EXPECT_LT(sx, 900);
  EXPECT_GT(sy, 200);
  EXPECT_LT(sy, 700);
}

// A design stored as 256 colours in a colour table (rgb2pct.py: median cut and dithering, as a
// design tool's indexed export) is registered: its indices were read as grey before and the
// design was "not found in the scan" (score 0.17).
TEST(Cli, ADesignWithAColourTableIsRegistered) {
  ScratchDir d("e2e-palette");
  synth_pair(d, 1000, 750);
  const std::string palette = d.file("palette.tif");
  auto p = run_command("rgb2pct.py -of GTiff " + quote(d.file("pair/design.tif")) + " " + quote(palette));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  expect_registered(d, palette, d.file("pair/scan.tif"), "colour-table design");
}

namespace {

// An 8-bit pixel-interleaved GeoTIFF of `bands` bands, the last one alpha when there are 4.
void write_tiff(const std::string& path, int w, int h, int bands, const std::vector<uint8_t>& px) {
  char** options = bands == 4 ? CSLSetNameValue(nullptr, "ALPHA", "YES") : nullptr;
  GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), w, h, bands, GDT_Byte, options);
  CSLDestroy(options);
  ASSERT_NE(ds, nullptr) << path;
  ASSERT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, const_cast<uint8_t*>(px.data()), w, h, GDT_Byte, bands,
                                nullptr, bands, static_cast<GSpacing>(w) * bands, 1),
            CE_None);
  GDALClose(ds);
}

}  // namespace

// A design exported with a transparent background (alpha 0 over black, as most tools store it):
// there the fabric stays unprinted, white in the scan. Read as stored, a 1200x900 design with a
// sixth of it transparent was "not found in the scan" (score 0.128); every read now composites
// alpha over white, so the pair registers and the clean pair shows no defect. The scan is made by
// synth's camera model (weave, illumination, colour cast, noise) from the design with white disks.
TEST(Cli, ATransparentDesignBackgroundIsUnprintedFabric) {
  ScratchDir d("e2e-alpha");
  synth_pair(d, 1000, 750);
  alinify::io::init_gdal();
  const alinify::synth::Truth truth = alinify::synth::Truth::load(d.file("pair/truth.json"));
  const alinify::io::Raster raster = alinify::io::Raster::open(d.file("pair/design.tif"));
  const alinify::Size ds = raster.size();
  std::vector<uint8_t> design(static_cast<size_t>(ds.pixels()) * 3);
  raster.read_rgb({0, 0, ds.width, ds.height}, design.data(), static_cast<size_t>(ds.width) * 3);
  // The print: the design's pixels (nearest), white in four disks.
  struct Printed : alinify::synth::Pattern {
    const std::vector<uint8_t>& px;
    alinify::Size size;
    Printed(const std::vector<uint8_t>& p, alinify::Size s) : px(p), size(s) {}
    static bool unprinted(double x, double y) {
      const double disks[4][3] = {{250, 200, 110}, {700, 450, 130}, {420, 600, 90}, {860, 150, 80}};
      for (const auto& k : disks)
        if (std::hypot(x - k[0], y - k[1]) <= k[2]) return true;
      return false;
    }
    void colour(double x, double y, uint8_t rgb[3]) const override {
      if (unprinted(x, y)) {
        rgb[0] = rgb[1] = rgb[2] = 255;
        return;
      }
      const int64_t i = std::clamp<int64_t>(std::lround(x), 0, size.width - 1);
      const int64_t j = std::clamp<int64_t>(std::lround(y), 0, size.height - 1);
      std::copy_n(&px[static_cast<size_t>(j * size.width + i) * 3], 3, rgb);
    }
  };
  const Printed printed(design, ds);
  std::vector<uint8_t> rgba(static_cast<size_t>(ds.pixels()) * 4, 0);
  for (int64_t y = 0; y < ds.height; ++y)
    for (int64_t x = 0; x < ds.width; ++x) {
      const size_t i = static_cast<size_t>(y * ds.width + x);
      if (Printed::unprinted(static_cast<double>(x), static_cast<double>(y))) continue;  // transparent, black
      std::copy_n(&design[3 * i], 3, &rgba[4 * i]);
      rgba[4 * i + 3] = 255;
    }
  write_tiff(d.file("transparent.tif"), static_cast<int>(ds.width), static_cast<int>(ds.height), 4, rgba);
  const alinify::synth::ScanModel camera(printed, truth, 11);
  std::vector<uint8_t> scan(static_cast<size_t>(truth.scan.pixels()) * 3);
  for (int64_t y = 0; y < truth.scan.height; ++y)
    for (int64_t x = 0; x < truth.scan.width; ++x)
      camera.pixel(x, y, &scan[static_cast<size_t>(y * truth.scan.width + x) * 3]);
  write_tiff(d.file("scan.tif"), static_cast<int>(truth.scan.width), static_cast<int>(truth.scan.height), 3, scan);

  ASSERT_NO_FATAL_FAILURE(
      expect_registered(d, d.file("transparent.tif"), d.file("scan.tif"), "design with a transparent background"));
  const std::string pair = " --design " + quote(d.file("transparent.tif")) + " --scan " + quote(d.file("scan.tif"));
  auto w = cli("warp" + pair + " --transform " + quote(d.file("t.json")) + " --out " + quote(d.file("o.tif")) +
               " --defects --no-qa --progress off");
  ASSERT_EQ(w.exit_code, 0) << w.output;
  EXPECT_EQ(alinify::defects::read_csv(d.file("o.defects.csv")).size(), 0u) << read_file(d.file("o.defects.csv"));
}

// A camera's 16-bit TIFF (a 12-bit camera: 0..4095 in 16-bit samples) was refused ("band 1 is
// UInt16"). It is read as 8-bit at the bits its values use (v x 255 / 4095), so a scan written from
// the 8-bit scan's levels registers as it does and warps to the same bytes.
TEST(Cli, ASixteenBitScanIsReadAtTheBitsItUses) {
  ScratchDir d("e2e-16bit");
  synth_pair(d, 1000, 750);
  alinify::io::init_gdal();
  const alinify::io::Raster eight = alinify::io::Raster::open(d.file("pair/scan.tif"));
  const int w = static_cast<int>(eight.size().width), h = static_cast<int>(eight.size().height);
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  eight.read_rgb({0, 0, w, h}, px.data(), static_cast<size_t>(w) * 3);
  std::vector<uint16_t> wide(px.size());
  for (size_t i = 0; i < px.size(); ++i) wide[i] = static_cast<uint16_t>((px[i] * 4095 + 127) / 255);
  char** options = CSLSetNameValue(nullptr, "TILED", "YES");
  GDALDatasetH ds =
      GDALCreate(GDALGetDriverByName("GTiff"), d.file("scan12.tif").c_str(), w, h, 3, GDT_UInt16, options);
  CSLDestroy(options);
  ASSERT_NE(ds, nullptr);
  ASSERT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, wide.data(), w, h, GDT_UInt16, 3, nullptr, 6,
                                static_cast<GSpacing>(w) * 6, 2),
            CE_None);
  GDALClose(ds);

  ASSERT_NO_FATAL_FAILURE(expect_registered(d, d.file("pair/design.tif"), d.file("scan12.tif"), "16-bit scan"));
  std::vector<uint8_t> out[2];
  const char* scans[2] = {"pair/scan.tif", "scan12.tif"};
  for (int k = 0; k < 2; ++k) {
    const std::string o = d.file("o" + std::to_string(k) + ".tif");
    auto r = cli("warp --design " + quote(d.file("pair/design.tif")) + " --scan " + quote(d.file(scans[k])) +
                 " --transform " + quote(d.file("t.json")) + " --out " + quote(o) + " --no-qa --progress off");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    if (k == 1) {
      EXPECT_NE(r.output.find("16-bit samples read as 8-bit, v x 255 / 4095 (the values use 12 bits)"),
                std::string::npos)
          << r.output;
    }
    const alinify::io::Raster aligned = alinify::io::Raster::open(o);
    const alinify::Size a = aligned.size();
    out[k].resize(static_cast<size_t>(a.pixels()) * 3);
    aligned.read_rgb({0, 0, a.width, a.height}, out[k].data(), static_cast<size_t>(a.width) * 3);
  }
  EXPECT_TRUE(out[0] == out[1]) << "the 16-bit scan's aligned output differs from the 8-bit one's";
}

TEST(Cli, CompressedOutputKeepsThePixels) {
  ScratchDir d("e2e-zstd");
  synth_pair(d, 400, 300);
  // An identity transform written by hand: the output is the scan itself.
  write_affine(d.file("id.json"), 400, 300, "[1,0,0,1]", "[0,0]");
  for (const char* c : {"none", "zstd"}) {
    auto r = cli("warp --design " + quote(d.file("pair/design.tif")) + " --scan " + quote(d.file("pair/scan.tif")) +
                 " --transform " + quote(d.file("id.json")) + " --out " + quote(d.file(std::string(c) + ".tif")) +
                 " --compress " + c);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_EQ(gdal_checksums(d.file("none.tif")), gdal_checksums(d.file("pair/scan.tif")));
  EXPECT_EQ(gdal_checksums(d.file("zstd.tif")), gdal_checksums(d.file("pair/scan.tif")));
  EXPECT_LT(fs::file_size(d.file("zstd.tif")), fs::file_size(d.file("none.tif")));
}

TEST(Cli, HelpForEveryCommandAndUsageErrors) {
  for (const char* cmd : {"run", "register", "warp", "synth", "eval", "map-points", "inspect"}) {
    auto r = cli(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd << r.output;
    EXPECT_NE(r.output.find("usage: alinify " + std::string(cmd)), std::string::npos) << r.output;
  }
  EXPECT_EQ(cli("").exit_code, 1);
  EXPECT_NE(cli("--help").output.find("  inspect "), std::string::npos);
  // inspect compares an image already aligned: no --defects switch to turn it on.
  EXPECT_EQ(cli("inspect --help").output.find("--defects "), std::string::npos);
  auto bad = cli("warp --design a.tif --bogus 1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("bogus"), std::string::npos) << bad.output;
  EXPECT_EQ(cli("frobnicate").exit_code, 1);
  auto budget = cli("register --design a --scan b --out c --mem-budget lots");
  EXPECT_EQ(budget.exit_code, 1);
  EXPECT_NE(budget.output.find("--mem-budget"), std::string::npos) << budget.output;
  // An empty value, an unknown log level and a tile no strip could hold are usage errors, before
  // any file is looked at.
  auto empty = cli("warp --design a.tif --scan b.tif --transform t.json --out ''");
  EXPECT_EQ(empty.exit_code, 1) << empty.output;
  EXPECT_NE(empty.output.find("--out: the value is empty"), std::string::npos) << empty.output;
  for (const char* level : {"--log-level loud", "--log-level=loud"}) {
    auto loud = cli(std::string("eval --transform t.json --truth u.json ") + level);
    EXPECT_EQ(loud.exit_code, 1) << level << loud.output;
    EXPECT_NE(loud.output.find("'loud' is not one of"), std::string::npos) << loud.output;
  }
  auto tile = cli("warp --design a.tif --scan b.tif --transform t.json --out o.tif --tile 1048576");
  EXPECT_EQ(tile.exit_code, 1) << tile.output;
  EXPECT_NE(tile.output.find("--tile: 1048576"), std::string::npos) << tile.output;
  // Options that would be ignored, or read as something else, are refused.
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"synth --out-dir x --seed -1", "--seed: -1 is negative"},
           {"synth --out-dir x --width 300000 --height 64", "the most alinify reads"},
           {"register --design a --scan b --out c --params p.txt --preset affine", "give one of them"},
           {"register --design a --scan b --out c --elastix-threads -1", "--elastix-threads: -1 is negative"},
           {"register --design a --scan b --out c --mem-budget 1KiB", "below 1 MiB"},
           {"eval --defects d.csv --truth t.json --step 8", "--step: scores a transform"},
           {"eval --transform t.json --truth u.json --defect-tolerance 9", "--defect-tolerance: scores --defects"}}) {
    auto r = cli(args);
    EXPECT_EQ(r.exit_code, 1) << args << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << r.output;
  }
  auto folder = cli("inspect --design a.tif --aligned b.tif --out some/folder/");
  EXPECT_EQ(folder.exit_code, 1) << folder.output;
  EXPECT_NE(folder.output.find("is a folder"), std::string::npos) << folder.output;
}

TEST(Cli, LogLevelReachesTheLogInEverySpelling) {
  ScratchDir d("e2e-log-level");
  std::ofstream(d.file("quiet.ini")) << "log-level = error\n";
  // synth logs at info level; at error level it prints nothing on success.
  for (const std::string& how :
       {std::string("--log-level error"), std::string("--log-level=error"), "--config " + quote(d.file("quiet.ini"))}) {
    auto r = cli("synth --out-dir " + quote(d.file("p")) + " --width 96 --height 64 --seed 1 " + how);
    EXPECT_EQ(r.exit_code, 0) << how << r.output;
    EXPECT_EQ(r.output.find("[info]"), std::string::npos) << how << r.output;
  }
  auto r = cli("synth --out-dir " + quote(d.file("p")) + " --width 96 --height 64 --seed 1");
  EXPECT_NE(r.output.find("[info]"), std::string::npos) << r.output;
}

TEST(Cli, ConfigFileFillsOptionsAndTheCommandLineWins) {
  ScratchDir d("e2e-config");
  std::ofstream(d.file("a.ini")) << "interp = lanczos\n";
  auto r = cli("warp --config " + quote(d.file("a.ini")) + " --design x --scan y --transform z --out o.tif");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("lanczos"), std::string::npos) << r.output;
  auto r2 = cli("warp --config " + quote(d.file("a.ini")) + " --interp bilinear --design " + quote(d.file("nope.tif")) +
                " --scan y --transform " + quote(d.file("z.json")) + " --out o.tif");
  EXPECT_EQ(r2.exit_code, 2) << r2.output;  // got past the option check: the config value lost
  std::ofstream(d.file("b.ini")) << "[[[ not ini\n";
  auto r3 = cli("warp --config " + quote(d.file("b.ini")) + " --design x --scan y --transform z --out o.tif");
  EXPECT_EQ(r3.exit_code, 2);
  EXPECT_NE(r3.output.find("b.ini"), std::string::npos) << r3.output;
}

TEST(Cli, BadInputsAreRefusedWithOneLineAndNoOutput) {
  ScratchDir d("e2e-bad");
  synth_pair(d, 256, 192);
  const std::string design = d.file("pair/design.tif"), scan = d.file("pair/scan.tif");
  const std::string out = d.file("out.tif");
  auto run = [&](const std::string& dsg, const std::string& scn, const std::string& extra = "") {
    return run_command(mpirun(2) + quote(alinify_bin()) + " run --design " + quote(dsg) + " --scan " + quote(scn) +
                       " --out " + quote(out) + " " + extra);
  };
  expect_refused(run(d.file("missing.tif"), scan), 2, "missing.tif", out);

  std::ofstream(d.file("text.tif")) << "not an image\n";
  expect_refused(run(design, d.file("text.tif")), 2, "text.tif", out);

  fs::copy_file(scan, d.file("cut.tif"));
  fs::resize_file(d.file("cut.tif"), fs::file_size(scan) / 2);
  expect_refused(run(design, d.file("cut.tif")), 2, "cut.tif", out);

  // Unsigned 16-bit is read (Cli.ASixteenBitScanIsReadAtTheBitsItUses); signed is refused.
  auto s16 = run_command("gdal_translate -q -ot Int16 " + quote(scan) + " " + quote(d.file("s16.tif")));
  ASSERT_EQ(s16.exit_code, 0) << s16.output;
  expect_refused(run(design, d.file("s16.tif")), 2, "s16.tif", out);

  std::ofstream(d.file("bad_params.txt"))
      << "(Transform \"AffineTransform\"\n(Metric \"AdvancedMattesMutualInformation\")\n";
  expect_refused(run(design, scan, "--params " + quote(d.file("bad_params.txt"))), 2, "bad_params.txt", out);

  expect_refused(run(design, scan, "--elastix " + quote(d.file("no-elastix"))), 1, "no-elastix", out);

  std::ofstream(d.file("bad.json")) << "{\"format\":\"alinify-transform\",\"version\":1,\"stages\":[";
  auto w = run_command(mpirun(2) + quote(alinify_bin()) + " warp --design " + quote(design) + " --scan " + quote(scan) +
                       " --transform " + quote(d.file("bad.json")) + " --out " + quote(out));
  expect_refused(w, 2, "bad.json", out);

  // A transform that sends the design far off the scan: no overlap.
  write_affine(d.file("far.json"), 256, 192, "[1,0,0,1]", "[5000,0]");
  auto far = run_command(mpirun(3) + quote(alinify_bin()) + " warp --design " + quote(design) + " --scan " +
                         quote(scan) + " --transform " + quote(d.file("far.json")) + " --out " + quote(out));
  expect_refused(far, 2, "do not overlap", out);
}
