// The refinement stage end to end (`run --refine auto`): on a pair whose deformation is finer than
// what the registration follows (synth --fine-waves), the refined transform is closer to the truth
// than `--refine none`'s, and metrics.json and transform.json carry the refinement.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify::test;

namespace {

nlohmann::json eval_of(const ScratchDir& d, const std::string& transform) {
  auto e = cli("eval --transform " + quote(transform) + " --truth " + quote(d.file("pair/truth.json")));
  EXPECT_EQ(e.exit_code, 0) << e.output;
  return nlohmann::json::parse(e.output.substr(e.output.find('{')));
}

CommandResult run_with(const ScratchDir& d, const std::string& name, const std::string& refine, int ranks,
                       const std::string& preset = "affine") {
  return run_command(mpirun(ranks) + quote(alinify_bin()) + " run --design " + quote(d.file("pair/design.tif")) +
                     " --scan " + quote(d.file("pair/scan.tif")) + " --out " + quote(d.file(name + ".tif")) +
                     " --preset " + preset + " --refine " + refine);
}

}  // namespace

TEST(Refine, LowersTheErrorOfAFineWavePair) {
  ScratchDir d("e2e-refine");
  auto s = cli("synth --out-dir " + quote(d.file("pair")) + " --width 1200 --height 900 --seed 7 --fine-waves 3");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  auto none = run_with(d, "none", "none", 1);
  ASSERT_EQ(none.exit_code, 0) << none.output;
  auto refined = run_with(d, "auto", "auto", 2);
  ASSERT_EQ(refined.exit_code, 0) << refined.output;
  EXPECT_NE(refined.output.find("refinement: "), std::string::npos) << refined.output;

  const nlohmann::json e_none = eval_of(d, d.file("none.transform.json"));
  const nlohmann::json e_auto = eval_of(d, d.file("auto.transform.json"));
  std::cout << "--refine none: " << e_none.dump() << "\n--refine auto: " << e_auto.dump() << "\n";
  EXPECT_LT(e_auto["mean"].get<double>(), e_none["mean"].get<double>());
  EXPECT_LT(e_auto["p95"].get<double>(), e_none["p95"].get<double>());

  const auto metrics = nlohmann::json::parse(read_file(d.file("auto.metrics.json")));
  ASSERT_TRUE(metrics.contains("refinement")) << metrics.dump();
  const auto& r = metrics["refinement"];
  EXPECT_GE(r["rounds"].get<int>(), 1);
  EXPECT_GT(r["per_round"][0]["blocks_used"].get<int>(), 0);
  // synth's scan frame cuts the design's border (the fabric is turned and shifted in it): the
  // outermost blocks are measured moved inward instead of not at all (docs/registration.md).
  EXPECT_GT(r["per_round"][0]["blocks_moved_inward"].get<int>(), 0);
  // The first round's bending weight was chosen by cross-validation, and a correction won.
  const auto& cv = r["per_round"][0]["cross_validation"];
  EXPECT_TRUE(cv["chosen"].is_number()) << cv.dump();
  EXPECT_GT(cv["held_out"].get<int>(), 0);
  // A later round is never stiffer than the first (twicing, docs/registration.md); where its
  // cross-validation chose a stiffer weight, metrics.json keeps that choice beside the one used.
  for (size_t k = 1; k < r["per_round"].size(); ++k) {
    const auto& later = r["per_round"][k]["cross_validation"];
    if (!later.contains("chosen") || !later["chosen"].is_number()) continue;
    EXPECT_LE(later["chosen"].get<double>(), cv["chosen"].get<double>()) << later.dump();
    if (later.contains("chosen_before_cap")) {
      EXPECT_GT(later["chosen_before_cap"].get<double>(), later["chosen"].get<double>()) << later.dump();
    }
  }
  EXPECT_LT(r["residual_after"]["median_px"].get<double>(), r["residual_before"]["median_px"].get<double>());
  // The correction is the last stage of transform.json, added to the chain as elastix adds.
  const auto stages = nlohmann::json::parse(read_file(d.file("auto.transform.json")))["stages"];
  const auto stages_none = nlohmann::json::parse(read_file(d.file("none.transform.json")))["stages"];
  ASSERT_EQ(stages.size(), stages_none.size() + 1);
  EXPECT_EQ(stages.back()["type"], "bspline");
  EXPECT_EQ(stages.back()["combine"], "add");
  EXPECT_FALSE(nlohmann::json::parse(read_file(d.file("none.metrics.json"))).contains("refinement"));
  // The report shows the residual per block before and after; --refine none has no such maps.
  const auto files = metrics["pictures"]["files"];
  for (const char* f : {"residual_before.png", "residual_after.png"}) {
    EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << files.dump();
    EXPECT_TRUE(std::filesystem::exists(d.file(std::string("auto.qa/") + f))) << f;
    EXPECT_FALSE(std::filesystem::exists(d.file(std::string("none.qa/") + f))) << f;
  }
  const std::string report = read_file(d.file("auto.report.html"));
  EXPECT_NE(report.find("residual after refinement"), std::string::npos);
  // The caption gives the grid the refinement used (metrics.json's block_size and block_step).
  EXPECT_NE(report.find("one cell per " + std::to_string(r["block_size"].get<int>()) + " px block (every " +
                        std::to_string(r["block_step"].get<int>()) + " px)"),
            std::string::npos);
}

