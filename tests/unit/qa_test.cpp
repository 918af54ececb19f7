// The QA layer's pure parts: similarity measures, tile sampling, deformation statistics, the
// verdict, elastix log parsing, PNG round trip, the batch index page and summary fields.
#include <cpl_string.h>
#include <fcntl.h>
#include <gdal.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "alinify/batch/summary.hpp"
#include "alinify/core/error.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/job/qa_report.hpp"
#include "alinify/qa/deformation.hpp"
#include "alinify/qa/image.hpp"
#include "alinify/qa/pictures.hpp"
#include "alinify/qa/report_html.hpp"
#include "alinify/qa/similarity.hpp"
#include "alinify/qa/verdict.hpp"
#include "alinify/reg/bspline_fit.hpp"
#include "alinify/reg/elastix_log.hpp"
#include "support/files.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;
using alinify::test::read_file;
using alinify::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

using alinify::test::affine;

std::vector<float> noise(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0, 255);
  std::vector<float> v(n);
  for (float& x : v) x = u(g);
  return v;
}

// A tiled RGB GeoTIFF of random bytes (seeded).
void write_random_rgb(const std::string& path, int w, int h, unsigned seed) {
  io::init_gdal();
  char** o = CSLSetNameValue(nullptr, "TILED", "YES");
  GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), w, h, 3, GDT_Byte, o);
  CSLDestroy(o);
  std::mt19937 g(seed);
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  for (uint8_t& v : px) v = static_cast<uint8_t>(g() & 0xff);
  EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, px.data(), w, h, GDT_Byte, 3, nullptr, 3, 3 * w, 1), CE_None);
  GDALClose(ds);
}

}  // namespace

TEST(QaSimilarity, NccIsOneForAGainChangeMinusOneForANegativeAndNanForFlat) {
  const auto a = noise(4096, 1);
  std::vector<float> b(a.size()), neg(a.size()), flat(a.size(), 7.0f);
  for (size_t i = 0; i < a.size(); ++i) {
    b[i] = 0.5f * a[i] + 20;  // lighting: gain and offset do not matter
    neg[i] = 255 - a[i];
  }
  EXPECT_NEAR(qa::normalized_cross_correlation(a.data(), b.data(), a.size()), 1.0, 1e-9);
  EXPECT_NEAR(qa::normalized_cross_correlation(a.data(), neg.data(), a.size()), -1.0, 1e-9);
  EXPECT_TRUE(std::isnan(qa::normalized_cross_correlation(a.data(), flat.data(), a.size())));
  const auto c = noise(4096, 2);
  EXPECT_LT(std::abs(qa::normalized_cross_correlation(a.data(), c.data(), a.size())), 0.1);
}

TEST(QaSimilarity, MutualInformationIsHighForTheSameImageAndNearZeroForIndependentOnes) {
  const auto a = noise(1 << 16, 3), c = noise(1 << 16, 4);
  qa::JointHistogram same(32), indep(32);
  same.add(a.data(), a.data(), a.size());
  indep.add(a.data(), c.data(), a.size());
  EXPECT_NEAR(same.mutual_information(), 5.0, 0.05);  // log2(32) for uniform grey levels
  EXPECT_LT(indep.mutual_information(), 0.05);
  EXPECT_EQ(same.samples(), a.size());
}

TEST(QaSimilarity, TilesAreSpreadOverTheWholeImageAndInsideIt) {
  const Size img{10000, 5000};
  const auto tiles = qa::sample_tiles(img, 36, 256);
  ASSERT_GE(tiles.size(), 30u);
  int64_t minx = img.width, maxx = 0, miny = img.height, maxy = 0;
  for (const Window& w : tiles) {
    EXPECT_EQ(w.clipped(img), w);
    EXPECT_EQ(w.width, 256);
    minx = std::min(minx, w.x0);
    maxx = std::max(maxx, w.x1());
    miny = std::min(miny, w.y0);
    maxy = std::max(maxy, w.y1());
  }
  EXPECT_LT(minx, img.width / 8);
  EXPECT_GT(maxx, img.width * 7 / 8);
  EXPECT_LT(miny, img.height / 8);
  EXPECT_GT(maxy, img.height * 7 / 8);
  // On a small image the tiles shrink to a third of each side, so that some lie wholly inside a
  // scan a few px off, and they are spread as on a large one.
  const Size little{100, 80};
  const auto small = qa::sample_tiles(little, 4, 256);
  ASSERT_EQ(small.size(), 4u);
  for (const Window& w : small) {
    EXPECT_EQ(w.clipped(little), w);
    EXPECT_EQ(w.width, 33);
    EXPECT_EQ(w.height, 26);
  }
  EXPECT_EQ(small[0], (Window{9, 7, 33, 26}));
  EXPECT_EQ(small[3], (Window{59, 47, 33, 26}));
}

