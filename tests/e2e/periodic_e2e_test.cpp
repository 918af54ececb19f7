// Repeating prints on a larger scan canvas (synth --kind periodic): the coarse stage must land
// elastix on the right repeat; plain elastix (--init none) must not (so the case is really hard);
// a scan of another design or of the bare table is refused with exit 2 and no output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.hpp"

using namespace alinify::test;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }
CommandResult cli(const std::string& args) { return run_command(q(alinify_bin()) + " " + args); }

// 2000x1600 design, scan ~12% larger on each axis plus the rotation's bounding box.
std::string synth_periodic(const ScratchDir& d, const std::string& name, int seed, const std::string& extra = "") {
  const std::string dir = d.file(name);
  auto r = cli("synth --kind periodic --out-dir " + q(dir) + " --width 2000 --height 1600 --seed " +
               std::to_string(seed) + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir;
}

nlohmann::json eval(const std::string& transform, const std::string& truth) {
  auto r = cli("eval --transform " + q(transform) + " --truth " + q(truth));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto brace = r.output.find('{');
  EXPECT_NE(brace, std::string::npos) << r.output;
  return nlohmann::json::parse(r.output.substr(brace));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect_accurate(const ScratchDir& d, const std::string& pair, const std::string& extra) {
  const std::string out = d.file(fs::path(pair).filename().string() + ".json");
  auto r = cli("register --design " + q(pair + "/design.tif") + " --scan " + q(pair + "/scan.tif") + " --out " + q(out) +
               " " + extra);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("coarse alignment"), std::string::npos) << r.output;
  auto e = eval(out, pair + "/truth.json");
  EXPECT_LE(e["mean"].get<double>(), 0.3) << pair << " " << e.dump();
  EXPECT_LE(e["p95"].get<double>(), 0.6) << pair << " " << e.dump();
  // transform.json records the initial placement; elastix was given it (-t0).
  auto j = nlohmann::json::parse(read_all(out));
  ASSERT_TRUE(j.contains("initial")) << j.dump();
  EXPECT_EQ(j["initial"]["method"], "search");
  EXPECT_GT(j["initial"]["confidence"].get<double>(), 0.05);
  const std::string log = read_all(out.substr(0, out.size() - 5) + ".elastix/elastix.log");
  EXPECT_NE(log.find("initial_transform.txt"), std::string::npos);
}

TEST(Periodic, CoarseStageLandsOnTheRightRepeat) {
  ScratchDir d("periodic_accuracy");
  for (int seed : {1, 2}) expect_accurate(d, synth_periodic(d, "p" + std::to_string(seed), seed), "");
}

TEST(Periodic, QuarterTurnIsFound) {
  ScratchDir d("periodic_quarter");
  expect_accurate(d, synth_periodic(d, "q", 4, "--quarter-turns"), "--quarter-turns");
}

TEST(Periodic, PlainElastixLandsOnAWrongRepeat) {
  ScratchDir d("periodic_none");
  const std::string pair = synth_periodic(d, "p", 1);
  const std::string out = d.file("none.json");
  auto r = cli("register --init none --preset affine --design " + q(pair + "/design.tif") + " --scan " +
               q(pair + "/scan.tif") + " --out " + q(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto e = eval(out, pair + "/truth.json");
  EXPECT_GT(e["mean"].get<double>(), 20.0) << "plain elastix was not fooled: the test pair is too easy " << e.dump();
}

TEST(Periodic, AnotherDesignOrTheBareTableIsRefused) {
  ScratchDir d("periodic_refused");
  const std::string a = synth_periodic(d, "a", 1), b = synth_periodic(d, "b", 5);
  // The bare table: a corner of the scan (table only), enlarged to a full scan.
  auto t = run_command("gdal_translate -q -srcwin 0 0 90 90 -outsize 2200 1800 " + q(a + "/scan.tif") + " " +
                       q(d.file("table.tif")));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  for (const std::string& scan : {b + "/scan.tif", d.file("table.tif")}) {
    const std::string out = d.file("refused.json");
    auto r = cli("register --design " + q(a + "/design.tif") + " --scan " + q(scan) + " --out " + q(out));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(scan), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("not found in the scan"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out));
  }
}

}  // namespace
