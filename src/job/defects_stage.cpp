#include "defects_stage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/defects/colour_model.hpp"
#include "alinify/defects/report.hpp"
#include "alinify/defects/strip.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/par/agree.hpp"
#include "alinify/par/records.hpp"
#include "alinify/plan/planner.hpp"
#include "alinify/qa/job_files.hpp"
#include "defect_centroids.hpp"
#include "defect_crops.hpp"

namespace fs = std::filesystem;

namespace alinify::job::detail {

DefectPaths defect_paths_for(const std::string& output) {
  const fs::path o(output);
  const fs::path stem = o.parent_path() / o.stem();
  return {stem.string() + ".defects.csv", stem.string() + ".defects.geojson", stem.string() + ".defects.tif"};
}

namespace {

using par::on_every_rank;
using par::on_root_then_broadcast;

// Rows [y0 - halo, y0 + rows + halo) of both images, clipped to the image.
struct Window2 {
  std::vector<uint8_t> design, aligned;
  defects::StripPixels px;
};

void read_rows(const io::Raster& design, const io::Raster& aligned, int64_t y0, int64_t rows, int halo, Window2& w) {
  const Size size = design.size();
  const int64_t in0 = std::max<int64_t>(0, y0 - halo), in1 = std::min(size.height, y0 + rows + halo);
  const Window win{0, in0, size.width, in1 - in0};
  const size_t stride = static_cast<size_t>(size.width) * 3;
  w.design.resize(stride * static_cast<size_t>(win.height));
  w.aligned.resize(w.design.size());
  design.read_rgb(win, w.design.data(), stride);
  aligned.read_rgb(win, w.aligned.data(), stride);
  w.px = defects::StripPixels{size, in0, win.height, w.design.data(), w.aligned.data()};
}

// The map's strip: Delta E rounded to whole units, 255 at and above, one grey band; 0 where nothing
// was compared.
void map_strip(const defects::DeltaMap& map, std::vector<uint8_t>& grey) {
  grey.resize(map.de.size());
  for (size_t i = 0; i < map.de.size(); ++i) grey[i] = static_cast<uint8_t>(std::min(255.0f, std::round(map.de[i])));
}

// The scan's noise and texture: the colour model's residual median (RGB levels) over the flat
// samples, where no edge and no misregistration adds to it; over all samples when the design has
// fewer than kFlatMin flat ones. The residual over all grows as the design's edges crowd: on
// lossless pairs of seed 3 at synth's default weave it read 5.01 at 600x450 and 2.08 at 3000x2200,
// the flat samples' 2.28 (85 of them) and 1.79 (docs/defects.md, "A noisy scan").
constexpr int64_t kFlatMin = 50;
bool noise_from_flat(const defects::ColourModel& m) { return m.flat_samples >= kFlatMin; }
// In the design's contrast (ColourModel::contrast), as the defect map is: a scan exposed darker
// holds its noise in fewer levels, and the map scales it back up.
double scan_noise(const defects::ColourModel& m) {
  return (noise_from_flat(m) ? m.flat_median : m.residual_median) * m.de_scale();
}

// scan_noise above which the log warns of a noisy scan: about 1.4 x the highest on those lossless
// pairs (2.28, at 600x450); a weave of 0.12 read 2.97 (no false defect), 0.2 4.54 (282 false
// defects on 6.6 MP at --defect-scale 1). Lossy compression is warned of by itself: JPEG quality
// 85 read 2.68 and gave 130.
constexpr double kNoisyResidual = 3.3;

nlohmann::json model_json(const defects::ColourModel& m) {
  return {{"matrix", m.m},
          {"offset", m.offset},
          {"gain_field", m.gain},
          {"tone_curve", m.has_curve()},
          {"tone_curve_terms", m.curve},
          {"residual_median_all_affine", m.affine_median},
          {"residual_median_all_curved", m.curved_median},
          {"samples", m.samples},
          {"residual_median_rgb", m.residual_median},
          {"flat_residual_median_rgb", m.flat_median},
          {"flat_samples", m.flat_samples},
          {"contrast", m.contrast},
          {"noisy_scan", scan_noise(m) > kNoisyResidual},
          {"residual_rms_rgb", m.residual_rms},
          {"inlier_fraction", m.inlier_fraction}};
}

}  // namespace

nlohmann::json find_defects(par::Communicator& comm, const WarpJob& job, const transform::TransformFile& t) {
  DefectInputs in{job.design, job.out, job.scan, defect_paths_for(job.out), job.defect_options, job.defect_map, -1, ""};
  if (job.qa.enabled) in.crops_folder = qa::qa_paths_for(job.out).pictures;
  return find_defects(comm, in, t);
}

nlohmann::json find_defects(par::Communicator& comm, const DefectInputs& job, const transform::TransformFile& t) {
  const double t0 = now_seconds();
  const defects::DefectOptions& o = job.options;
  std::optional<io::Raster> design, aligned;
  std::vector<plan::RowRange> mine;
  Size size;
  const double margin = o.halo() + 2;  // the smoothing box, the neighbourhood and the warp's taps
  // Rows read beyond a strip: the comparison's halo, and what mask_fill needs to see the fill.
  const int fill_halo = static_cast<int>(margin) + 1;
  std::vector<uint8_t> valid;  // one buffer for every strip's mask
  const auto mask = [&](const Window2& w, int64_t y0, int64_t rows) -> const std::vector<uint8_t>& {
    defects::coverage_mask(t.transform, size, t.scan, y0, rows, margin, valid);
    if (job.fill >= 0) defects::mask_fill(w.px, y0, rows, job.fill, static_cast<int64_t>(margin), valid.data());
    return valid;
  };
  std::string message, lossy;
  int step = 0;
  on_every_rank(comm, "defects: colour samples", [&] {
    design.emplace(io::Raster::open(job.design));
    aligned.emplace(io::Raster::open(job.aligned));
    lossy = job.source == job.aligned ? aligned->info().lossy : io::Raster::open(job.source).info().lossy;
    size = design->size();
    step = defects::sample_step_for(size, o);
    mine = plan::strip_run_for_rank(size.height, kDefectStripRows, comm.rank(), comm.size());
    std::vector<defects::Sample> samples;
    Window2 w;
    for (const plan::RowRange& r : mine)
      for (int64_t y = (r.y0 + step - 1) / step * step; y < r.y0 + r.rows; y += step) {
        // A row more than the box: Sample::flat looks a pixel around it.
        read_rows(*design, *aligned, y, 1, job.fill >= 0 ? std::max(o.scale + 1, fill_halo) : o.scale + 1, w);
        const std::vector<defects::Sample> row = defects::collect_samples(w.px, y, 1, step, o, mask(w, y, 1).data());
        samples.insert(samples.end(), row.begin(), row.end());
      }
    message = par::bytes_of(samples);
  });
  std::vector<std::string> parts = comm.gather(message, 0);
  const std::string model_text = on_root_then_broadcast(comm, "defects: colour model", [&] {
    std::vector<defects::Sample> all;
    for (const std::string& p : parts) par::append_records(p, all, "defects: malformed sample message");
    // The same samples in the same order for any rank count: the same fit.
    std::sort(all.begin(), all.end(),
              [](const defects::Sample& a, const defects::Sample& b) { return a.y != b.y ? a.y < b.y : a.x < b.x; });
    defects::FitOptions fo;
    fo.gain_field = o.gain_field;
    fo.tone_curve = o.tone_curve;
    const defects::ColourModel m = defects::fit_colour_model(all, size, fo);
    spdlog::info(
        "defects: colour model from {} samples (every {} px): residual median {:.2f}, rms {:.2f} (RGB levels), "
        "{:.1f} % inliers; {} (residual median over all samples {:.2f} affine, {:.2f} with tone curves); {:.2f} "
        "over the {} flat samples; contrast {:.3f} (Delta E is divided by it: the print's difference from the design)",
        m.samples, step, m.residual_median, m.residual_rms, 100 * m.inlier_fraction,
        m.has_curve() ? "tone curves kept" : "affine", m.affine_median, m.curved_median, m.flat_median, m.flat_samples,
        m.contrast);
    // Texture or noise the smoothing does not hold back, and JPEG's colour edges, come out as false
    // defects (docs/defects.md, "A noisy scan").
    if (const double noise = scan_noise(m); noise > kNoisyResidual)
      spdlog::warn(
          "defects: {}: the colour model's residual median is {:.2f} RGB levels {} (at the design's contrast), over "
          "the {:.1f} of a scan whose "
          "noise --defect-scale {} holds back: expect false defects in texture and along edges; --defect-scale {} "
          "smooths more (docs/defects.md, \"A noisy scan\")",
          job.aligned, noise, noise_from_flat(m) ? "where the design is flat" : "(no flat design area)", kNoisyResidual,
          o.scale, o.scale + 1);
    if (!lossy.empty() && o.scale < 2)
      spdlog::warn(
          "defects: {}: stored with {} compression (lossy): expect false defects along colour edges at --defect-scale "
          "{}; --defect-scale 2 holds most back (docs/defects.md, \"A noisy scan\")",
          job.source, lossy, o.scale);
    return m.to_json_text();
  });
  parts.clear();
  const defects::ColourModel model = defects::ColourModel::from_json_text(model_text);
  const double t_model = now_seconds();
  const DefectPaths& paths = job.paths;
  // --defect-map: laid out by rank 0 like the aligned output, tiles of one strip's height, so that
  // every rank writes its strips' tiles in place.
  io::OutputSpec map_spec;
  map_spec.path = paths.map;
  map_spec.size = size;
  map_spec.tile = kDefectStripRows;
  map_spec.bands = 1;
  // Overviews by root mean square: a viewer zoomed out still sees a small defect (an average of a
  // 28 px blot over a 16x16 overview cell keeps a ninth of its Delta E, the RMS a third).
  map_spec.overview_resampling = "RMS";
  map_spec.georef = design->info();
  const auto discard_map = [&] {
    if (job.map) io::discard_output(map_spec);
  };
  if (job.map)
    on_every_rank(comm, "defects: creating the map", [&] {
      if (comm.is_root()) io::create_tiled_output(map_spec);
    });
  on_every_rank(
      comm, "defects: strips",
      [&] {
        std::vector<defects::StripComponents> strips;
        std::unique_ptr<io::LaidOutTileWriter> writer;
        if (job.map) writer = std::make_unique<io::LaidOutTileWriter>(map_spec);
        Window2 w;
        std::vector<uint8_t> grey;
        defects::DeltaMap map;
        for (const plan::RowRange& r : mine) {
          read_rows(*design, *aligned, r.y0, r.rows, job.fill >= 0 ? std::max(o.halo(), fill_halo) : o.halo(), w);
          defects::delta_map(w.px, r.y0, r.rows, model, o, mask(w, r.y0, r.rows).data(), map);
          strips.push_back(defects::label_strip(map, size.width, size.height, r.y0, r.rows, o));
          if (writer) {
            map_strip(map, grey);
            writer->write_strip(r.y0, r.rows, grey.data(), static_cast<size_t>(size.width));
          }
        }
        message = defects::encode(strips);
      },
      discard_map);
  parts = comm.gather(message, 0);
  const double t_strips = now_seconds();
  std::vector<defects::Defect> found;  // rank 0's
  const std::string boxes = on_root_then_broadcast(comm, "defects: merging", [&] {
    std::vector<defects::StripComponents> strips;
    for (const std::string& p : parts) {
      std::vector<defects::StripComponents> s = defects::decode(p);
      std::move(s.begin(), s.end(), std::back_inserter(strips));
    }
    found = defects::merge_strips(std::move(strips), o);
    return defect_boxes_message(found);
  });
  parts.clear();
  const CropSource windows{&*design, &*aligned, &t, &model, o, margin, job.fill};
  on_every_rank(comm, "defects: centroids",
                [&] { message = extent_centroids_share(boxes, comm.rank(), comm.size(), windows); });
  parts = comm.gather(message, 0);
  const double t_centroids = now_seconds();
  const std::string summary = on_root_then_broadcast(comm, "defects: writing", [&] {
    const int64_t centred = apply_extent_centroids(parts, found);
    for (defects::Defect& d : found) {
      const Vec2 q = t.transform.apply(Vec2{d.cx, d.cy});
      d.scan_cx = q.x;
      d.scan_cy = q.y;
    }
    files::write_atomically(paths.csv, defects::csv_text(found));
    files::write_atomically(paths.geojson, defects::geojson_text(found));
    nlohmann::json crops = nlohmann::json::array();
    if (!job.crops_folder.empty()) crops = write_defect_crops(found, windows, job.crops_folder);
    if (job.map) {
      try {
        io::finish_output(map_spec);
      } catch (...) {
        discard_map();
        throw;
      }
    }
    nlohmann::json kinds = {{"missing_ink", 0}, {"extra_ink", 0}, {"colour_shift", 0}};
    for (const defects::Defect& d : found)
      kinds[defects::kind_name(d.kind)] = kinds[defects::kind_name(d.kind)].get<int>() + 1;
    // Defects with no pixel at --defect-high: found by the faint rule alone (defects::is_strong).
    const auto faint =
        std::count_if(found.begin(), found.end(), [&](const defects::Defect& d) { return d.max_de < o.high; });
    const double seconds = now_seconds() - t0;
    spdlog::info("defects: {} found ({} missing ink, {} extra ink, {} colour shift) in {:.2f} s: {}", found.size(),
                 kinds["missing_ink"].get<int>(), kinds["extra_ink"].get<int>(), kinds["colour_shift"].get<int>(),
                 seconds, paths.csv);
    nlohmann::json j{{"count", found.size()},
                     {"kinds", kinds},
                     {"faint", faint},
                     {"csv", paths.csv},
                     {"geojson", paths.geojson},
                     {"colour_model", model_json(model)},
                     {"lossy_source", lossy},
                     {"delta_e", "CIE 1976"},
                     {"crops", crops},
                     {"options",
                      {{"compare", o.compare == defects::Compare::kEnvelope ? "envelope" : "nearest"},
                       {"radius", o.radius},
                       {"scale", o.scale},
                       {"high", o.high},
                       {"low", o.low},
                       {"faint_mean", defects::faint_mean(o)},
                       {"faint_excess", defects::faint_excess(o)},
                       {"min_area", o.min_area},
                       {"join_gap", o.join_gap},
                       {"sample_step", step},
                       {"strip_rows", kDefectStripRows},
                       {"coverage_margin", margin}}},
                     {"centroids_from_extent", centred},
                     {"stage_seconds",
                      {{"colour_model", t_model - t0},
                       {"strips", t_strips - t_model},
                       {"centroids", t_centroids - t_strips},
                       {"total", seconds}}}};
    return j.dump();
  });
  nlohmann::json facts = nlohmann::json::parse(summary);
  // The largest peak RSS of any rank by the end of the stage (the process's peak: the warp's too).
  facts["peak_rss_bytes_max_rank"] = comm.allreduce_max(static_cast<int64_t>(peak_rss_bytes()));
  return facts;
}

}  // namespace alinify::job::detail
