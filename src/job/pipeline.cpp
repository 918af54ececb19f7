#include "alinify/job/pipeline.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/paths.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/output_lock.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/job/decimate_ranks.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/job/rank_report.hpp"
#include "alinify/par/agree.hpp"
#include "alinify/plan/memory_budget.hpp"
#include "alinify/plan/planner.hpp"
#include "alinify/qa/job_files.hpp"
#include "alinify/reg/elastix_log.hpp"
#include "alinify/reg/presets.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "alinify/warp/backend.hpp"
#include "compressed_tiles.hpp"
#include "defects_stage.hpp"
#include "pipeline_warp.hpp"
#include "rank_plan.hpp"

namespace fs = std::filesystem;

namespace alinify::job {

using detail::rank_budget;
namespace {

// The smallest design share that must map inside the scan for a result to count as aligned.
constexpr double kMinOverlap = 0.01;

using par::on_every_rank;
using par::on_root_then_broadcast;

// The inputs a registration reads (for the output == input check).
std::vector<paths::Named> register_inputs(const RegisterJob& job) {
  std::vector<paths::Named> in{{"--design", job.design}, {"--scan", job.scan}};
  for (const auto& p : job.reg.parameter_files) in.push_back({"--params", p});
  if (job.reg.init_names_file()) in.push_back({"--init", job.reg.init});
  return in;
}

// Before anything is opened for writing: no output is an input, every output folder takes files.
// `run` and batch create a missing output folder: they also write the elastix folder beside the
// transform, and a manifest may give each job a folder of its own. `warp` and `register` want it to
// exist, so that a mistyped folder is an error instead of a new tree.
void check_outputs(const std::vector<paths::Named>& outputs, const std::vector<paths::Named>& inputs,
                   bool create_folders = false) {
  paths::refuse_overwriting_inputs(outputs, inputs);
  for (const auto& o : outputs) {
    if (create_folders) {
      std::error_code ec;
      const fs::path dir = fs::absolute(o.second).parent_path();
      fs::create_directories(dir, ec);
      if (ec) fail_input(o.second, "cannot create the output folder " + dir.string() + ": " + ec.message());
    }
    paths::require_writable_folder(o.second);
  }
}

std::string elastix_dir_for(const std::string& transform_out) {
  fs::path p(transform_out);
  return (p.parent_path() / (p.stem().string() + ".elastix")).string();
}

void check_overlap(const transform::TransformFile& t, const std::string& blame) {
  const double f = reg::overlap_fraction(t.transform, t.design, t.scan);
  if (f < kMinOverlap)
    fail_input(blame, "the design and the scan do not overlap under this transform (" +
                          std::to_string(static_cast<int>(f * 100)) + "% of the design maps inside the scan)");
}

void merge_facts(nlohmann::json& into, const nlohmann::json& from) {
  if (!into.is_object()) into = nlohmann::json::object();
  for (const auto& [k, v] : from.items()) into[k] = v;
}

// The planner's decision and its inputs, stage times and elastix's log summary (metrics.json).
nlohmann::json registration_facts(const plan::Budget& budget, const plan::RegistrationPlan& p,
                                  const reg::RegistrationResult& r, double total_seconds) {
  nlohmann::json res = nlohmann::json::array();
  for (const reg::ElastixResolutionLog& l : reg::parse_elastix_log(r.elastix_log))
    res.push_back({{"parameter_file", l.parameter_file},
                   {"resolution", l.resolution},
                   {"iterations", l.iterations},
                   {"final_metric", l.final_metric},
                   {"seconds", l.seconds},
                   {"stopping_condition", l.stopping_condition}});
  nlohmann::json f;
  f["registration"] = {
      {"plan",
       {{"budget_bytes", budget.bytes},
        {"budget_source", budget.source},
        {"budget_explain", budget.explain},
        {"factor", p.factor},
        {"design_registration_size", {p.design_reg.width, p.design_reg.height}},
        {"scan_registration_size", {p.scan_reg.width, p.scan_reg.height}},
        {"estimated_elastix_bytes", p.estimated_bytes},
        {"reason", p.reason}}},
      {"stage_seconds",
       {{"decimate", r.decimate_seconds},
        {"coarse", r.coarse_seconds},
        {"elastix", r.elastix_seconds},
        {"total", total_seconds}}},
      {"elastix", {{"log", r.elastix_log}, {"peak_rss_bytes", r.elastix_peak_rss}, {"resolutions", res}}}};
  return f;
}

// What a 16-bit design or scan was read as (io::describe_depth), once per pair for the log.
void log_depths(const io::Raster& design, const io::Raster& scan) {
  for (const io::Raster* r : {&design, &scan})
    if (const std::string depth = io::describe_depth(r->info()); !depth.empty()) spdlog::info("{}", depth);
}

}  // namespace

namespace {

// Rank 0's plan of a registration; the factor is broadcast, the rest stays with rank 0.
struct RegisterPlan {
  plan::Budget budget;
  plan::RegistrationPlan plan;
  reg::RegisterOptions options;
  Size design, scan;
  bool made_work_dir = false;
  double t_start = 0;
  // Rank 0 holds the transform output's lock from planning until the registration returns.
  std::unique_ptr<io::OutputLock> transform_lock;
};

int plan_register(par::Communicator& comm, const RegisterJob& job, RegisterPlan& rp) {
  const std::string text = on_root_then_broadcast(comm, "planning the registration", [&] {
    rp.t_start = now_seconds();
    check_outputs({{"the transform output", job.transform_out}}, register_inputs(job));
    if (!job.reg.coarse_debug_dir.empty()) paths::require_creatable_folder(job.reg.coarse_debug_dir, "--coarse-debug");
    // One writer per transform, as per image output: a second register to the same path fails
    // here (exit 3) before it touches the elastix folder or the transform of the first.
    rp.transform_lock = std::make_unique<io::OutputLock>(job.transform_out);
    io::Raster design = io::Raster::open(job.design);
    io::Raster scan = io::Raster::open(job.scan);
    log_depths(design, scan);
    rp.design = design.size();
    rp.scan = scan.size();
    plan::check_registration_size(job.design, rp.design);
    plan::check_registration_size(job.scan, rp.scan);
    rp.budget = rank_budget(comm, job.mem_budget);
    spdlog::info("memory budget {} per rank, from {} ({})", format_bytes(rp.budget.bytes), rp.budget.source,
                 rp.budget.explain);
    const std::string model_preset = job.reg.parameter_files.empty() ? job.reg.preset : "bspline";
    // With the refinement on, registration at full resolution buys nothing the refinement does not
    // bring: the size is capped unless the user set one (planner.hpp, kRefinedRegistrationPixels).
    const bool refined_cap = !job.max_pixels && job.refine == RefineMode::kAuto;
    rp.plan = plan::plan_registration(
        design.size(), scan.size(), rp.budget.bytes, plan::elastix_memory_model(model_preset),
        refined_cap ? std::optional<int64_t>(plan::kRefinedRegistrationPixels) : job.max_pixels,
        refined_cap ? "the refinement's registration size (--refine auto; --registration-max-pixels overrides)"
                    : "--registration-max-pixels");
    spdlog::info("plan: {}", rp.plan.reason);
    rp.options = job.reg;
    rp.options.work_dir = elastix_dir_for(job.transform_out);
    files::remove_leftovers_in(rp.options.work_dir);  // a killed registration's temporaries
    if (rp.options.grid_spacing <= 0) rp.options.grid_spacing = plan::bspline_grid_spacing(design.size());
    rp.options.refinement_follows = job.refine == RefineMode::kAuto;
    if (job.reg.parameter_files.empty() && job.reg.preset == "bspline")
      spdlog::info("B-spline control points every {} full-resolution pixels{}", rp.options.grid_spacing,
                   rp.options.refinement_follows ? std::string("; preset lightened because the refinement follows (") +
                                                       reg::kLightenedSummary + ")"
                                                 : std::string());
    rp.options.scan_path = job.scan;
    // Parameter files first: a malformed user file fails before any heavy work.
    reg::check_registration_inputs(rp.options);
    std::error_code ec;
    rp.made_work_dir = !fs::exists(rp.options.work_dir, ec);
    return std::to_string(rp.plan.factor);
  });
  return std::stoi(text);
}

// Every rank averages its rows of both images (job/decimate_ranks.hpp); rank 0 writes them where
// elastix reads them, one image at a time.
reg::RegistrationImages decimate_for_registration(par::Communicator& comm, const RegisterJob& job, int factor,
                                                  RegisterPlan& rp) {
  const auto discard = [&] { reg::discard_registration_work(rp.options.work_dir, rp.made_work_dir); };
  std::optional<io::Raster> design, scan;
  reg::RegistrationImages images;
  par::on_every_rank(
      comm, "opening the images",
      [&] {
        design = io::Raster::open(job.design);
        scan = io::Raster::open(job.scan);
        if (comm.is_root()) images = reg::start_registration_images(design->size(), scan->size(), factor, rp.options);
      },
      discard);
  const double t0 = now_seconds();
  for (const bool is_design : {true, false}) {
    const io::GreyImage image = decimate_on_every_rank(comm, is_design ? *design : *scan, factor, discard);
    par::on_every_rank(
        comm, "writing the registration images",
        [&] {
          if (comm.is_root()) reg::keep_registration_image(images, is_design, image, rp.options);
        },
        discard);
  }
  images.decimate_seconds = now_seconds() - t0;
  if (comm.size() > 1) spdlog::info("decimation on {} ranks", comm.size());
  return images;
}

}  // namespace

transform::TransformFile run_register(par::Communicator& comm, const RegisterJob& job, nlohmann::json* facts) {
  RegisterPlan rp;
  const int factor = plan_register(comm, job, rp);
  reg::RegistrationImages images = decimate_for_registration(comm, job, factor, rp);
  std::string text = on_root_then_broadcast(comm, "registration", [&] {
    reg::RegisterOptions& ro = rp.options;
    reg::RegistrationResult r = [&] {
      RegistrationTicker ticker(job.progress, ro.work_dir + "/elastix.log");
      return reg::register_decimated(images, rp.design, ro, rp.made_work_dir);
    }();
    const plan::RegistrationPlan& p = rp.plan;
    const double t_start = rp.t_start;
    const plan::Budget& budget = rp.budget;

    transform::TransformFile f;
    f.transform = r.transform;
    f.design = rp.design;
    f.scan = rp.scan;
    f.registration_factor = p.factor;
    f.preset = job.reg.parameter_files.empty() ? job.reg.preset : "custom";
    f.has_initial = r.has_initial;
    f.initial = r.initial;
    check_overlap(f, job.scan);
    const std::string json = transform::to_json_text(f);
    // The elastix folder first: transform.json appears only when everything it refers to exists.
    auto full = transform::write_full_resolution_chain(r.elastix_chain.back(), ro.work_dir, rp.design);
    files::write_atomically(job.transform_out, json);
    spdlog::info("transform {} (full-resolution elastix chain {}, elastix log {})", job.transform_out, full.back(),
                 r.elastix_log);
    spdlog::info(
        "stage times: decimate {:.2f} s, coarse {:.2f} s, elastix {:.2f} s, registration total {:.2f} s; elastix peak "
        "RSS {}",
        r.decimate_seconds, r.coarse_seconds, r.elastix_seconds, now_seconds() - t_start,
        format_bytes(r.elastix_peak_rss));
    if (facts) *facts = registration_facts(budget, p, r, now_seconds() - t_start);
    return json;
  });
  return transform::from_json_text(text, "broadcast transform");
}

transform::TransformFile load_and_broadcast(par::Communicator& comm, const std::string& path) {
  std::string text = on_root_then_broadcast(comm, "reading the transform", [&] {
    paths::require_input_file(path);
    std::string text = files::read_file(path);
    transform::from_json_text(text, path);  // validate on rank 0, where the error is reported
    return text;
  });
  return transform::from_json_text(text, path);
}

namespace {

using detail::WarpClock;
using detail::WarpSetup;
using detail::WarpTimes;

// The transform must have been made for this very design and scan, and bring them together.
void check_transform_fits(const transform::TransformFile& t, const WarpJob& job, Size design, Size scan) {
  const std::string blame = job.transform_path.empty() ? std::string("transform") : job.transform_path;
  if (!(t.design == design))
    fail_input(blame, "was made for a " + std::to_string(t.design.width) + "x" + std::to_string(t.design.height) +
                          " design, but " + job.design + " is " + std::to_string(design.width) + "x" +
                          std::to_string(design.height));
  if (!(t.scan == scan))
    fail_input(blame, "was made for a " + std::to_string(t.scan.width) + "x" + std::to_string(t.scan.height) +
                          " scan, but " + job.scan + " is " + std::to_string(scan.width) + "x" +
                          std::to_string(scan.height));
  check_overlap(t, blame);
}

// Every rank opens the pair, checks the transform against it, plans its strips and gets a backend;
// then the ranks agree on one strip height.
WarpSetup set_up_warp(par::Communicator& comm, const transform::TransformFile& t, const WarpJob& job) {
  WarpSetup s;
  on_every_rank(comm, "warp setup", [&] {
    check_warp_options(job);  // the CLI checked them already; other callers of run_warp did not
    io::Raster design = io::Raster::open(job.design);
    s.scan.emplace(io::Raster::open(job.scan));
    if (comm.is_root()) log_depths(design, *s.scan);
    check_transform_fits(t, job, design.size(), s.scan->size());
    s.settings = detail::warp_settings(job);
    s.spec = detail::output_spec(job, design);
    s.budget = rank_budget(comm, job.mem_budget);
    s.strips = plan::plan_strips(s.spec.size, s.spec.tile, s.budget.bytes, comm.size());
    s.window_limit = s.budget.bytes / 4;
    s.backend = detail::rank_backend(comm, job, t.transform, s.window_limit);
  });
  s.strips.strip_rows = detail::agreed_strip_rows(comm, s.strips.strip_rows);
  if (comm.is_root()) spdlog::info("warp plan: {} (agreed strip height {} rows)", s.strips.reason, s.strips.strip_rows);
  spdlog::info("warp backend {}", s.backend->name());
  return s;
}

// Every rank warps and writes its own strips; a failure anywhere removes the partial output.
WarpTimes warp_my_strips(par::Communicator& comm, const WarpSetup& s, const transform::Transform& t,
                         ProgressMode progress_mode) {
  WarpProgress progress(comm, progress_mode, s.strip_count(), s.spec.size.pixels());
  // Compressed tiles travel to rank 0 on a communicator of their own (collective, so made here).
  std::unique_ptr<par::Communicator> tiles_comm = io::compressed_by_ranks(s.spec) ? comm.duplicate() : nullptr;
  WarpTimes times;
  on_every_rank(
      comm, "warp",
      [&] {
        std::optional<detail::CompressedTileWriter> compressed;
        if (tiles_comm) compressed.emplace(*tiles_comm, s.spec, s.strips.strip_rows);
        try {
          std::unique_ptr<io::LaidOutTileWriter> laid_out;
          if (!compressed) laid_out = std::make_unique<io::LaidOutTileWriter>(s.spec);
          io::TileWriter& writer = compressed ? static_cast<io::TileWriter&>(*compressed) : *laid_out;
          std::vector<uint8_t> strip(static_cast<size_t>(s.strips.strip_rows) * s.spec.size.width * 3);
          std::vector<uint8_t> window_buf;
          for (const plan::RowRange& r :
               plan::strips_for_rank(s.spec.size.height, s.strips.strip_rows, comm.rank(), comm.size()))
            detail::warp_strip(r, s, t, writer, strip, window_buf, progress, times);
          if (compressed) compressed->finish(false);
        } catch (...) {
          if (compressed) compressed->finish(true);  // no rank may be left waiting on a send
          progress.finish(true);                     // rank 0 must not wait for this rank's strips
          throw;
        }
        progress.finish(false);
      },
      [&] { io::discard_output(s.spec); });
  return times;
}

// Rank 0 alone: overviews, the COG conversion, and the rename to the final name.
void finish_output(par::Communicator& comm, const io::OutputSpec& spec) {
  on_every_rank(
      comm, "finishing the output",
      [&] {
        // A stop that arrived after a rank's last block still stops the job: nothing is renamed
        // to the final name once a stop is pending.
        cancel::throw_if_requested();
        if (!comm.is_root()) return;
        // A stage of its own on a large output (rank 0 alone, streaming): say what it is doing.
        if (spec.overviews || spec.cog)
          spdlog::info("finishing the output:{}{}", spec.overviews && !spec.cog ? " overviews" : "",
                       spec.cog ? " Cloud Optimized GeoTIFF (compress " + spec.compress + ")" : std::string());
        io::finish_output(spec);
      },
      [&] { io::discard_output(spec); });
}

// Rank 0 logs every rank's split and peak RSS, and the output; returns metrics.json's "ranks" (rank 0).
nlohmann::json report_ranks(par::Communicator& comm, const WarpSetup& s, const WarpTimes& times, double t_start) {
  RankReport mine;
  mine.rank = comm.rank();
  mine.host = host_name();
  mine.local_rank = comm.local_rank();
  mine.local_size = comm.local_size();
  mine.budget_bytes = s.budget.bytes;
  mine.strips = times.strips;
  mine.read_seconds = times.read;
  mine.warp_seconds = times.warp;
  mine.write_seconds = times.write;
  mine.peak_rss_bytes = peak_rss_bytes();
  mine.elastix_peak_rss_bytes = peak_child_rss_bytes();
  mine.device = s.backend->device_times();
  const std::vector<std::string> all = comm.gather(to_message(mine), 0);
  nlohmann::json ranks = nlohmann::json::array();
  if (!comm.is_root()) return ranks;
  for (const std::string& message : all) {
    const RankReport r = rank_report_from_message(message);
    log_rank_report(r);
    ranks.push_back(to_metrics(r));
  }
  spdlog::info("output {} ({}x{}, {} interpolation, compress {}{}{}), warp stage {:.2f} s", s.spec.path,
               s.spec.size.width, s.spec.size.height, warp::interp_name(s.settings.interp), s.spec.compress,
               s.spec.overviews ? ", overviews" : "", s.spec.cog ? ", COG" : "", now_seconds() - t_start);
  return ranks;
}

// The QA pictures' previews, read by every rank: each reads every n-th band of preview rows of the
// design, the scan and the output (qa/pictures.hpp), rank 0 puts them together. At 283 MP the
// reads were most of the QA's time on rank 0 (3.8 s of 3.9).
qa::Previews read_previews_on_every_rank(par::Communicator& comm, const WarpJob& job) {
  qa::Previews previews;
  on_every_rank(comm, "QA previews", [&] {
    previews = qa::read_previews(io::Raster::open(job.design), io::Raster::open(job.scan), io::Raster::open(job.out),
                                 job.qa.preview, comm.rank(), comm.size());
  });
  const std::vector<std::string> parts = comm.gather(qa::pack_bands(previews, comm.rank(), comm.size()), 0);
  on_every_rank(comm, "QA previews", [&] {
    if (!comm.is_root()) return;
    for (int r = 1; r < comm.size(); ++r) qa::unpack_bands(previews, parts.at(static_cast<size_t>(r)), r, comm.size());
  });
  return previews;
}

// QA on rank 0 (a few dozen tiles and the previews); every rank learns the verdict.
WarpReport check_quality(par::Communicator& comm, const transform::TransformFile& t, const WarpJob& job,
                         nlohmann::json ranks, nlohmann::json warp) {
  WarpReport report;
  int suspect = 0;
  const double t0 = now_seconds();
  const qa::Previews previews = read_previews_on_every_rank(comm, job);
  const double previews_seconds = now_seconds() - t0;
  on_every_rank(comm, "QA report", [&] {
    if (!comm.is_root()) return;
    QaInputs in;
    in.previews = &previews;
    in.design = job.design;
    in.scan = job.scan;
    in.output = job.out;
    in.transform_path = job.transform_path;
    in.transform = &t;
    in.residuals = &job.residuals;
    in.facts = job.facts.is_object() ? job.facts : nlohmann::json::object();
    in.facts["ranks"] = std::move(ranks);
    in.facts["job"]["ranks"] = comm.size();
    in.facts["warp"] = std::move(warp);
    in.facts["qa"] = {{"previews_seconds", previews_seconds}, {"previews_ranks", comm.size()}};
    report.metrics = write_job_qa(in, job.qa);
    suspect = report.metrics["verdict"]["suspect"].get<bool>();
  });
  report.suspect = comm.allreduce_max(suspect) != 0;
  return report;
}

// The files a job writes beside its image output (defect lists and map, metrics, report) and the
// folder of its QA pictures: what a failed job removes, and what a rerun cleans of a killed one.
struct FilesBeside {
  std::vector<std::string> files;
  std::string pictures;
};

FilesBeside files_beside(const std::string& image_out) {
  const detail::DefectPaths d = detail::defect_paths_for(image_out);
  const qa::QaPaths q = qa::qa_paths_for(image_out);
  return {{d.csv, d.geojson, d.map, q.metrics, q.report}, q.pictures};
}

// After the rename, the defect stage and the QA read the finished output back, and the QA reads the
// design's pixels for the first time (the warp needs only its grid). When either fails (a design
// truncated in its pixel data, a full disk), the job leaves nothing under a final name: not the
// output, not a part of the defect list or of the QA report, so that a failed job never leaves a
// finished-looking output (a batch reruns it whole). Chosen over reading the whole design before
// the warp: that read would cost about what the warp's own reads cost on a large design, only to
// check pixels that --no-qa never reads, and would still not cover a failure of the QA itself.
template <class Stage>
auto after_rename_or_no_output(par::Communicator& comm, const WarpJob& job, Stage&& stage) {
  try {
    return stage();
  } catch (...) {
    if (comm.is_root()) {
      const FilesBeside beside = files_beside(job.out);
      std::error_code ec;
      fs::remove(job.out, ec);
      for (const std::string& f : beside.files) fs::remove(f, ec);
      fs::remove_all(beside.pictures, ec);
    }
    throw;
  }
}

// The warp, once rank 0 holds the output's lock: the stages of the pipeline picture in
// docs/architecture.md, from "open scan; agree on the strip height" to the QA.
WarpReport warp_into_locked_output(par::Communicator& comm, const transform::TransformFile& t, const WarpJob& job) {
  WarpClock clock;
  clock.start = now_seconds();
  const WarpSetup setup = set_up_warp(comm, t, job);
  clock.setup = now_seconds();
  // Rank 0's temporary output goes the moment a stop signal arrives (core/cancel.hpp), until it
  // has its final name.
  struct RemovedOnStop {
    ~RemovedOnStop() { cancel::remove_on_stop(""); }
  } removed_on_stop;
  on_every_rank(comm, "creating the output", [&] {
    if (!comm.is_root()) return;
    io::create_tiled_output(setup.spec);
    cancel::remove_on_stop(io::partial_path(setup.spec.path));
  });
  const WarpTimes times = warp_my_strips(comm, setup, t.transform, job.progress);
  clock.warped = now_seconds();
  try {
    finish_output(comm, setup.spec);
  } catch (...) {
    cancel::throw_if_requested();  // a stop that removed the temporary output is a stop, not an error
    throw;
  }
  cancel::remove_on_stop("");
  clock.finished = now_seconds();
  nlohmann::json ranks = report_ranks(comm, setup, times, clock.start);
  // Defects from the written output read back by strips: a strip's halo rows may lie in another
  // rank's strip, which the file holds once every rank has written (docs/defects.md).
  WarpJob with_defects = job;
  if (job.find_defects)
    with_defects.facts["defects"] =
        after_rename_or_no_output(comm, job, [&] { return detail::find_defects(comm, job, t); });
  if (!job.qa.enabled) return WarpReport{};
  return after_rename_or_no_output(comm, job, [&] {
    return check_quality(comm, t, with_defects, std::move(ranks), detail::warp_facts(setup, clock));
  });
}

// What a job killed with -9 left beside its image output (the lock's holder removes it): the
// temporaries of its QA files and defect lists, which a rerun would not overwrite (their names
// carry the dead process's pid).
void remove_leftovers_beside(const std::string& image_out) {
  const FilesBeside beside = files_beside(image_out);
  for (const std::string& f : beside.files) files::remove_leftovers_of(f);
  files::remove_leftovers_in(beside.pictures);
}

// Rank 0 checks the outputs and locks the image output; the lock lives until the job returns.
std::unique_ptr<io::OutputLock> lock_outputs(par::Communicator& comm, const std::vector<paths::Named>& outputs,
                                             const std::vector<paths::Named>& inputs, const std::string& image_out,
                                             bool create_folders) {
  std::unique_ptr<io::OutputLock> lock;
  on_every_rank(comm, "checking the outputs", [&] {
    if (!comm.is_root()) return;
    check_outputs(outputs, inputs, create_folders);
    lock = std::make_unique<io::OutputLock>(image_out);
    remove_leftovers_beside(image_out);
  });
  return lock;
}

// `run`'s warp: when it fails or is stopped, the transform the registration wrote goes too, so
// that a job that did not finish leaves nothing under a final name (a batch reruns it whole).
WarpReport warp_removing_transform_on_failure(par::Communicator& comm, const transform::TransformFile& t,
                                              const WarpJob& job, const std::string& transform_out) {
  try {
    return warp_into_locked_output(comm, t, job);
  } catch (...) {
    std::error_code ec;
    if (comm.is_root()) fs::remove(transform_out, ec);
    throw;
  }
}

std::vector<paths::Named> warp_inputs(const WarpJob& job) {
  return {{"--design", job.design}, {"--scan", job.scan}, {"--transform", job.transform_path}};
}

}  // namespace

transform::TransformFile register_and_refine(par::Communicator& comm, const RegisterJob& job, nlohmann::json* facts,
                                             int tile, qa::ResidualGrid* residuals) {
  const transform::TransformFile t = run_register(comm, job, facts);
  try {
    return refine_transform(comm, t,
                            RefineJob{job.refine, job.design, job.scan, job.transform_out, job.mem_budget, tile}, facts,
                            residuals);
  } catch (...) {
    std::error_code ec;
    if (comm.is_root()) fs::remove(job.transform_out, ec);
    throw;
  }
}

WarpReport run_warp(par::Communicator& comm, const transform::TransformFile& t, const WarpJob& job) {
  auto lock = lock_outputs(comm, {{"--out", job.out}}, warp_inputs(job), job.out, false);
  return warp_into_locked_output(comm, t, job);
}

RunReport run_pipeline(par::Communicator& comm, const RegisterJob& reg, const WarpJob& warp) {
  RunReport report;
  const double t0 = now_seconds();
  std::vector<paths::Named> inputs = register_inputs(reg);
  inputs.push_back({"--design", warp.design});
  inputs.push_back({"--scan", warp.scan});
  auto lock = lock_outputs(comm, {{"--out", warp.out}, {"--transform-out", reg.transform_out}}, inputs, warp.out, true);
  nlohmann::json facts = nlohmann::json::object();
  qa::ResidualGrid residuals;
  const transform::TransformFile t = register_and_refine(comm, reg, &facts, warp.tile, &residuals);
  const double t1 = now_seconds();
  report.registration_factor = t.registration_factor;
  report.register_seconds = t1 - t0;
  if (comm.is_root())
    spdlog::info("registration{} and broadcast: {:.2f} s", reg.refine == RefineMode::kAuto ? ", refinement" : "",
                 t1 - t0);
  WarpJob w = warp;
  if (w.transform_path.empty()) w.transform_path = reg.transform_out;
  merge_facts(w.facts, facts);
  w.residuals = std::move(residuals);
  w.facts["job"]["command"] = "run";
  w.facts["stage_seconds"] = {{"registration_and_broadcast", report.register_seconds}};
  WarpReport wr = warp_removing_transform_on_failure(comm, t, w, reg.transform_out);
  report.suspect = wr.suspect;
  report.metrics = std::move(wr.metrics);
  report.total_seconds = now_seconds() - t0;
  report.warp_seconds = report.total_seconds - report.register_seconds;
  if (comm.is_root()) spdlog::info("run finished in {:.2f} s", report.total_seconds);
  return report;
}

}  // namespace alinify::job