TEST(QaDeformation, RigidMotionHasUnitJacobianAndNoLocalDeformation) {
  const double c = std::cos(0.1), s = std::sin(0.1);
  const auto d = qa::deformation_stats(affine(c, -s, s, c, 30, -12), Size{2000, 1500});
  EXPECT_NEAR(d.jacobian_min, 1.0, 1e-6);
  EXPECT_NEAR(d.jacobian_max, 1.0, 1e-6);
  EXPECT_FALSE(d.folds());
  EXPECT_LT(d.max_local, 1e-9);
  EXPECT_GT(d.max_displacement, 30);
}

// The refinement's correction is a B-spline whose valid region starts at pixel 0 (zero outside):
// a shift of -3 px there is no fold, though a central difference across x = 0 would see one.
TEST(QaDeformation, AStageThatEndsAtTheDesignsEdgeDoesNotFold) {
  const Size design{1000, 800};
  transform::Stage stage;
  stage.kind = transform::StageKind::kBSpline;
  stage.bspline = reg::make_grid(design, 64);
  std::fill(stage.bspline.coef_x.begin(), stage.bspline.coef_x.end(), -3.0);
  transform::Transform t;
  t.stages.push_back(stage);
  EXPECT_LT(qa::jacobian_determinant(t, {0, 400}), 0.0);  // the step at the edge, seen from outside
  const auto d = qa::deformation_stats(t, design);
  EXPECT_FALSE(d.folds()) << d.jacobian_min;
  EXPECT_NEAR(d.jacobian_min, 1.0, 1e-6);
  EXPECT_NEAR(d.jacobian_max, 1.0, 1e-6);
}

TEST(QaDeformation, AMirrorFoldsAndIsSuspect) {
  const auto d = qa::deformation_stats(affine(-1, 0, 0, 1, 999, 0), Size{1000, 800});
  EXPECT_NEAR(d.jacobian_min, -1.0, 1e-9);
  EXPECT_TRUE(d.folds());
  EXPECT_EQ(d.folded_points, d.grid_points);
  qa::SimilarityReport good;
  good.after.ncc = 0.95;
  good.after.tiles = 10;
  const qa::Verdict v = qa::judge(good, d, qa::Thresholds{});
  EXPECT_TRUE(v.suspect);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_NE(v.reasons[0].find("folds"), std::string::npos);
}

TEST(QaVerdict, LowSimilarityIsSuspectAndGoodIsNot) {
  const auto rigid = qa::deformation_stats(affine(1, 0, 0, 1, 3, 4), Size{500, 400});
  qa::SimilarityReport s;
  s.after.tiles = 12;
  s.after.ncc = 0.9;
  EXPECT_FALSE(qa::judge(s, rigid, qa::Thresholds{}).suspect);
  s.after.ncc = 0.2;
  const qa::Verdict low = qa::judge(s, rigid, qa::Thresholds{});
  EXPECT_TRUE(low.suspect);
  EXPECT_NE(low.reasons.at(0).find("NCC"), std::string::npos);
  s.after.tiles = 0;
  EXPECT_TRUE(qa::judge(s, rigid, qa::Thresholds{}).suspect);  // nothing to compare: look at it
}

