#pragma once
// The defect stage (docs/defects.md): after the aligned output is written, every rank reads back
// its strips of the output and of the design, rank 0 fits the colour model on every rank's samples,
// every rank labels its strips, rank 0 merges the components and writes the defect list.
#include <nlohmann/json.hpp>
#include <string>

#include "alinify/job/pipeline.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/transform/transform_json.hpp"

namespace alinify::job::detail {

// Rows per strip of the defect stage: fixed, so the strips (and the sums in each) are the same
// for any rank count. About 70 bytes a pixel of a strip live at once (both windows, their smoothed
// floats, the mapped design, the map and the labels): ~170 MiB for a strip 18960 px wide.
constexpr int kDefectStripRows = 128;

struct DefectPaths {
  std::string csv, geojson;  // <out dir>/<out stem>.defects.csv, .defects.geojson
  std::string map;           // .defects.tif (--defect-map)
};
DefectPaths defect_paths_for(const std::string& output);

// What the stage compares and where it writes: `run`/`warp` (the aligned output beside its defect
// files) and `inspect` (an image already aligned, files under a prefix).
struct DefectInputs {
  std::string design, aligned;
  // The file the aligned pixels came from (the scan; for `inspect` the aligned image): its lossy
  // compression, if any, is warned of.
  std::string source;
  DefectPaths paths;
  defects::DefectOptions options;
  bool map = false;  // --defect-map
  // >= 0 (`inspect` without a transform): pixels near the aligned image's fill of this grey level
  // are not compared (defects::mask_fill).
  int fill = -1;
  // Where the report's crops of the largest defects go (the QA pictures folder); empty: none (--no-qa).
  std::string crops_folder;
};

// Collective. Returns metrics.json's "defects" on every rank (count, kinds, colour model, times).
// `t` maps design pixels into the scan the aligned image was made from: the covered area and the
// centroids in scan pixels (an empty transform with t.scan = t.design: the aligned image itself).
nlohmann::json find_defects(par::Communicator& comm, const DefectInputs& in, const transform::TransformFile& t);
nlohmann::json find_defects(par::Communicator& comm, const WarpJob& job, const transform::TransformFile& t);

}  // namespace alinify::job::detail
