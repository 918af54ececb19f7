#include "alinify/job/qa_report.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/quantile.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/qa/deformation.hpp"
#include "alinify/qa/pictures.hpp"
#include "alinify/qa/report_html.hpp"
#include "alinify/qa/similarity_sample.hpp"

namespace fs = std::filesystem;

namespace alinify::job {
namespace {

void write_text(const std::string& path, const std::string& text) {
  files::write_atomically(path, text, path + ": cannot write");
}

nlohmann::json to_json(const qa::SimilarityMeasure& m) { return {{"ncc", m.ncc}, {"mi", m.mi}, {"tiles", m.tiles}}; }

nlohmann::json to_json(const qa::DeformationStats& d) {
  return {{"grid_points", d.grid_points},
          {"grid_step", d.grid_step},
          {"max_displacement", d.max_displacement},
          {"mean_displacement", d.mean_displacement},
          {"max_local", d.max_local},
          {"mean_local", d.mean_local},
          {"jacobian_min", d.jacobian_min},
          {"jacobian_max", d.jacobian_max},
          {"folded_points", d.folded_points},
          {"folds", d.folds()}};
}

// Merges b into a, objects recursively (facts from the pipeline and measurements from QA).
void merge(nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& [k, v] : b.items()) {
    if (a.contains(k) && a[k].is_object() && v.is_object())
      merge(a[k], v);
    else
      a[k] = v;
  }
}

// The pictures of the report, written from previews only; returns their captions.
struct ReportPictures {
  std::vector<qa::Picture> pictures;
  double preview_scale = 0;
  double deformation_bar_max_px = 0;
  double residual_bar_max_px = 0;  // 0: no residual maps
};

ReportPictures write_pictures(const qa::Previews& pv, const io::Raster& design, const transform::Transform& t,
                              const std::string& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail_runtime("cannot create " + folder + ": " + ec.message());
  const std::string dir = folder + "/";
  qa::write_png(qa::checkerboard(pv.design, pv.aligned), dir + "checkerboard.png");
  qa::write_png(qa::difference_heatmap(pv.design, pv.scan_as_is, pv.scan_as_is_valid), dir + "difference_before.png");
  qa::write_png(qa::difference_heatmap(pv.design, pv.aligned), dir + "difference_after.png");
  const qa::DeformationPicture dm = qa::deformation_map(t, design.size(), pv.design.width, pv.design.height);
  qa::write_png(dm.image, dir + "deformation.png");
  qa::write_png(qa::warped_grid(pv, t, design.size()), dir + "warped_grid.png");
  qa::write_png(qa::thumbnail(pv.aligned, 160), dir + "thumbnail.png");

  const std::string bar = fmt::format(
      "local deformation beyond the affine part, |T(p) - A(p)|: colour bar from 0 px (bottom) to {:.2f} px (top)",
      dm.max_value);
  ReportPictures out;
  out.preview_scale = pv.design_scale;
  out.deformation_bar_max_px = dm.max_value;
  out.pictures = {
      {"checkerboard", "design and aligned scan in alternating cells: lines must continue across cell edges",
       dir + "checkerboard.png"},
      {"difference before", "|design - scan unmoved| (each standardised), 0 to 3 sd; grey: the scan does not cover it",
       dir + "difference_before.png"},
      {"difference after", "|design - aligned scan| (each standardised), 0 to 3 sd", dir + "difference_after.png"},
      {"deformation", bar, dir + "deformation.png"},
      {"warped grid", "the design's grid (red: its border) where the transform puts it on the scan",
       dir + "warped_grid.png"}};
  return out;
}

// The refinement's residual per block before and after, on one colour scale (0 to the larger p95
// of the two, at least 0.5 px) so that the two maps compare at a glance.
void add_residual_maps(const qa::ResidualGrid& grid, const std::string& folder, ReportPictures& out) {
  const double top = std::max({0.5, lower_quantile(grid.before, 0.95), lower_quantile(grid.after, 0.95)});
  const std::string dir = folder + "/";
  qa::write_png(qa::residual_map(grid, grid.before, top), dir + "residual_before.png");
  qa::write_png(qa::residual_map(grid, grid.after, top), dir + "residual_after.png");
  const std::string scale = fmt::format(
      "one cell per {} px block (every {} px), colour bar from 0 px (bottom) to {:.2f} px (top); grey: the block "
      "does not count (flat, ambiguous, outside the scan)",
      grid.block_size, grid.block_step, top);
  out.pictures.push_back({"residual before refinement", "displacement measured through elastix's transform, " + scale,
                          dir + "residual_before.png"});
  out.pictures.push_back({"residual after refinement", "displacement measured through the final transform, " + scale,
                          dir + "residual_after.png"});
  out.residual_bar_max_px = top;
}

nlohmann::json metrics_json(const QaInputs& in, const QaOptions& options, const qa::SimilarityReport& sim,
                            const qa::DeformationStats& def, const qa::Verdict& verdict, const qa::QaPaths& paths,
                            const ReportPictures& pictures) {
  const transform::TransformFile& tf = *in.transform;
  nlohmann::json m = {{"format", "alinify-metrics"}, {"version", 1}};
  m["job"] = {{"design", in.design},
              {"scan", in.scan},
              {"output", in.output},
              {"transform", in.transform_path},
              {"design_size", {tf.design.width, tf.design.height}},
              {"scan_size", {tf.scan.width, tf.scan.height}},
              {"registration_factor", tf.registration_factor},
              {"preset", tf.preset}};
  merge(m, in.facts);
  m["verdict"] = {{"suspect", verdict.suspect},
                  {"reasons", verdict.reasons},
                  {"thresholds",
                   {{"min_ncc_after", options.thresholds.min_ncc_after},
                    {"folding", "jacobian_min <= 0"},
                    {"max_residual_p95_px", options.thresholds.max_residual_p95_px},
                    {"max_residual_median_px", options.thresholds.max_residual_p95_px / 4}}}};
  m["similarity"] = {{"tile_size", sim.tile_size},
                     {"tiles_sampled", sim.tiles_sampled},
                     {"bins", sim.bins},
                     {"before", to_json(sim.before)},
                     {"after", to_json(sim.after)}};
  m["deformation"] = to_json(def);
  m["pictures"] = {{"folder", paths.pictures},
                   {"preview_scale", pictures.preview_scale},
                   {"deformation_colour_bar_max_px", pictures.deformation_bar_max_px},
                   {"residual_colour_bar_max_px", pictures.residual_bar_max_px},
                   {"files",
                    {"checkerboard.png", "difference_before.png", "difference_after.png", "deformation.png",
                     "warped_grid.png", "thumbnail.png"}}};
  if (pictures.residual_bar_max_px > 0)
    for (const char* f : {"residual_before.png", "residual_after.png"}) m["pictures"]["files"].push_back(f);
  m["report"] = paths.report;
  return m;
}

// The refinement's residual after the final transform, when the job measured one.
std::optional<qa::Residual> refinement_residual(const nlohmann::json& facts) {
  if (!facts.contains("refinement") || !facts["refinement"].contains("residual_after")) return std::nullopt;
  const nlohmann::json& r = facts["refinement"]["residual_after"];
  return qa::Residual{r.value("blocks", 0), r.value("median_px", 0.0), r.value("p95_px", 0.0)};
}

void log_verdict(const std::string& output, const qa::Verdict& verdict, const qa::SimilarityReport& sim,
                 const qa::DeformationStats& def, double seconds, const std::string& report) {
  if (verdict.suspect) {
    std::string why;
    for (const std::string& r : verdict.reasons) why += (why.empty() ? "" : "; ") + r;
    spdlog::warn("QA: {} is SUSPECT: {} (report {})", output, why, report);
  } else {
    spdlog::info(
        "QA: NCC {:.3f} -> {:.3f}, MI {:.3f} -> {:.3f} bits, Jacobian {:.3f}..{:.3f}: ok ({:.2f} s, report {})",
        sim.before.ncc, sim.after.ncc, sim.before.mi, sim.after.mi, def.jacobian_min, def.jacobian_max, seconds,
        report);
  }
}

}  // namespace