TEST(QaVerdict, LargeMeasuredResidualIsSuspectEvenWithHighSimilarity) {
  const auto rigid = qa::deformation_stats(affine(1, 0, 0, 1, 3, 4), Size{500, 400});
  qa::SimilarityReport s;
  s.after.tiles = 12;
  s.after.ncc = 0.89;       // what a pair left 2.5 px off scored: NCC alone calls it ok
  const qa::Thresholds th;  // p95 limit 2 px, median limit 0.5 px
  EXPECT_FALSE(qa::judge(s, rigid, th, std::nullopt).suspect);
  EXPECT_FALSE(qa::judge(s, rigid, th, qa::Residual{500, 0.08, 0.27}).suspect);
  const qa::Verdict local = qa::judge(s, rigid, th, qa::Residual{500, 0.3, 2.5});  // p95 beyond
  ASSERT_TRUE(local.suspect);
  EXPECT_NE(local.reasons.at(0).find("residual"), std::string::npos) << local.reasons.at(0);
  EXPECT_TRUE(qa::judge(s, rigid, th, qa::Residual{500, 0.6, 1.5}).suspect);  // median beyond
  EXPECT_FALSE(qa::judge(s, rigid, th, qa::Residual{0, 5.0, 9.0}).suspect);   // no block measured
}

// A cell per block, as the heat maps colour them; grey where the block does not count; the
// bar on the right; values beyond the top take the top colour.
TEST(QaPictures, ResidualMapColoursEachBlockAndGreysTheOnesThatDoNotCount) {
  qa::ResidualGrid g;
  g.cols = 3;
  g.rows = 2;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v = {0.f, 1.f, 2.f, nan, 5.f, 0.5f};
  const qa::RgbImage img = qa::residual_map(g, v, 2.0, 30);  // 10 px cells
  ASSERT_EQ(img.height, 20);
  ASSERT_EQ(img.width, 30 + 8 + 24);
  uint8_t zero[3], top[3], half[3];
  qa::heat_colour(0, zero);
  qa::heat_colour(1, top);
  qa::heat_colour(0.5, half);
  auto same = [](const uint8_t* a, const uint8_t* b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; };
  EXPECT_TRUE(same(img.at(5, 5), zero));
  EXPECT_TRUE(same(img.at(15, 5), half));
  EXPECT_TRUE(same(img.at(25, 5), top));
  EXPECT_TRUE(same(img.at(15, 15), top));  // 5 px: beyond the top
  const uint8_t grey[3] = {128, 128, 128};
  EXPECT_TRUE(same(img.at(5, 15), grey));
  EXPECT_TRUE(same(img.at(9, 19), grey));         // the whole cell
  EXPECT_TRUE(same(img.at(30 + 8 + 5, 0), top));  // the bar: the top colour at the top
}

TEST(QaElastixLog, FinalMetricAndIterationsPerResolution) {
  const std::string log =
      "Running elastix with parameter file 0: \"a.txt\".\nResolution: 0\nstuff\n"
      "1:ItNr\t2:Metric\t3a:Time\n0\t-0.5\t0\n1\t-0.6\t0\n2\t-0.7\t0\n"
      "Time spent in resolution 0 (ITK initialization and iterating): 1.5 s.\n"
      "Stopping condition: Maximum number of iterations has been reached.\n"
      "Resolution: 1\n1:ItNr\t2:Metric\n0\t-0.8\t0\n1\t-0.9\t0\n"
      "Time spent in resolution 1 (ITK initialization and iterating): 2.25 s.\nStopping condition: Converged.\n"
      "Running elastix with parameter file 0: \"a.txt\", has finished.\n"
      "Running elastix with parameter file 1: \"b.txt\".\nResolution: 0\n1:ItNr\t2:Metric\n0\t-1.25\t0\n"
      "Time spent in resolution 0 (ITK initialization and iterating): 0.5 s.\n";
  const auto r = reg::parse_elastix_log_text(log);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].parameter_file, 0);
  EXPECT_EQ(r[0].iterations, 3);
  EXPECT_DOUBLE_EQ(r[0].final_metric, -0.7);
  EXPECT_DOUBLE_EQ(r[0].seconds, 1.5);
  EXPECT_EQ(r[0].stopping_condition, "Maximum number of iterations has been reached.");
  EXPECT_EQ(r[1].resolution, 1);
  EXPECT_DOUBLE_EQ(r[1].final_metric, -0.9);
  EXPECT_EQ(r[1].stopping_condition, "Converged.");
  EXPECT_EQ(r[2].parameter_file, 1);
  EXPECT_EQ(r[2].iterations, 1);
  EXPECT_TRUE(reg::parse_elastix_log("/nonexistent/elastix.log").empty());
}