// Where elastix already aligns the pair well (no fine waves, the bspline preset), what is left is
// mostly the blocks' noise: a correction fitted to it made such pairs worse before the bending
// weight was cross-validated (3000x2250: eval mean 0.062 -> 0.073 px). Now the refinement may
// correct or not, but it must not make the pair worse.
TEST(Refine, AutoDoesNotMakeAWellAlignedPairWorse) {
  ScratchDir d("e2e-refine-plain");
  auto s = cli("synth --out-dir " + quote(d.file("pair")) + " --width 1200 --height 900 --seed 7");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  auto none = run_with(d, "none", "none", 1, "bspline");
  ASSERT_EQ(none.exit_code, 0) << none.output;
  auto refined = run_with(d, "auto", "auto", 2, "bspline");
  ASSERT_EQ(refined.exit_code, 0) << refined.output;
  const nlohmann::json e_none = eval_of(d, d.file("none.transform.json"));
  const nlohmann::json e_auto = eval_of(d, d.file("auto.transform.json"));
  std::cout << "--refine none: " << e_none.dump() << "\n--refine auto: " << e_auto.dump() << "\n";
  // 2 % and 0.005 px of slack: a kept transform evaluates the same, a correction must earn its place.
  EXPECT_LE(e_auto["mean"].get<double>(), e_none["mean"].get<double>() * 1.02 + 0.005);
  EXPECT_LE(e_auto["p95"].get<double>(), e_none["p95"].get<double>() * 1.02 + 0.005);
  const auto r = nlohmann::json::parse(read_file(d.file("auto.metrics.json")))["refinement"];
  EXPECT_TRUE(r.contains("check_cross_validation")) << r.dump();
}

