// `alinify inspect` (docs/defects.md): the defect stage on an image already aligned, at two ranks;
// the same list as `warp --defects` made, and bad input refused with one line and no output.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "alinify/core/files.hpp"
#include "alinify/defects/report.hpp"
#include "alinify/synth/truth.hpp"
#include "alinify/transform/transform_json.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/test_transforms.hpp"

using namespace alinify::test;
namespace fs = std::filesystem;

namespace {

// The same defects in two lists made with slightly different colour models (fitted on the samples of
// a slightly different area): the same number, kinds and boxes (to a pixel), areas to 1 % and
// centroids to a pixel. Not byte for byte: a boundary pixel whose Delta E lies within the model's
// difference of the threshold may fall on either side, and one pixel more or less in a streak's
// 2 px cross-sections moves its centroid by up to about a pixel (a 7 x 117 px streak: 445 px at
// cy 237.13 with one model, 444 px at 236.37 with the other, their contrasts a little apart).
void expect_same_defects(const std::vector<alinify::defects::Defect>& a,
                         const std::vector<alinify::defects::Defect>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("defect " + std::to_string(i + 1));
    EXPECT_EQ(a[i].kind, b[i].kind);
    EXPECT_NEAR(a[i].x0, b[i].x0, 1);
    EXPECT_NEAR(a[i].y0, b[i].y0, 1);
    EXPECT_NEAR(a[i].x1, b[i].x1, 1);
    EXPECT_NEAR(a[i].y1, b[i].y1, 1);
    EXPECT_NEAR(static_cast<double>(a[i].area), static_cast<double>(b[i].area), 0.01 * static_cast<double>(b[i].area));
    EXPECT_NEAR(a[i].cx, b[i].cx, 1.0);
    EXPECT_NEAR(a[i].cy, b[i].cy, 1.0);
  }
}

}  // namespace

TEST(Inspect, SameDefectsAsTheWarpFoundOnTheAlignedImage) {
  ScratchDir d("inspect-e2e");
  auto s = cli("synth --out-dir " + quote(d.file("pair")) + " --width 700 --height 520 --seed 11 --defects 8");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  // The transform from the truth: no registration needed to make an aligned image.
  const alinify::synth::Truth truth = alinify::synth::Truth::load(d.file("pair/truth.json"));
  alinify::transform::TransformFile t;
  t.transform = inverse_affine_of(truth);
  t.design = truth.design;
  t.scan = truth.scan;
  t.preset = "test";
  alinify::files::write_atomically(d.file("T.json"), alinify::transform::to_json_text(t));
  const std::string pair = " --design " + quote(d.file("pair/design.tif"));
  auto w = cli("warp" + pair + " --scan " + quote(d.file("pair/scan.tif")) + " --transform " + quote(d.file("T.json")) +
               " --out " + quote(d.file("O.tif")) + " --defects --no-qa --progress off");
  ASSERT_EQ(w.exit_code, 0) << w.output;
  const std::string warp_csv = read_file(d.file("O.defects.csv"));
  ASSERT_GT(alinify::defects::read_csv(d.file("O.defects.csv")).size(), 0u) << warp_csv;

  // With the transform: the same covered area and scan centroids, so the same list byte for byte.
  auto a = run_command(mpirun(2) + quote(alinify_bin()) + " inspect" + pair + " --aligned " + quote(d.file("O.tif")) +
                       " --out " + quote(d.file("with")) + " --transform " + quote(d.file("T.json")) + " --defect-map");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(read_file(d.file("with.defects.csv")), warp_csv);
  EXPECT_TRUE(fs::exists(d.file("with.defects.geojson")));
  EXPECT_TRUE(fs::exists(d.file("with.defects.tif")));

  // Without: the area the scan did not cover is known by the warp's fill (0), and the centroids stay
  // in design pixels. The same defects (expect_same_defects: the colour model is fitted on the
  // samples of a slightly different area).
  auto b = run_command(mpirun(2) + quote(alinify_bin()) + " inspect" + pair + " --aligned " + quote(d.file("O.tif")) +
                       " --out " + quote(d.file("without")));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  expect_same_defects(alinify::defects::read_csv(d.file("without.defects.csv")),
                      alinify::defects::read_csv(d.file("O.defects.csv")));
  for (const alinify::defects::Defect& f : alinify::defects::read_csv(d.file("without.defects.csv"))) {
    EXPECT_EQ(f.scan_cx, f.cx);
    EXPECT_EQ(f.scan_cy, f.cy);
  }
  EXPECT_FALSE(fs::exists(d.file("without.defects.tif")));  // only with --defect-map
}

TEST(Inspect, BadInputIsOneLineNamingTheFileAndNoOutput) {
  ScratchDir d("inspect-bad");
  synth_pair(d, 200, 150);
  auto small = cli("synth --out-dir " + quote(d.file("small")) + " --width 120 --height 90");
  ASSERT_EQ(small.exit_code, 0) << small.output;
  const std::string design = " --design " + quote(d.file("pair/design.tif"));
  struct Case {
    std::string args, names;
  };
  const std::vector<Case> cases{
      {" --aligned " + quote(d.file("missing.tif")), "missing.tif"},
      {" --aligned " + quote(d.file("small/scan.tif")), "small/scan.tif"},  // not on the design's grid
      {" --aligned " + quote(d.file("pair/scan.tif")) + " --transform " + quote(d.file("none.json")), "none.json"},
  };
  for (const Case& c : cases) {
    auto r = run_command(mpirun(2) + quote(alinify_bin()) + " inspect" + design + c.args + " --out " +
                         quote(d.file("P")) + " --log-level error");
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.names), std::string::npos) << r.output;
    size_t error_lines = 0;
    for (size_t at = r.output.find("[error]"); at != std::string::npos; at = r.output.find("[error]", at + 1))
      ++error_lines;
    EXPECT_EQ(error_lines, 1u) << r.output;
    for (const char* ext : {".defects.csv", ".defects.geojson", ".defects.tif"})
      EXPECT_FALSE(fs::exists(d.file(std::string("P") + ext))) << c.args;
  }
  auto u = cli("inspect" + design + " --aligned x.tif --out " + quote(d.file("P")) + " --defect-low 50");
  EXPECT_EQ(u.exit_code, 1) << u.output;
  EXPECT_NE(u.output.find("--defect-low"), std::string::npos) << u.output;
}
