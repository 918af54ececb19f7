#pragma once
// The pipeline: rank 0 registers, the transform is broadcast, every rank warps its strips.
// Written against the communicator and the backend interface only.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "alinify/defects/strip.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/job/qa_report.hpp"
#include "alinify/job/refine.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/reg/registration.hpp"
#include "alinify/transform/transform_json.hpp"
#include "alinify/warp/backend.hpp"

namespace alinify::job {

struct RegisterJob {
  std::string design, scan;
  std::string transform_out;  // T.json; the elastix folder is <T stem>.elastix beside it
  reg::RegisterOptions reg;
  std::optional<uint64_t> mem_budget;           // per rank, --mem-budget
  std::optional<int64_t> max_pixels;            // --registration-max-pixels
  ProgressMode progress = ProgressMode::kAuto;  // elastix's progress on rank 0
  RefineMode refine = RefineMode::kAuto;        // the refinement stage (job/refine.hpp)
};

struct WarpJob {
  std::string design, scan, out;
  std::string transform_path;  // for messages (and for `alinify warp`)
  warp::Interp interp = warp::Interp::kBilinear;
  bool exact = false;  // --exact: the transform at every pixel, not the lattice
  std::string compress = "none";
  int compress_level = 0;                // 0: the codec's default (io/tile_codec.hpp)
  std::string predictor = "horizontal";  // of compressed tiles: horizontal|none
  warp::BackendKind backend = warp::BackendKind::kAuto;
  int device = -1;
  int gpus_per_rank = 1;
  int fill = 0;  // grey level outside the scan
  int tile = 256;
  std::optional<uint64_t> mem_budget;
  bool overviews = true;  // internal overviews in the output (--no-overviews)
  bool cog = false;       // Cloud Optimized GeoTIFF as the final step (--cog)
  ProgressMode progress = ProgressMode::kAuto;
  QaOptions qa;               // metrics.json, QA pictures, report.html (--no-qa)
  bool find_defects = false;  // --defects: the defect stage after the output (docs/defects.md)
  defects::DefectOptions defect_options;
  bool defect_map = false;     // --defect-map: <out stem>.defects.tif, Delta E per pixel
  nlohmann::json facts;        // what `run` learnt while registering, for metrics.json
  qa::ResidualGrid residuals;  // `run`, rank 0: the refinement's residual per block, for the report
};

// Every rank calls these. A failure on any rank ends every rank with a non-zero exit and leaves
// no output; the rank that failed reports it, the others exit quietly (Error::reported_elsewhere).
// `facts` (rank 0): the plan and its inputs, stage times, elastix's log summary, for metrics.json.
transform::TransformFile run_register(par::Communicator& comm, const RegisterJob& job, nlohmann::json* facts = nullptr);
// run_register, then the refinement stage (job.refine) on every rank, its strips those of a warp
// with tiles of `tile` px. When the refinement fails, transform.json goes too: a job that did not
// finish leaves nothing under a final name.
transform::TransformFile register_and_refine(par::Communicator& comm, const RegisterJob& job, nlohmann::json* facts,
                                             int tile = 256, qa::ResidualGrid* residuals = nullptr);
struct WarpReport {
  nlohmann::json metrics;  // rank 0: metrics.json's document (null with --no-qa)
  bool suspect = false;    // every rank
};
// Usage errors in a warp job's own values (--fill, --tile), before any file is touched; run_warp
// checks them again.
void check_warp_options(const WarpJob& job);
WarpReport run_warp(par::Communicator& comm, const transform::TransformFile& t, const WarpJob& job);
struct RunReport {
  bool suspect = false;
  nlohmann::json metrics;  // rank 0
  int registration_factor = 0;
  double register_seconds = 0;  // registration + broadcast, as seen by this rank
  double warp_seconds = 0;
  double total_seconds = 0;
};

// register + broadcast + warp.
RunReport run_pipeline(par::Communicator& comm, const RegisterJob& reg, const WarpJob& warp);

// `alinify inspect`: the defect stage on an image already on the design's grid (no registration, no
// warp): <out_prefix>.defects.csv, .defects.geojson (and .defects.tif with defect_map). With a
// transform_path (the T.json the image was warped with) the scan's coverage and the centroids in
// scan pixels come from it; without, the image is compared except near its edges and near the
// fill (3x3 blocks of exactly (fill, fill, fill): where the warp found no scan), and scan_cx/cy are
// design pixels. Bad input fails on rank 0 with one line naming the file, before any output.
struct InspectJob {
  std::string design, aligned, out_prefix;
  std::string transform_path;  // optional
  int fill = 0;                // the warp's --fill, used without a transform
  defects::DefectOptions defect_options;
  bool defect_map = false;
};
// Returns the stage's facts (metrics.json's "defects") on every rank.
nlohmann::json run_inspect(par::Communicator& comm, const InspectJob& job);

// `alinify warp`: rank 0 reads T.json and broadcasts it.
transform::TransformFile load_and_broadcast(par::Communicator& comm, const std::string& path);

}  // namespace alinify::job
