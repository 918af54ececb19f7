// Run under mpirun at 1, 2 and 3 ranks (CTest: mpi_np1..3). Real MPI, real GDAL files.
#include <cpl_string.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/job/pipeline.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/synth/synth.hpp"
#include "alinify/synth/truth.hpp"
#include "support/mpi.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;
namespace fs = std::filesystem;
using alinify::test::SharedDir;
using alinify::test::world;

namespace {

// The inverse of the truth's affine part plus a small B-spline: a realistic transform to warp with.
transform::TransformFile transform_for(const synth::Truth& truth) {
  const transform::Stage a = test::inverse_affine_of(truth).stages.front();
  transform::Stage b;
  b.kind = transform::StageKind::kBSpline;
  b.bspline.size[0] = 10;
  b.bspline.size[1] = 8;
  b.bspline.spacing[0] = b.bspline.spacing[1] = 100;
  b.bspline.origin[0] = b.bspline.origin[1] = -150;
  for (int i = 0; i < 80; ++i) {
    b.bspline.coef_x.push_back(1.5 * std::sin(i * 0.7));
    b.bspline.coef_y.push_back(1.2 * std::cos(i * 0.3));
  }
  transform::TransformFile f;
  f.transform.stages = {a, b};
  f.design = truth.design;
  f.scan = truth.scan;
  f.preset = "test";
  return f;
}

std::vector<uint8_t> read_all(const std::string& path) {
  io::Raster r = io::Raster::open(path);
  std::vector<uint8_t> px(static_cast<size_t>(r.size().pixels()) * 3);
  r.read_rgb({0, 0, r.size().width, r.size().height}, px.data(), r.size().width * 3);
  return px;
}

void make_pair(const SharedDir& d, int64_t w, int64_t h) {
  if (world().is_root()) {
    synth::SynthOptions o;
    o.out_dir = d.file("pair");
    o.width = w;
    o.height = h;
    o.seed = 11;
    synth::write_synthetic_pair(o);
  }
  world().barrier();
}

}  // namespace

TEST(Communicator, BroadcastGatherReduce) {
  std::string text = world().is_root() ? "from root" : "";
  world().broadcast(text, 0);
  EXPECT_EQ(text, "from root");
  auto all = world().gather("r" + std::to_string(world().rank()), 0);
  if (world().is_root()) {
    ASSERT_EQ(static_cast<int>(all.size()), world().size());
    for (int r = 0; r < world().size(); ++r) EXPECT_EQ(all[r], "r" + std::to_string(r));
  } else {
    EXPECT_TRUE(all.empty());
  }
  EXPECT_EQ(world().allreduce_max(world().rank()), world().size() - 1);
  EXPECT_EQ(world().allreduce_sum(1), world().size());
  EXPECT_GE(world().local_size(), 1);
}

TEST(Communicator, PointToPointReachesTheNamedRank) {
  ALINIFY_REQUIRE_RANKS_AT_LEAST(2);
  if (world().rank() == 0) world().send("to rank 1", 1, 7);
  if (world().rank() == 1) {
    const par::Message m = world().receive(0, 7);
    EXPECT_EQ(m.source, 0);
    EXPECT_EQ(m.text, "to rank 1");
  }
  world().barrier();
}

TEST(PipelineMpi, OutputIsIdenticalForAnyRankCountAndStripHeight) {
  SharedDir d(world(), "mpi-invariance");
  make_pair(d, 700, 520);
  synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  transform::TransformFile t = transform_for(truth);
  job::WarpJob w;
  w.design = d.file("pair/design.tif");
  w.scan = d.file("pair/scan.tif");
  w.out = d.file("parallel.tif");
  w.interp = warp::Interp::kBicubic;
  w.backend = warp::BackendKind::kCpu;
  w.tile = 64;
  w.mem_budget = 4ull << 20;  // tiny: many strips and split blocks on every rank
  job::run_warp(world(), t, w);
  if (world().is_root()) {
    EXPECT_FALSE(fs::exists(io::partial_path(w.out)));
    // The reference: one process, a large budget (one strip, whole-width blocks).
    auto serial = par::make_serial_communicator();
    job::WarpJob ws = w;
    ws.out = d.file("serial.tif");
    ws.mem_budget = 1ull << 30;
    job::run_warp(*serial, t, ws);
    auto a = read_all(w.out), b = read_all(ws.out);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(a == b) << "pixels differ between " << world().size() << " rank(s) and the serial run";
    // And the content is the scan brought onto the design: not a blank image.
    size_t nonzero = std::count_if(a.begin(), a.end(), [](uint8_t v) { return v != 0; });
    EXPECT_GT(nonzero, a.size() / 2);
    // metrics.json has every rank's times and peak RSS, and their strips add up to the plan's.
    const nlohmann::json m = qa::read_job_metrics(w.out);
    ASSERT_TRUE(m.is_object());
    ASSERT_EQ(static_cast<int>(m["ranks"].size()), world().size());
    int64_t strips = 0;
    std::set<int> local_ranks;
    for (const auto& r : m["ranks"]) {
      strips += r["strips"].get<int64_t>();
      EXPECT_GT(r["peak_rss_bytes"].get<uint64_t>(), 0u);
      // The rank->node map: mpirun on one machine puts every rank on this node (two nodes:
      // tests/slurm/slurm_two_nodes_test.sh).
      EXPECT_EQ(r["host"].get<std::string>(), host_name());
      EXPECT_EQ(r["local_size"].get<int>(), world().size());
      local_ranks.insert(r["local_rank"].get<int>());
      EXPECT_GT(r["budget_bytes"].get<uint64_t>(), 0u);
    }
    EXPECT_EQ(static_cast<int>(local_ranks.size()), world().size());
    EXPECT_EQ(strips, m["warp"]["plan"]["strips"].get<int64_t>());
    EXPECT_EQ(m["job"]["ranks"].get<int>(), world().size());
  }
}