TEST(QaImage, PngRoundTripKeepsSizeAndPixels) {
  ScratchDir d("qa-png");
  qa::RgbImage img(37, 21);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const uint8_t c[3] = {static_cast<uint8_t>(x * 6), static_cast<uint8_t>(y * 12), 77};
      img.set(x, y, c);
    }
  qa::write_png(img, d.file("a.png"));
  const qa::RgbImage back = qa::read_png(d.file("a.png"));
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 21);
  EXPECT_EQ(back.px, img.px);
  EXPECT_EQ(read_file(d.file("a.png")).substr(1, 3), "PNG");
  EXPECT_EQ(qa::base64("Man"), "TWFu");
  EXPECT_EQ(qa::base64("Ma"), "TWE=");
  EXPECT_EQ(qa::base64("M"), "TQ==");
}

TEST(QaPictures, DeformationMapCarriesAColourBarAndCheckerboardAlternates) {
  const auto pic = qa::deformation_map(affine(1, 0, 0, 1, 5, 5), Size{400, 300}, 200, 150);
  EXPECT_EQ(pic.image.height, 150);
  EXPECT_GT(pic.image.width, 200);  // the bar sits to the right
  EXPECT_EQ(pic.max_value, 0);
  // The bar runs from the top colour to the bottom colour.
  EXPECT_NE(std::vector<uint8_t>(pic.image.at(pic.image.width - 2, 0), pic.image.at(pic.image.width - 2, 0) + 3),
            std::vector<uint8_t>(pic.image.at(pic.image.width - 2, 149), pic.image.at(pic.image.width - 2, 149) + 3));
  qa::RgbImage a(80, 80, 0), b(80, 80, 255);
  const auto cb = qa::checkerboard(a, b, 8);
  EXPECT_EQ(cb.at(0, 0)[0], 0);
  EXPECT_EQ(cb.at(15, 0)[0], 255);
  EXPECT_EQ(cb.at(15, 15)[0], 0);
}

// The scan laid on the design's grid unmoved: a scan of the design's size is its whole preview
// (read once), a larger one is cut to the part the design covers, and both are what an averaged
// read of that part gives.
TEST(QaPictures, TheScanAsItIsIsItsAveragedReadOnTheDesignsGrid) {
  ScratchDir dir("qa_previews");
  write_random_rgb(dir.file("design.tif"), 96, 64, 1);
  write_random_rgb(dir.file("same.tif"), 96, 64, 2);
  write_random_rgb(dir.file("larger.tif"), 192, 128, 3);
  const io::Raster design = io::Raster::open(dir.file("design.tif"));
  const int side = 24;  // previews of 24 x 16: one band of read_banded
  for (const std::string name : {"same.tif", "larger.tif"}) {
    const io::Raster scan = io::Raster::open(dir.file(name));
    const qa::Previews p = qa::read_previews(design, scan, design, side);
    ASSERT_EQ(p.scan_as_is.width, 24) << name;
    ASSERT_EQ(p.scan_as_is.height, 16) << name;
    std::vector<uint8_t> expected(24 * 16 * 3);
    scan.read_rgb_average(Window{0, 0, 96, 64}, 24, 16, expected.data());
    EXPECT_EQ(p.scan_as_is.px, expected) << name;
    EXPECT_EQ(p.scan_as_is_valid, std::vector<uint8_t>(24 * 16, 1)) << name;
    std::vector<uint8_t> whole(static_cast<size_t>(p.scan.width) * p.scan.height * 3);
    scan.read_rgb_average(Window{0, 0, scan.size().width, scan.size().height}, p.scan.width, p.scan.height,
                          whole.data());
    EXPECT_EQ(p.scan.px, whole) << name;
  }
}

