// Run under mpirun at 1, 2 and 3 ranks (CTest: mpi_np1..3): the refinement stage gives the same
// transform at every rank count as a single process does (same block grid, records gathered in
// block order, one fit on rank 0). Real MPI, real GDAL files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "alinify/job/refine.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/synth/synth.hpp"
#include "alinify/synth/truth.hpp"
#include "support/mpi.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;
using alinify::test::SharedDir;
using alinify::test::world;

namespace {

// The inverse of the truth's affine part: what a registration leaves of a fine-wave pair, the waves.
transform::TransformFile affine_start(const synth::Truth& truth) {
  const transform::Stage a = test::inverse_affine_of(truth).stages.front();
  transform::TransformFile f;
  f.transform.stages = {a};
  f.design = truth.design;
  f.scan = truth.scan;
  f.preset = "test";
  return f;
}

}  // namespace

TEST(Refine, SameTransformAtEveryRankCountAsOneProcess) {
  SharedDir d(world(), "refine");
  if (world().is_root()) {
    synth::SynthOptions o;
    o.out_dir = d.file("pair");
    o.width = 800;
    o.height = 600;
    o.seed = 7;
    o.fine_waves = 2;
    synth::write_synthetic_pair(o);
  }
  world().barrier();
  const synth::Truth truth = synth::Truth::load(d.file("pair/truth.json"));
  const transform::TransformFile start = affine_start(truth);
  job::RefineJob j;
  j.mode = job::RefineMode::kAuto;
  j.design = d.file("pair/design.tif");
  j.scan = d.file("pair/scan.tif");
  nlohmann::json facts;
  const transform::TransformFile ranks = job::refine_transform(world(), start, j, &facts);
  ASSERT_EQ(ranks.transform.stages.size(), 2u);  // the correction was added
  EXPECT_EQ(ranks.transform.stages[1].combine, transform::Combine::kAdd);
  if (world().is_root()) {
    EXPECT_GT(facts["refinement"]["per_round"][0].value("blocks_used", 0), 20);
    auto serial = par::make_serial_communicator();
    const transform::TransformFile one = job::refine_transform(*serial, start, j, nullptr);
    EXPECT_EQ(transform::to_json_text(ranks), transform::to_json_text(one));
  }
  world().barrier();
}