nlohmann::json write_job_qa(const QaInputs& in, const QaOptions& options) {
  if (!in.previews) fail_runtime("QA: the previews were not read (read them with qa::read_previews first)");
  const double t0 = now_seconds();
  const qa::QaPaths paths = qa::qa_paths_for(in.output);
  const transform::Transform& t = in.transform->transform;
  io::Raster design = io::Raster::open(in.design);
  io::Raster scan = io::Raster::open(in.scan);
  io::Raster aligned = io::Raster::open(in.output);

  const qa::SimilarityReport sim = qa::measure_similarity(design, scan, aligned, t, options.tiles, options.tile);
  const qa::DeformationStats def = qa::deformation_stats(t, design.size());
  const qa::Verdict verdict = qa::judge(sim, def, options.thresholds, refinement_residual(in.facts));
  const double t_measured = now_seconds();

  ReportPictures pictures = write_pictures(*in.previews, design, t, paths.pictures);
  if (in.residuals && !in.residuals->empty()) add_residual_maps(*in.residuals, paths.pictures, pictures);
  nlohmann::json m = metrics_json(in, options, sim, def, verdict, paths, pictures);
  m["qa"]["measure_seconds"] = t_measured - t0;
  m["qa"]["pictures_seconds"] = now_seconds() - t_measured;
  m["qa"]["rank0_peak_rss_bytes"] = peak_rss_bytes();
  write_text(paths.report, qa::report_html(m, pictures.pictures));
  m["qa"]["seconds"] = now_seconds() - t0;
  write_text(paths.metrics, m.dump(2) + "\n");
  log_verdict(in.output, verdict, sim, def, now_seconds() - t0, paths.report);
  return m;
}

}  // namespace alinify::job