// Ranks share the previews' reads by bands; put together, the bytes are those of one reader, for
// a scan of the design's size and a smaller one (the unmoved scan then covers part of the grid).
TEST(QaPictures, PreviewsReadInSharedBandsAreTheSameAsReadByOne) {
  ScratchDir dir("qa_previews_bands");
  write_random_rgb(dir.file("design.tif"), 400, 300, 1);
  write_random_rgb(dir.file("same.tif"), 400, 300, 2);
  write_random_rgb(dir.file("smaller.tif"), 300, 170, 3);
  const io::Raster design = io::Raster::open(dir.file("design.tif"));
  const int side = 100;  // previews of 100 x 75: five bands of 16 rows
  for (const std::string name : {"same.tif", "smaller.tif"}) {
    const io::Raster scan = io::Raster::open(dir.file(name));
    const qa::Previews one = qa::read_previews(design, scan, design, side);
    for (const int parts : {2, 3, 7}) {
      qa::Previews joined = qa::read_previews(design, scan, design, side, 0, parts);
      for (int part = 1; part < parts; ++part)
        qa::unpack_bands(joined,
                         qa::pack_bands(qa::read_previews(design, scan, design, side, part, parts), part, parts), part,
                         parts);
      EXPECT_EQ(joined.design.px, one.design.px) << name << " " << parts;
      EXPECT_EQ(joined.aligned.px, one.aligned.px) << name << " " << parts;
      EXPECT_EQ(joined.scan.px, one.scan.px) << name << " " << parts;
      EXPECT_EQ(joined.scan_as_is.px, one.scan_as_is.px) << name << " " << parts;
      EXPECT_EQ(joined.scan_as_is_valid, one.scan_as_is_valid) << name << " " << parts;
    }
    // A part alone leaves the others' bands as they were: it is not the whole preview.
    EXPECT_NE(qa::read_previews(design, scan, design, side, 1, 2).design.px, one.design.px) << name;
  }
  qa::Previews p = qa::read_previews(design, design, design, side, 0, 2);
  EXPECT_THROW(qa::unpack_bands(p, "too short", 1, 2), Error);
}

TEST(QaOutput, OverviewFactorsStopAtOneTile) {
  EXPECT_EQ(io::overview_factors(Size{18960, 14960}, 256), (std::vector<int>{2, 4, 8, 16, 32, 64, 128}));
  EXPECT_TRUE(io::overview_factors(Size{200, 100}, 256).empty());
  EXPECT_EQ(io::overview_factors(Size{1200, 900}, 256), (std::vector<int>{2, 4, 8}));
}

TEST(QaProgress, ModesAreParsedAndBadOnesRefused) {
  EXPECT_EQ(job::parse_progress_mode("line"), job::ProgressMode::kLine);
  EXPECT_EQ(job::parse_progress_mode("off"), job::ProgressMode::kOff);
  EXPECT_THROW(job::parse_progress_mode("bar"), Error);
}

