// Repeating prints on a larger scan canvas (synth --kind periodic): the coarse stage must land
// elastix on the right repeat; plain elastix (--init none) must not (so the case is really hard);
// a scan of another design or of the bare table is refused with exit 2 and no output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify::test;
namespace fs = std::filesystem;

namespace {

// 2000x1600 design, scan ~12% larger on each axis plus the rotation's bounding box.
std::string synth_periodic(const ScratchDir& d, const std::string& name, int seed, const std::string& extra = "") {
  const std::string dir = d.file(name);
  auto r = cli("synth --kind periodic --out-dir " + quote(dir) + " --width 2000 --height 1600 --seed " +
               std::to_string(seed) + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir;
}

nlohmann::json eval(const std::string& transform, const std::string& truth) {
  auto r = cli("eval --transform " + quote(transform) + " --truth " + quote(truth));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto brace = r.output.find('{');
  EXPECT_NE(brace, std::string::npos) << r.output;
  return nlohmann::json::parse(r.output.substr(brace));
}

void expect_accurate(const ScratchDir& d, const std::string& pair, const std::string& extra,
                     bool expect_period = false) {
  const std::string out = d.file(fs::path(pair).filename().string() + ".json");
  auto r = cli("register --design " + quote(pair + "/design.tif") + " --scan " + quote(pair + "/scan.tif") + " --out " +
               quote(out) + " " + extra);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("coarse alignment"), std::string::npos) << r.output;
  // The refinement's blocks search no further than a quarter of the repeat the coarse stage saw
  // (seen when its runner-up is the print shifted by one repeat: with --init auto on these pairs).
  const auto at = r.output.find("refinement: search radius ");
  ASSERT_NE(at, std::string::npos) << r.output;
  double radius = 0, period = 0;
  const char* line = r.output.c_str() + at;
  if (std::sscanf(line, "refinement: search radius %lf px (a quarter of the repeat period of %lf", &radius, &period) ==
      2) {
    EXPECT_GT(period, 100) << "synth's periodic repeat is a few hundred px";
    EXPECT_LE(radius, std::min(8.0, period / 4) + 1e-9);
  } else {
    EXPECT_FALSE(expect_period) << r.output.substr(at, 200);
    EXPECT_EQ(std::sscanf(line, "refinement: search radius %lf px (no repeat period", &radius), 1);
    EXPECT_EQ(radius, 8.0);
  }
  auto e = eval(out, pair + "/truth.json");
  EXPECT_LE(e["mean"].get<double>(), 0.3) << pair << " " << e.dump();
  EXPECT_LE(e["p95"].get<double>(), 0.6) << pair << " " << e.dump();
  // transform.json records the initial placement; elastix was given it (-t0).
  auto j = nlohmann::json::parse(read_file(out));
  ASSERT_TRUE(j.contains("initial")) << j.dump();
  EXPECT_EQ(j["initial"]["method"], extra.find("--init box") != std::string::npos ? "box" : "auto");
  EXPECT_GT(j["initial"]["confidence"].get<double>(), 0.05);
  // synth --kind periodic lays the fabric, cut to the design, on the table: its box must agree.
  EXPECT_EQ(j["initial"]["fabric_box"]["state"], "agrees") << j["initial"].dump();
  const std::string log = read_file(out.substr(0, out.size() - 5) + ".elastix/elastix.log");
  EXPECT_NE(log.find("initial_transform.txt"), std::string::npos);
}

// transformix, given the full-resolution chain the run wrote (coarse initial transform innermost),
// maps design points where transform.json (alinify map-points) does.
void expect_transformix_agrees(const ScratchDir& d, const std::string& transform_json) {
  const std::string elx = transform_json.substr(0, transform_json.size() - 5) + ".elastix";
  std::string last;
  int full = 0, elastix = 0;
  for (; fs::exists(elx + "/TransformParameters.full." + std::to_string(full) + ".txt"); ++full)
    last = elx + "/TransformParameters.full." + std::to_string(full) + ".txt";
  while (fs::exists(elx + "/TransformParameters." + std::to_string(elastix) + ".txt")) ++elastix;
  ASSERT_FALSE(last.empty()) << "no full-resolution chain in " << elx;
  // The coarse stage's initial transform is the innermost link, below elastix's own files; the
  // refinement's correction, when it made one, is the outermost (an "add" B-spline stage).
  const auto stages = nlohmann::json::parse(read_file(transform_json))["stages"];
  const int corrected = stages.back().value("combine", "") == "add" ? 1 : 0;
  EXPECT_EQ(full, elastix + 1 + corrected);
  {
    std::ofstream pts(d.file("pts.txt")), csv(d.file("pts.csv"));
    pts << "point\n25\n";
    csv << "x,y\n";
    for (int j = 0; j < 5; ++j)
      for (int i = 0; i < 5; ++i) {
        const double x = 13.5 + i * 491.25, y = 7.25 + j * 396.5;
        pts << x << " " << y << "\n";
        csv << x << "," << y << "\n";
      }
  }
  const std::string out = d.file("transformix");
  fs::create_directories(out);
  auto r = run_command("transformix -ipp " + quote(d.file("pts.txt")) + " -tp " + quote(last) + " -out " + quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cli("map-points --transform " + quote(transform_json) + " --in " + quote(d.file("pts.csv")) + " --out " +
          quote(d.file("mapped.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream tin(out + "/outputpoints.txt"), min(d.file("mapped.csv"));
  std::string tline, mline;
  std::getline(min, mline);  // header
  int n = 0;
  while (std::getline(tin, tline) && std::getline(min, mline)) {
    const auto at = tline.find("OutputPoint = [");
    ASSERT_NE(at, std::string::npos) << tline;
    double tx, ty, x, y, sx, sy;
    std::istringstream(tline.substr(at + 15)) >> tx >> ty;
    ASSERT_EQ(std::sscanf(mline.c_str(), "%lf,%lf,%lf,%lf", &x, &y, &sx, &sy), 4) << mline;
    EXPECT_NEAR(tx, sx, 1e-3) << "point " << x << "," << y;
    EXPECT_NEAR(ty, sy, 1e-3) << "point " << x << "," << y;
    ++n;
  }
  EXPECT_EQ(n, 25);
}

TEST(Periodic, CoarseStageLandsOnTheRightRepeat) {
  ScratchDir d("periodic_accuracy");
  for (int seed : {1, 2}) expect_accurate(d, synth_periodic(d, "p" + std::to_string(seed), seed), "", true);
}

TEST(Periodic, FabricBoxAlonePinsTheRepeat) {
  ScratchDir d("periodic_box");
  expect_accurate(d, synth_periodic(d, "p3", 3), "--init box");
}

TEST(Periodic, QuarterTurnIsFound) {
  ScratchDir d("periodic_quarter");
  expect_accurate(d, synth_periodic(d, "q", 4, "--quarter-turns"), "--quarter-turns");
  expect_transformix_agrees(d, d.file("q.json"));
}

// A fabric laid half round (synth --quarter-turns drew these two at 176.7 and 178.4 deg), registered
// without --quarter-turns: within +-5 deg the print matched itself one repeat away nearly as well
// (ambiguous, the fabric box disagreeing), so the search at every rotation is made and wins.
TEST(Periodic, AHalfTurnIsFoundWithoutQuarterTurns) {
  ScratchDir d("periodic_half_turn");
  for (const char* seed : {"211", "5"}) {
    const std::string name = std::string("h") + seed;
    const std::string pair = synth_periodic(d, name, std::stoi(seed), "--quarter-turns --max-rotation 8");
    expect_accurate(d, pair, "");
    // The initial placement is the half turn (its matrix about -1 on the diagonal), not a repeat.
    const auto j = nlohmann::json::parse(read_file(d.file(name + ".json")));
    EXPECT_LT(j["initial"]["matrix"][0].get<double>(), -0.9) << j["initial"].dump();
    EXPECT_LT(j["initial"]["matrix"][3].get<double>(), -0.9) << j["initial"].dump();
  }
}

TEST(Periodic, PlainElastixLandsOnAWrongRepeat) {
  ScratchDir d("periodic_none");
  const std::string pair = synth_periodic(d, "p", 1);
  const std::string out = d.file("none.json");
  auto r = cli("register --init none --preset affine --design " + quote(pair + "/design.tif") + " --scan " +
               quote(pair + "/scan.tif") + " --out " + quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto e = eval(out, pair + "/truth.json");
  EXPECT_GT(e["mean"].get<double>(), 20.0) << "plain elastix was not fooled: the test pair is too easy " << e.dump();
}

TEST(Periodic, AnotherDesignOrTheBareTableIsRefused) {
  ScratchDir d("periodic_refused");
  const std::string a = synth_periodic(d, "a", 1), b = synth_periodic(d, "b", 5);
  // The bare table: a corner of the scan (table only), enlarged to a full scan.
  auto t = run_command("gdal_translate -q -srcwin 0 0 90 90 -outsize 2200 1800 " + quote(a + "/scan.tif") + " " +
                       quote(d.file("table.tif")));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  for (const std::string& scan : {b + "/scan.tif", d.file("table.tif")}) {
    const std::string out = d.file("refused.json");
    auto r = cli("register --design " + quote(a + "/design.tif") + " --scan " + quote(scan) + " --out " + quote(out));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(scan), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("not found in the scan"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out));
  }
}

// A pure grating (no one-off element, no fabric edge): every repeat fits equally well.
std::string write_grating(const ScratchDir& d, const std::string& name, int w, int h, double phase) {
  const std::string asc = d.file(name + ".asc"), tif = d.file(name + ".tif");
  std::ofstream out(asc);
  out << "ncols " << w << "\nnrows " << h << "\nxllcorner 0\nyllcorner 0\ncellsize 1\n";
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x)
      out << static_cast<int>(128 + 60 * std::cos(2 * M_PI * (x + phase) / 40) * std::cos(2 * M_PI * (y + phase) / 40))
          << (x + 1 < w ? " " : "\n");
  }
  out.close();
  auto r =
      run_command("gdal_translate -q -ot Byte -b 1 -b 1 -b 1 -co PHOTOMETRIC=RGB " + quote(asc) + " " + quote(tif));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return tif;
}

TEST(Periodic, AmbiguousPlacementIsRefusedUnlessAccepted) {
  ScratchDir d("periodic_ambiguous");
  const std::string design = write_grating(d, "design", 400, 300, 0), scan = write_grating(d, "scan", 480, 360, 13);
  const std::string out = d.file("t.json");
  const std::string args =
      "register --preset rigid --design " + quote(design) + " --scan " + quote(scan) + " --out " + quote(out);
  auto r = cli(args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(scan), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ambiguous placement"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--accept-ambiguous"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
  // Accepted: the job runs and the file says the placement was a guess.
  r = cli(args + " --accept-ambiguous");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_TRUE(j["initial"]["ambiguous"].get<bool>()) << j["initial"].dump();
  EXPECT_LT(j["initial"]["confidence"].get<double>(), 0.05);
}

}  // namespace
