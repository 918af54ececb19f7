// `alinify inspect` (docs/defects.md): the defect stage of `run --defects` on an image that is
// already aligned to its design, with the same strips over the same ranks.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/job/pipeline.hpp"
#include "alinify/par/agree.hpp"
#include "defects_stage.hpp"

namespace fs = std::filesystem;

namespace alinify::job {

namespace {

std::string size_text(Size s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

detail::DefectPaths inspect_paths(const std::string& prefix) {
  return {prefix + ".defects.csv", prefix + ".defects.geojson", prefix + ".defects.tif"};
}

// Rank 0: the inputs open, the aligned image lies on the design's grid, the transform (if any) was
// made for this design, the outputs' folder is writable and no output is an input. Returns the
// transform's JSON, or "" for none.
std::string check_inputs(const InspectJob& job, const detail::DefectPaths& out) {
  paths::require_input_file(job.design);
  paths::require_input_file(job.aligned);
  const Size design = io::Raster::open(job.design).size();
  const Size aligned = io::Raster::open(job.aligned).size();
  if (!(aligned == design))
    fail_input(job.aligned, "is " + size_text(aligned) + " px, the design " + job.design + " is " + size_text(design) +
                                ": inspect compares an image already on the design's grid");
  std::string transform_text;
  if (!job.transform_path.empty()) {
    const transform::TransformFile t = transform::read_transform_json(job.transform_path);
    if (!(t.design == design))
      fail_input(job.transform_path,
                 "was made for a " + size_text(t.design) + " design, " + job.design + " is " + size_text(design));
    transform_text = transform::to_json_text(t);
  }
  const std::vector<paths::Named> outputs{{"--out", out.csv}, {"--out", out.geojson}, {"--out", out.map}};
  std::vector<paths::Named> inputs{{"--design", job.design}, {"--aligned", job.aligned}};
  if (!job.transform_path.empty()) inputs.emplace_back("--transform", job.transform_path);
  paths::refuse_overwriting_inputs(outputs, inputs);
  paths::require_writable_folder(out.csv);
  return transform_text;
}

}  // namespace

nlohmann::json run_inspect(par::Communicator& comm, const InspectJob& job) {
  job.defect_options.check();
  const detail::DefectPaths out = inspect_paths(job.out_prefix);
  const std::string text =
      par::on_root_then_broadcast(comm, "inspect: checking the inputs", [&] { return check_inputs(job, out); });
  transform::TransformFile t;
  if (text.empty()) {
    // No transform: the aligned image is its own scan (an empty transform is the identity).
    const Size size = io::Raster::open(job.design).size();
    t.design = t.scan = size;
  } else {
    t = transform::from_json_text(text, job.transform_path);
  }
  try {
    detail::DefectInputs in{job.design, job.aligned, job.aligned, out, job.defect_options, job.defect_map, -1, ""};
    // Without the transform, the area the scan did not cover is known only by the fill the warp wrote there.
    if (text.empty()) in.fill = job.fill;
    return detail::find_defects(comm, in, t);
  } catch (...) {
    // Nothing under a final name from a job that failed (the list is written last, the map renamed last).
    if (comm.is_root()) {
      std::error_code ec;
      for (const std::string& f : {out.csv, out.geojson, out.map}) fs::remove(f, ec);
    }
    throw;
  }
}

}  // namespace alinify::job