// With nothing left to correct (the design registered to itself: every block measures zero), no
// correction predicts the held-out blocks better than none: `auto` keeps the elastix transform,
// says so, and the aligned image is the bytes of `--refine none`'s given the same elastix files
// (`auto` lightens the bspline preset, `none` does not: the second run is handed the first one's
// files with --params, which are used unchanged).
TEST(Refine, AutoKeepsTheElastixTransformWhenNothingIsLeftToCorrect) {
  ScratchDir d("e2e-refine-keep");
  auto s = cli("synth --out-dir " + quote(d.file("pair")) + " --width 1200 --height 900 --seed 7");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  const auto self = [&](const std::string& name, const std::string& refine, int ranks, const std::string& elastix) {
    return run_command(mpirun(ranks) + quote(alinify_bin()) + " run --design " + quote(d.file("pair/design.tif")) +
                       " --scan " + quote(d.file("pair/design.tif")) + " --out " + quote(d.file(name + ".tif")) +
                       " --refine " + refine + " " + elastix);
  };
  auto kept = self("auto", "auto", 2, "--preset bspline");
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  const std::string files = quote(d.file("auto.transform.elastix/preset.0.affine.txt")) + " " +
                            quote(d.file("auto.transform.elastix/preset.1.bspline.txt"));
  auto none = self("none", "none", 1, "--params " + files);
  ASSERT_EQ(none.exit_code, 0) << none.output;
  EXPECT_NE(kept.output.find("the elastix transform is kept"), std::string::npos) << kept.output;
  const auto r = nlohmann::json::parse(read_file(d.file("auto.metrics.json")))["refinement"];
  EXPECT_TRUE(r.contains("kept")) << r.dump();
  EXPECT_EQ(r["rounds"].get<int>(), 0);
  EXPECT_GT(r["residual_before"]["blocks"].get<int>(), 50);
  EXPECT_EQ(r["check_cross_validation"]["chosen"], "no correction") << r.dump();
  const auto stages = nlohmann::json::parse(read_file(d.file("auto.transform.json")))["stages"];
  EXPECT_EQ(stages, nlohmann::json::parse(read_file(d.file("none.transform.json")))["stages"]);
  EXPECT_TRUE(read_file(d.file("auto.tif")) == read_file(d.file("none.tif"))) << "the aligned images differ";
}

// transformix, given the last file of the full-resolution elastix chain (the correction appended),
// maps points where map-points maps them through transform.json.
TEST(Refine, TransformixReproducesTheRefinedTransform) {
  if (run_command("command -v transformix").exit_code != 0) GTEST_SKIP() << "transformix is not on PATH";
  ScratchDir d("e2e-refine-tx");
  auto s = cli("synth --out-dir " + quote(d.file("pair")) + " --width 800 --height 600 --seed 7 --fine-waves 3");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  auto r = run_with(d, "auto", "auto", 1);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto metrics = nlohmann::json::parse(read_file(d.file("auto.metrics.json")));
  const std::string chain = metrics["refinement"]["elastix_chain"].get<std::string>();
  write_file(d.file("pts.txt"), "point\n3\n10 20\n400.5 300.25\n790 590\n");
  write_file(d.file("pts.csv"), "x,y\n10,20\n400.5,300.25\n790,590\n");
  auto tx =
      run_command("transformix -def " + quote(d.file("pts.txt")) + " -tp " + quote(chain) + " -out " + quote(d.path()));
  ASSERT_EQ(tx.exit_code, 0) << tx.output;
  auto mp = cli("map-points --transform " + quote(d.file("auto.transform.json")) + " --in " + quote(d.file("pts.csv")) +
                " --out " + quote(d.file("mapped.csv")));
  ASSERT_EQ(mp.exit_code, 0) << mp.output;
  std::istringstream mapped(read_file(d.file("mapped.csv"))), out(read_file(d.file("outputpoints.txt")));
  std::string line;
  std::getline(mapped, line);  // header
  int compared = 0;
  for (std::string tline; std::getline(out, tline);) {
    const size_t at = tline.find("OutputPoint = [");
    ASSERT_NE(at, std::string::npos) << tline;
    double tx_x = 0, tx_y = 0, x = 0, y = 0, sx = 0, sy = 0;
    std::istringstream(tline.substr(at + 15)) >> tx_x >> tx_y;
    ASSERT_TRUE(std::getline(mapped, line));
    ASSERT_EQ(std::sscanf(line.c_str(), "%lf,%lf,%lf,%lf", &x, &y, &sx, &sy), 4) << line;
    EXPECT_NEAR(tx_x, sx, 1e-3) << line;
    EXPECT_NEAR(tx_y, sy, 1e-3) << line;
    ++compared;
  }
  EXPECT_EQ(compared, 3);
}

TEST(Refine, UnknownModeIsAUsageError) {
  ScratchDir d("e2e-refine-usage");
  auto r = cli("run --design a.tif --scan b.tif --out " + quote(d.file("o.tif")) + " --refine sometimes");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--refine"), std::string::npos) << r.output;
}