TEST(QaBatchIndex, FlaggedJobsComeFirstAndTheSummaryCarriesTheVerdict) {
  ScratchDir d("qa-index");
  std::vector<batch::JobRecord> records(3);
  const char* ids[3] = {"fine", "wrong", "broken"};
  for (int i = 0; i < 3; ++i) {
    records[i].job.id = ids[i];
    records[i].job.out = d.file(std::string(ids[i]) + ".tif");
    records[i].status = i == 2 ? batch::JobStatus::kFailed : batch::JobStatus::kDone;
  }
  records[2].result.error = "elastix crashed";
  // metrics.json as the jobs would have written them.
  for (int i = 0; i < 2; ++i) {
    nlohmann::json m = {
        {"verdict", {{"suspect", i == 1}, {"reasons", i == 1 ? nlohmann::json{"NCC low"} : nlohmann::json::array()}}},
        {"similarity", {{"before", {{"ncc", 0.2}}}, {"after", {{"ncc", i == 1 ? 0.1 : 0.95}}}}}};
    std::ofstream(qa::qa_paths_for(records[i].job.out).metrics) << m.dump();
    fs::create_directories(qa::qa_paths_for(records[i].job.out).pictures);
    qa::write_png(qa::RgbImage(16, 12, 100), qa::qa_paths_for(records[i].job.out).pictures + "/thumbnail.png");
    std::ofstream(qa::qa_paths_for(records[i].job.out).report) << "<html></html>";
  }
  const std::string html = batch::batch_index_html(d.file("b"), records);
  const size_t broken = html.find(">broken<"), wrong = html.find(">wrong<"), fine = html.find(">fine<");
  ASSERT_NE(broken, std::string::npos) << html;
  ASSERT_NE(wrong, std::string::npos);
  ASSERT_NE(fine, std::string::npos);
  EXPECT_LT(broken, wrong);
  EXPECT_LT(wrong, fine);
  EXPECT_NE(html.find("href=\"wrong.report.html\""), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
  EXPECT_NE(html.find("elastix crashed"), std::string::npos);
  // Columns in a reading order (before, after, ...), not alphabetical.
  EXPECT_LT(html.find("<th>NCC before</th>"), html.find("<th>NCC after</th>"));
  EXPECT_LT(html.find("<th>NCC after</th>"), html.find("<th>Jacobian min</th>"));

  const nlohmann::json s = batch::summary_json(batch::SummaryTotals{}, records);
  EXPECT_EQ(s["suspect"].get<int>(), 1);
  EXPECT_FALSE(s["job_results"][0]["suspect"].get<bool>());
  EXPECT_TRUE(s["job_results"][1]["suspect"].get<bool>());
  EXPECT_DOUBLE_EQ(s["job_results"][0]["qa"]["NCC after"].get<double>(), 0.95);
  const std::string csv = batch::summary_csv(records);
  EXPECT_NE(csv.find(",suspect,ncc_after,jacobian_min,report,defects\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",yes,0.100,"), std::string::npos) << csv;
}

TEST(QaBatchIndex, JobsWithMorePrintDefectsComeFirstAndTheSummaryCountsThem) {
  ScratchDir d("qa-index-defects");
  // Four jobs done and not suspect: 2 defects (metrics.json), 7 (metrics.json), none looked for,
  // 3 (--no-qa: the defect list alone).
  std::vector<batch::JobRecord> records(4);
  const char* ids[4] = {"two", "seven", "unchecked", "three"};
  for (int i = 0; i < 4; ++i) {
    records[i].job.id = ids[i];
    records[i].job.out = d.file(std::string(ids[i]) + ".tif");
    records[i].status = batch::JobStatus::kDone;
  }
  for (int i : {0, 1, 2}) {
    nlohmann::json m = {{"verdict", {{"suspect", false}}}};
    if (i < 2) m["defects"] = {{"count", i == 0 ? 2 : 7}};
    std::ofstream(qa::qa_paths_for(records[i].job.out).metrics) << m.dump();
  }
  std::ofstream(d.file("three.defects.csv")) << "id,x0\n1,5\n2,6\n3,7\n";
  const std::string html = batch::batch_index_html(d.file("b"), records);
  const size_t seven = html.find(">seven<"), three = html.find(">three<"), two = html.find(">two<"),
               unchecked = html.find(">unchecked<");
  ASSERT_NE(unchecked, std::string::npos) << html;
  EXPECT_LT(seven, three);
  EXPECT_LT(three, two);
  EXPECT_LT(two, unchecked);
  EXPECT_NE(html.find("<th>defects</th>"), std::string::npos) << html;
  const nlohmann::json s = batch::summary_json(batch::SummaryTotals{}, records);
  EXPECT_EQ(s["job_results"][1]["defects"].get<int>(), 7);
  EXPECT_EQ(s["job_results"][3]["defects"].get<int>(), 3);
  EXPECT_TRUE(s["job_results"][2]["defects"].is_null());
  const std::string csv = batch::summary_csv(records);
  EXPECT_NE(csv.find("report,defects\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",7\n"), std::string::npos) << csv;
}

TEST(QaProgress, RegistrationTickerShowsElastixStateFromItsLog) {
  ScratchDir d("qa-ticker");
  std::ofstream(d.file("elastix.log")) << "Running elastix with parameter file 1: \"b.txt\".\nResolution: 2\n"
                                       << "1:ItNr\t2:Metric\t3a:Time\n0\t-1.0\t0\n41\t-1.5\t0\n";
  // Capture stderr: the line mode writes there; it ends on the log's final state when stopped.
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int fd = open(d.file("err.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  dup2(fd, STDERR_FILENO);
  { job::RegistrationTicker ticker(job::ProgressMode::kLine, d.file("elastix.log")); }
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(fd);
  close(saved);
  const std::string err = read_file(d.file("err.txt"));
  EXPECT_NE(err.find("register: elastix parameter file 1, resolution 2, iteration 42, metric -1.50000"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.back(), '\n');
}
