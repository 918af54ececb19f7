// Run under mpirun at 1, 2 and 3 ranks (CTest: mpi_np1..3). Real MPI, real GDAL files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "alinify/core/error.hpp"
#include "alinify/core/log.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/job/pipeline.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/synth/synth.hpp"
#include "alinify/synth/truth.hpp"
#include "support/test_support.hpp"

using namespace alinify;
namespace fs = std::filesystem;

namespace {

par::Communicator* g_comm = nullptr;

// A folder every rank agrees on (rank 0 makes it), removed by rank 0 at the end.
class SharedDir {
 public:
  explicit SharedDir(const std::string& name) {
    std::string p;
    if (g_comm->is_root()) {
      dir_ = std::make_unique<test::ScratchDir>(name);
      p = dir_->path().string();
    }
    g_comm->broadcast(p, 0);
    path_ = p;
  }
  ~SharedDir() { g_comm->barrier(); }
  std::string file(const std::string& n) const { return (fs::path(path_) / n).string(); }

 private:
  std::unique_ptr<test::ScratchDir> dir_;
  std::string path_;
};

// The inverse of the truth's affine part plus a small B-spline: a realistic transform to warp with.
transform::TransformFile transform_for(const synth::Truth& truth) {
  const double* m = truth.m;
  const double det = m[0] * m[3] - m[1] * m[2];
  transform::Stage a;
  a.affine.m[0] = m[3] / det;
  a.affine.m[1] = -m[1] / det;
  a.affine.m[2] = -m[2] / det;
  a.affine.m[3] = m[0] / det;
  a.affine.offset[0] = -(a.affine.m[0] * truth.offset[0] + a.affine.m[1] * truth.offset[1]);
  a.affine.offset[1] = -(a.affine.m[2] * truth.offset[0] + a.affine.m[3] * truth.offset[1]);
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
  if (g_comm->is_root()) {
    synth::SynthOptions o;
    o.out_dir = d.file("pair");
    o.width = w;
    o.height = h;
    o.seed = 11;
    synth::write_synthetic_pair(o);
  }
  g_comm->barrier();
}

}  // namespace

TEST(Communicator, BroadcastGatherReduce) {
  std::string text = g_comm->is_root() ? "from root" : "";
  g_comm->broadcast(text, 0);
  EXPECT_EQ(text, "from root");
  auto all = g_comm->gather("r" + std::to_string(g_comm->rank()), 0);
  if (g_comm->is_root()) {
    ASSERT_EQ(static_cast<int>(all.size()), g_comm->size());
    for (int r = 0; r < g_comm->size(); ++r) EXPECT_EQ(all[r], "r" + std::to_string(r));
  } else {
    EXPECT_TRUE(all.empty());
  }
  EXPECT_EQ(g_comm->allreduce_max(g_comm->rank()), g_comm->size() - 1);
  EXPECT_EQ(g_comm->allreduce_sum(1), g_comm->size());
  EXPECT_GE(g_comm->local_size(), 1);
}

TEST(PipelineMpi, OutputIsIdenticalForAnyRankCountAndStripHeight) {
  SharedDir d("mpi-invariance");
  make_pair(d, 700, 520);
  synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  transform::TransformFile t = transform_for(truth);
  job::WarpJob w;
  w.design = d.file("pair/design.tif");
  w.scan = d.file("pair/scan.tif");
  w.out = d.file("parallel.tif");
  w.interp = "bicubic";
  w.backend = "cpu";
  w.tile = 64;
  w.mem_budget = 4ull << 20;  // tiny: many strips and split blocks on every rank
  job::run_warp(*g_comm, t, w);
  if (g_comm->is_root()) {
    EXPECT_FALSE(fs::exists(io::partial_path(w.out)));
    // The reference: one process, a large budget (one strip, whole-width blocks).
    auto serial = par::make_serial_communicator();
    job::WarpJob ws = w;
    ws.out = d.file("serial.tif");
    ws.mem_budget = 1ull << 30;
    job::run_warp(*serial, t, ws);
    auto a = read_all(w.out), b = read_all(ws.out);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(a == b) << "pixels differ between " << g_comm->size() << " rank(s) and the serial run";
    // And the content is the scan brought onto the design: not a blank image.
    size_t nonzero = std::count_if(a.begin(), a.end(), [](uint8_t v) { return v != 0; });
    EXPECT_GT(nonzero, a.size() / 2);
    // metrics.json has every rank's times and peak RSS, and their strips add up to the plan's.
    const nlohmann::json m = qa::read_job_metrics(w.out);
    ASSERT_TRUE(m.is_object());
    ASSERT_EQ(static_cast<int>(m["ranks"].size()), g_comm->size());
    int64_t strips = 0;
    for (const auto& r : m["ranks"]) {
      strips += r["strips"].get<int64_t>();
      EXPECT_GT(r["peak_rss_bytes"].get<uint64_t>(), 0u);
    }
    EXPECT_EQ(strips, m["warp"]["plan"]["strips"].get<int64_t>());
    EXPECT_EQ(m["job"]["ranks"].get<int>(), g_comm->size());
  }
}

TEST(PipelineMpi, RootFailureEndsEveryRankWithTheSameCode) {
  SharedDir d("mpi-rootfail");
  try {
    job::load_and_broadcast(*g_comm, d.file("missing.json"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(e.reported_elsewhere(), !g_comm->is_root());
    if (g_comm->is_root()) {
      EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos);
    }
  }
}

TEST(PipelineMpi, AFailedWarpLeavesNoOutputOnAnyRank) {
  SharedDir d("mpi-warpfail");
  make_pair(d, 600, 600);
  synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  if (g_comm->is_root()) {  // a scan cut short: the header opens, tiles past the cut do not read
    fs::copy_file(d.file("pair/scan.tif"), d.file("cut.tif"));
    fs::resize_file(d.file("cut.tif"), fs::file_size(d.file("cut.tif")) * 6 / 10);
  }
  g_comm->barrier();
  job::WarpJob w;
  w.design = d.file("pair/design.tif");
  w.scan = d.file("cut.tif");
  w.out = d.file("out.tif");
  w.backend = "cpu";
  w.tile = 64;
  w.mem_budget = 4ull << 20;
  try {
    job::run_warp(*g_comm, transform_for(truth), w);
    FAIL() << "warping a truncated scan succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
  }
  g_comm->barrier();
  EXPECT_FALSE(fs::exists(w.out));
  EXPECT_FALSE(fs::exists(io::partial_path(w.out)));
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = par::make_mpi_communicator(&argc, &argv);
  g_comm = comm.get();
  log::init(comm->rank(), comm->size(), "warn");
  if (!comm->is_root()) {  // one report, from rank 0
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS();
  rc = static_cast<int>(comm->allreduce_max(rc));
  comm.reset();
  par::finalize();
  return rc;
}