TEST(PipelineMpi, RootFailureEndsEveryRankWithTheSameCode) {
  SharedDir d(world(), "mpi-rootfail");
  try {
    job::load_and_broadcast(world(), d.file("missing.json"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(e.reported_elsewhere(), !world().is_root());
    if (world().is_root()) {
      EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos);
    }
  }
}

TEST(PipelineMpi, AFailedWarpLeavesNoOutputOnAnyRank) {
  SharedDir d(world(), "mpi-warpfail");
  make_pair(d, 600, 600);
  synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  if (world().is_root()) {  // a scan cut short: the header opens, tiles past the cut do not read
    fs::copy_file(d.file("pair/scan.tif"), d.file("cut.tif"));
    fs::resize_file(d.file("cut.tif"), fs::file_size(d.file("cut.tif")) * 6 / 10);
  }
  world().barrier();
  job::WarpJob w;
  w.design = d.file("pair/design.tif");
  w.scan = d.file("cut.tif");
  w.out = d.file("out.tif");
  w.backend = warp::BackendKind::kCpu;
  w.tile = 64;
  w.mem_budget = 4ull << 20;
  try {
    job::run_warp(world(), transform_for(truth), w);
    FAIL() << "warping a truncated scan succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
  }
  world().barrier();
  EXPECT_FALSE(fs::exists(w.out));
  EXPECT_FALSE(fs::exists(io::partial_path(w.out)));
}

TEST(PipelineMpi, CompressedOutputHasTheSerialPixels) {
  SharedDir d(world(), "mpi-compress");
  make_pair(d, 600, 600);
  synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  job::WarpJob w;
  w.design = d.file("pair/design.tif");
  w.scan = d.file("pair/scan.tif");
  w.out = d.file("zstd.tif");
  w.backend = warp::BackendKind::kCpu;
  w.tile = 64;
  w.mem_budget = 4ull << 20;  // many strips per rank: rank 0 takes in the others' tile rows
  w.compress = "zstd";
  job::run_warp(world(), transform_for(truth), w);
  if (world().is_root()) {
    auto serial = par::make_serial_communicator();
    job::WarpJob ws = w;
    ws.out = d.file("none.tif");
    ws.compress = "none";
    job::run_warp(*serial, transform_for(truth), ws);
    EXPECT_TRUE(read_all(w.out) == read_all(ws.out)) << "pixels differ at " << world().size() << " rank(s)";
    EXPECT_LT(fs::file_size(w.out), fs::file_size(ws.out));
  }
}

TEST(PipelineMpi, ACompressedWarpFailingOnOneRankEndsOnEveryRank) {
  SharedDir d(world(), "mpi-compress-fail");
  make_pair(d, 600, 640);  // ten strips of 64 rows: the last is rank 1's at 2 ranks, rank 0's at 3
  synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  if (world().is_root()) {  // small scan tiles, the last few cut off: only the last strip's reads fail
    char** argv = CSLAddString(nullptr, "-co");
    argv = CSLAddString(argv, "TILED=YES");
    argv = CSLAddString(argv, "-co");
    argv = CSLAddString(argv, "BLOCKXSIZE=16");
    argv = CSLAddString(argv, "-co");
    argv = CSLAddString(argv, "BLOCKYSIZE=16");
    GDALTranslateOptions* o = GDALTranslateOptionsNew(argv, nullptr);
    CSLDestroy(argv);
    GDALDatasetH src = GDALOpen(d.file("pair/scan.tif").c_str(), GA_ReadOnly);
    GDALClose(GDALTranslate(d.file("cut.tif").c_str(), src, o, nullptr));
    GDALClose(src);
    GDALTranslateOptionsFree(o);
    fs::resize_file(d.file("cut.tif"), fs::file_size(d.file("cut.tif")) * 99 / 100);
  }
  world().barrier();
  job::WarpJob w;
  w.design = d.file("pair/design.tif");
  w.scan = d.file("cut.tif");
  w.out = d.file("out.tif");
  w.backend = warp::BackendKind::kCpu;
  w.tile = 64;
  w.mem_budget = 4ull << 20;
  w.compress = "zstd";
  try {
    job::run_warp(world(), transform_for(truth), w);
    FAIL() << "warping a truncated scan succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    // Only the owner of the last strip (strip 9) failed; every other rank learnt it from the agreement.
    EXPECT_EQ(e.reported_elsewhere(), world().rank() != 9 % world().size()) << e.what();
  }
  world().barrier();
  EXPECT_FALSE(fs::exists(w.out));
  EXPECT_FALSE(fs::exists(io::partial_path(w.out)));
}
