// The QA outputs of real runs: metrics.json (schema and values), the pictures, the suspect flag on
// deliberately wrong transforms, overviews and COG, and the report in a headless browser.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alinify/job/qa_report.hpp"
#include "alinify/qa/image.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify::test;
namespace fs = std::filesystem;
namespace qa = alinify::qa;

namespace {

nlohmann::json load(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

CommandResult warp(const ScratchDir& d, const std::string& transform, const std::string& out,
                   const std::string& extra = "") {
  return cli("warp --design " + quote(d.file("pair/design.tif")) + " --scan " + quote(d.file("pair/scan.tif")) +
             " --transform " + quote(transform) + " --out " + quote(out) + " " + extra);
}

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    auto r = run_command(std::string("command -v ") + name);
    if (r.exit_code == 0 && !r.output.empty()) return r.output.substr(0, r.output.find('\n'));
  }
  return "";
}

}  // namespace

TEST(Qa, RunWritesMetricsWhereSimilarityRisesAfterAlignment) {
  ScratchDir d("qa-run");
  synth_pair(d, 800, 600, 5);
  const std::string out = d.file("aligned.tif");
  auto r = run_command(mpirun(2) + quote(alinify_bin()) + " run --design " + quote(d.file("pair/design.tif")) +
                       " --scan " + quote(d.file("pair/scan.tif")) + " --out " + quote(out) +
                       " --preset affine --refine none --mem-budget 1GiB" + " --progress log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // (--refine none: the transform stays affine, whose deformation statistics are checked below;
  // the refinement would add a B-spline stage to follow what the affine leaves.)
  // One aggregated progress summary on rank 0 covering every strip.
  EXPECT_NE(r.output.find("[r0/2] [info] warp progress: 3/3 strips from 2 ranks"), std::string::npos) << r.output;

  const auto paths = alinify::qa::qa_paths_for(out);
  EXPECT_EQ(paths.metrics, d.file("aligned.metrics.json"));
  const nlohmann::json m = load(paths.metrics);
  EXPECT_EQ(m["format"], "alinify-metrics");
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["job"]["command"], "run");
  EXPECT_EQ(m["job"]["ranks"], 2);
  // Similarity at full resolution rises after alignment, and the job is not flagged.
  const auto& s = m["similarity"];
  EXPECT_GE(s["tiles_sampled"].get<int>(), 20);
  EXPECT_GT(s["after"]["tiles"].get<int>(), 0);
  EXPECT_GT(s["after"]["ncc"].get<double>(), s["before"]["ncc"].get<double>() + 0.3) << s.dump();
  EXPECT_GT(s["after"]["ncc"].get<double>(), 0.8) << s.dump();
  EXPECT_GT(s["after"]["mi"].get<double>(), s["before"]["mi"].get<double>()) << s.dump();
  EXPECT_FALSE(m["verdict"]["suspect"].get<bool>()) << m["verdict"].dump();
  EXPECT_TRUE(m["verdict"]["reasons"].empty());
  // Deformation: an affine preset never folds and has no local part.
  EXPECT_GT(m["deformation"]["jacobian_min"].get<double>(), 0.5);
  EXPECT_LT(m["deformation"]["max_local"].get<double>(), 1e-6);
  EXPECT_GT(m["deformation"]["max_displacement"].get<double>(), 1.0);
  // The planner's decision and its inputs, elastix per resolution, every rank's times and RSS.
  EXPECT_GE(m["registration"]["plan"]["factor"].get<int>(), 1);
  EXPECT_GT(m["registration"]["plan"]["budget_bytes"].get<uint64_t>(), 0u);
  EXPECT_FALSE(m["registration"]["plan"]["reason"].get<std::string>().empty());
  ASSERT_FALSE(m["registration"]["elastix"]["resolutions"].empty());
  for (const auto& res : m["registration"]["elastix"]["resolutions"]) {
    EXPECT_GT(res["iterations"].get<int>(), 0);
    EXPECT_TRUE(res["final_metric"].is_number());
  }
  EXPECT_GT(m["registration"]["stage_seconds"]["elastix"].get<double>(), 0);
  ASSERT_EQ(m["ranks"].size(), 2u);
  for (const auto& rk : m["ranks"]) EXPECT_GT(rk["peak_rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(m["warp"]["plan"]["strips"], 3);
  EXPECT_TRUE(m["warp"]["overviews"].get<bool>());

  // Pictures decode, at the preview size (longer side 768 for an 800x600 design).
  for (const char* name : {"checkerboard", "difference_before", "difference_after", "warped_grid"}) {
    const qa::RgbImage img = qa::read_png(paths.pictures + "/" + name + ".png");
    EXPECT_EQ(img.width, 768) << name;
    EXPECT_EQ(img.height, name == std::string("warped_grid") ? 576 : 576) << name;
  }
  const qa::RgbImage def = qa::read_png(paths.pictures + "/deformation.png");
  EXPECT_EQ(def.height, 576);
  EXPECT_EQ(def.width, 768 + 32);  // map + gap + colour bar
  EXPECT_LE(std::max(qa::read_png(paths.pictures + "/thumbnail.png").width, 1), 160);
  EXPECT_TRUE(fs::exists(paths.report));

  // Viewers: internal overviews by default.
  auto info = run_command("gdalinfo " + quote(out));
  EXPECT_NE(info.output.find("Overviews: 400x300, 200x150"), std::string::npos) << info.output;
}

TEST(Qa, DeliberatelyWrongTransformsAreFlaggedSuspect) {
  ScratchDir d("qa-wrong");
  synth_pair(d, 600, 450, 6);
  // 23 px off: the similarity after "alignment" stays low.
  write_affine(d.file("shifted.json"), 600, 450, "[1,0,0,1]", "[23,17]");
  auto r = warp(d, d.file("shifted.json"), d.file("shifted.tif"), "--no-overviews");
  ASSERT_EQ(r.exit_code, 0) << r.output;  // suspect is a verdict, not a failure
  EXPECT_NE(r.output.find("SUSPECT"), std::string::npos) << r.output;
  nlohmann::json m = load(d.file("shifted.metrics.json"));
  EXPECT_TRUE(m["verdict"]["suspect"].get<bool>());
  EXPECT_NE(m["verdict"]["reasons"][0].get<std::string>().find("NCC"), std::string::npos) << m["verdict"].dump();
  EXPECT_LT(m["similarity"]["after"]["ncc"].get<double>(), 0.6);
  EXPECT_FALSE(m["deformation"]["folds"].get<bool>());
  EXPECT_EQ(run_command("gdalinfo " + quote(d.file("shifted.tif"))).output.find("Overviews"), std::string::npos);

  // A mirror folds the fabric over itself: flagged whatever the similarity says.
  write_affine(d.file("mirror.json"), 600, 450, "[-1,0,0,1]", "[599,0]");
  r = warp(d, d.file("mirror.json"), d.file("mirror.tif"), "--cog --compress deflate");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  m = load(d.file("mirror.metrics.json"));
  EXPECT_TRUE(m["verdict"]["suspect"].get<bool>());
  EXPECT_TRUE(m["deformation"]["folds"].get<bool>());
  EXPECT_LT(m["deformation"]["jacobian_min"].get<double>(), 0);
  // --cog: a Cloud Optimized GeoTIFF that gdalinfo reads as one.
  auto info = run_command("gdalinfo " + quote(d.file("mirror.tif")));
  EXPECT_NE(info.output.find("LAYOUT=COG"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("COMPRESSION=DEFLATE"), std::string::npos) << info.output;

  // --progress line: one line redrawn in place (carriage return, clear to end of line), ending at 100%.
  r = warp(d, d.file("shifted.json"), d.file("line.tif"), "--no-qa --progress line --tile 64 --mem-budget 64MiB");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\r\033[Kwarp: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("strips (100%)"), std::string::npos) << r.output;

  // --no-qa writes none of it; bad QA options get one error line.
  r = warp(d, d.file("shifted.json"), d.file("plain.tif"), "--no-qa");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(d.file("plain.metrics.json")));
  EXPECT_FALSE(fs::exists(d.file("plain.qa")));
  r = warp(d, d.file("shifted.json"), d.file("x.tif"), "--suspect-ncc 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--suspect-ncc"), std::string::npos) << r.output;
  r = warp(d, d.file("shifted.json"), d.file("x.tif"), "--progress bar");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--progress"), std::string::npos) << r.output;
}

TEST(QaBrowser, ReportOpensInHeadlessChromiumShowingEveryPictureWithoutConsoleErrors) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (./dev test installs Debian's chromium)";
  ScratchDir d("qa-browser");
  synth_pair(d, 500, 400, 8);
  write_affine(d.file("id.json"), 500, 400, "[1,0,0,1]", "[0,0]");
  auto r = warp(d, d.file("id.json"), d.file("out.tif"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string url = "file://" + fs::absolute(d.file("out.report.html")).string();
  const std::string common = quote(chromium) + " --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 ";
  // The DOM after load: the report's own check counts the pictures that decoded.
  auto dom = run_command(common + "--dump-dom " + quote(url) + " 2>/dev/null");
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  EXPECT_NE(dom.output.find("data-pictures-ok=\"5\""), std::string::npos) << dom.output.substr(0, 2000);
  // A screenshot, with the browser's log: console messages appear as CONSOLE lines.
  auto shot = run_command(common + "--enable-logging=stderr --v=0 --window-size=1280,2400 --screenshot=" +
                          quote(d.file("report.png")) + " " + quote(url) + " 2>&1");
  ASSERT_EQ(shot.exit_code, 0) << shot.output;
  EXPECT_EQ(shot.output.find("CONSOLE"), std::string::npos) << shot.output;
  EXPECT_EQ(shot.output.find("Uncaught"), std::string::npos) << shot.output;
  const qa::RgbImage png = qa::read_png(d.file("report.png"));
  EXPECT_EQ(png.width, 1280);
  EXPECT_EQ(png.height, 2400);
  const std::string keep = env_or("ALINIFY_QA_SCREENSHOT", "");
  if (!keep.empty()) fs::copy_file(d.file("report.png"), keep, fs::copy_options::overwrite_existing);
}
