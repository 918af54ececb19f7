#include "alinify/job/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <unistd.h>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/output_lock.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/par/agree.hpp"
#include "alinify/plan/memory_budget.hpp"
#include "alinify/plan/planner.hpp"
#include "alinify/reg/elastix_log.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "alinify/warp/backend.hpp"

namespace fs = std::filesystem;

namespace alinify::job {
namespace {

// The smallest design share that must map inside the scan for a result to count as aligned.
constexpr double kMinOverlap = 0.01;

using par::on_every_rank;
using par::on_root_then_broadcast;

void write_text_atomically(const std::string& path, const std::string& text) {
  // A name of this process only: two jobs writing the same path never share a temporary file.
  const std::string tmp = path + ".partial." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      fail_runtime("cannot write " + path + " (disk full?)");
    }
  }
  fs::rename(tmp, path);
}

// The inputs a registration reads (for the output == input check).
std::vector<paths::Named> register_inputs(const RegisterJob& job) {
  std::vector<paths::Named> in{{"--design", job.design}, {"--scan", job.scan}};
  for (const auto& p : job.reg.parameter_files) in.push_back({"--params", p});
  if (job.reg.init_names_file()) in.push_back({"--init", job.reg.init});
  return in;
}

// Before anything is opened for writing: no output is an input, every output folder takes files.
// `run` and batch create a missing output folder (as they always did, through the elastix folder);
// `warp` and `register` want it to exist.
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

plan::Budget rank_budget(par::Communicator& comm, std::optional<uint64_t> user) {
  return plan::choose_budget(plan::discover_memory(comm.local_size(), user));
}

struct WarpTimes {
  double read = 0, warp = 0, write = 0;
  int64_t strips = 0, blocks = 0;
};

// Warps one output block into the strip buffer; splits it when its source window would not fit.
void warp_block(const Window& block, const io::Raster& scan, const transform::Transform& t, warp::Backend& backend,
                const warp::WarpSettings& settings, uint64_t window_limit, int tile, uint8_t* strip, int64_t strip_y0,
                size_t strip_stride, std::vector<uint8_t>& window_buf, WarpTimes& times) {
  const Window src = warp::source_window(t, block, scan.size(), settings.interp);
  uint8_t* out = strip + (block.y0 - strip_y0) * strip_stride + block.x0 * 3;
  if (src.empty()) {  // the whole block maps outside the scan
    for (int64_t j = 0; j < block.height; ++j)
      for (int64_t i = 0; i < block.width; ++i) std::memcpy(out + j * strip_stride + i * 3, settings.fill.data(), 3);
    ++times.blocks;
    return;
  }
  const uint64_t bytes = static_cast<uint64_t>(src.width) * src.height * 3;
  if (bytes > window_limit && (block.width > tile || block.height > tile)) {
    // Split the longer side on a tile boundary (or in half when under two tiles).
    const bool cols = block.width >= block.height;
    const int64_t len = cols ? block.width : block.height;
    int64_t half = len / 2 >= tile ? (len / 2) / tile * tile : len / 2;
    Window a = block, b = block;
    if (cols) {
      a.width = half;
      b.x0 += half;
      b.width -= half;
    } else {
      a.height = half;
      b.y0 += half;
      b.height -= half;
    }
    for (const Window& w : {a, b})
      warp_block(w, scan, t, backend, settings, window_limit, tile, strip, strip_y0, strip_stride, window_buf, times);
    return;
  }
  double t0 = now_seconds();
  window_buf.resize(bytes);
  scan.read_rgb(src, window_buf.data(), static_cast<size_t>(src.width) * 3);
  double t1 = now_seconds();
  warp::SourceView sv{window_buf.data(), src.x0, src.y0, src.width, src.height, src.width * 3,
                      scan.size().width, scan.size().height};
  warp::OutputBlock ob{out, block.x0, block.y0, block.width, block.height, static_cast<int64_t>(strip_stride)};
  backend.submit(sv, ob, settings);  // a GPU keeps it in flight while the next window is read
  times.read += t1 - t0;
  times.warp += now_seconds() - t1;
  ++times.blocks;
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
    res.push_back({{"parameter_file", l.parameter_file}, {"resolution", l.resolution}, {"iterations", l.iterations},
                   {"final_metric", l.final_metric}, {"seconds", l.seconds},
                   {"stopping_condition", l.stopping_condition}});
  nlohmann::json f;
  f["registration"] = {
      {"plan",
       {{"budget_bytes", budget.bytes}, {"budget_source", budget.source}, {"budget_explain", budget.explain},
        {"factor", p.factor}, {"design_registration_size", {p.design_reg.width, p.design_reg.height}},
        {"scan_registration_size", {p.scan_reg.width, p.scan_reg.height}},
        {"estimated_elastix_bytes", p.estimated_bytes}, {"reason", p.reason}}},
      {"stage_seconds",
       {{"decimate", r.decimate_seconds}, {"coarse", r.coarse_seconds}, {"elastix", r.elastix_seconds},
        {"total", total_seconds}}},
      {"elastix", {{"log", r.elastix_log}, {"peak_rss_bytes", r.elastix_peak_rss}, {"resolutions", res}}}};
  return f;
}

}  // namespace

transform::TransformFile run_register(par::Communicator& comm, const RegisterJob& job, nlohmann::json* facts) {
  std::string text = on_root_then_broadcast(comm, "registration", [&] {
    const double t_start = now_seconds();
    check_outputs({{"the transform output", job.transform_out}}, register_inputs(job));
    io::Raster design = io::Raster::open(job.design);
    io::Raster scan = io::Raster::open(job.scan);
    plan::Budget budget = rank_budget(comm, job.mem_budget);
    spdlog::info("memory budget {} per rank, from {} ({})", format_bytes(budget.bytes), budget.source, budget.explain);
    const std::string model_preset = job.reg.parameter_files.empty() ? job.reg.preset : "bspline";
    plan::RegistrationPlan p = plan::plan_registration(design.size(), scan.size(), budget.bytes,
                                                       plan::elastix_memory_model(model_preset), job.max_pixels);
    spdlog::info("plan: {}", p.reason);

    reg::RegisterOptions ro = job.reg;
    ro.work_dir = elastix_dir_for(job.transform_out);
    if (ro.grid_spacing <= 0) ro.grid_spacing = plan::bspline_grid_spacing(design.size());
    if (job.reg.parameter_files.empty() && job.reg.preset == "bspline")
      spdlog::info("B-spline control points every {} full-resolution pixels", ro.grid_spacing);
    ro.scan_path = job.scan;
    reg::RegistrationResult r = [&] {
      RegistrationTicker ticker(parse_progress_mode(job.progress), ro.work_dir + "/elastix.log");
      return reg::register_pair(design, scan, p.factor, ro);
    }();

    transform::TransformFile f;
    f.transform = r.transform;
    f.design = design.size();
    f.scan = scan.size();
    f.registration_factor = p.factor;
    f.preset = job.reg.parameter_files.empty() ? job.reg.preset : "custom";
    f.has_initial = r.has_initial;
    f.initial = r.initial;
    check_overlap(f, job.scan);
    const std::string json = transform::to_json_text(f);
    // The elastix folder first: transform.json appears only when everything it refers to exists.
    auto full = transform::write_full_resolution_chain(r.elastix_chain.back(), ro.work_dir, design.size());
    write_text_atomically(job.transform_out, json);
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
    std::ifstream in(path);
    if (!in) fail_input(path, "cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    transform::from_json_text(ss.str(), path);  // validate on rank 0, where the error is reported
    return ss.str();
  });
  return transform::from_json_text(text, path);
}

namespace {

// The warp, once rank 0 holds the output's lock.
WarpReport warp_into_locked_output(par::Communicator& comm, const transform::TransformFile& t, const WarpJob& job) {
  const double t_start = now_seconds();
  std::optional<io::Raster> scan;
  std::unique_ptr<warp::Backend> backend;
  warp::WarpSettings settings;
  io::OutputSpec spec;
  plan::StripPlan strips;
  plan::Budget budget;
  uint64_t window_limit = 0;
  ProgressMode progress_mode = ProgressMode::kAuto;

  on_every_rank(comm, "warp setup", [&] {
    progress_mode = parse_progress_mode(job.progress);
    io::Raster design = io::Raster::open(job.design);
    scan.emplace(io::Raster::open(job.scan));
    const std::string blame = job.transform_path.empty() ? std::string("transform") : job.transform_path;
    if (!(t.design == design.size()))
      fail_input(blame, "was made for a " + std::to_string(t.design.width) + "x" + std::to_string(t.design.height) +
                            " design, but " + job.design + " is " + std::to_string(design.size().width) + "x" +
                            std::to_string(design.size().height));
    if (!(t.scan == scan->size()))
      fail_input(blame, "was made for a " + std::to_string(t.scan.width) + "x" + std::to_string(t.scan.height) +
                            " scan, but " + job.scan + " is " + std::to_string(scan->size().width) + "x" +
                            std::to_string(scan->size().height));
    check_overlap(t, blame);
    settings.interp = warp::parse_interp(job.interp);
    if (job.fill < 0 || job.fill > 255) fail_usage("--fill: " + std::to_string(job.fill) + " is not in 0..255");
    settings.fill = {static_cast<uint8_t>(job.fill), static_cast<uint8_t>(job.fill), static_cast<uint8_t>(job.fill)};
    if (job.tile < 16 || job.tile % 16 != 0) fail_usage("--tile: must be a multiple of 16");
    if (fs::exists(job.out) && fs::is_directory(job.out)) fail_input(job.out, "is a directory");
    spec.path = job.out;
    spec.size = design.size();
    spec.tile = job.tile;
    spec.compress = job.compress;
    spec.overviews = job.overviews;
    spec.cog = job.cog;
    spec.georef = design.info();
    budget = rank_budget(comm, job.mem_budget);
    strips = plan::plan_strips(spec.size, spec.tile, budget.bytes, comm.size());
    window_limit = budget.bytes / 4;
    warp::BackendRequest request;
    request.name = job.backend;
    request.local_rank = comm.local_rank();
    request.local_size = comm.local_size();
    request.device = job.device;
    request.gpus_per_rank = job.gpus_per_rank;
    backend = warp::make_backend(request);
    backend->set_transform(t.transform);
    // A device holds two blocks in flight, each a source window and an output block: a quarter of
    // its share of VRAM per window keeps both slots inside it.
    if (const uint64_t vram = backend->device_memory_budget(); vram > 0 && vram / 4 < window_limit) {
      window_limit = vram / 4;
      spdlog::info("source windows limited to {} by {} of device memory for this rank", format_bytes(window_limit),
                   format_bytes(vram));
    }
  });
  // Every rank must cut the image the same way: the smallest strip height wins.
  strips.strip_rows = static_cast<int>(-comm.allreduce_max(-strips.strip_rows));
  if (comm.is_root()) spdlog::info("warp plan: {} (agreed strip height {} rows)", strips.reason, strips.strip_rows);
  spdlog::info("warp backend {}", backend->name());
  const double t_setup = now_seconds();

  on_every_rank(comm, "creating the output", [&] {
    if (comm.is_root()) io::create_tiled_output(spec);
  });

  const int64_t total_strips = (spec.size.height + strips.strip_rows - 1) / strips.strip_rows;
  WarpProgress progress(comm, progress_mode, total_strips, spec.size.pixels());
  WarpTimes times;
  on_every_rank(
      comm, "warp",
      [&] {
        try {
          io::TileWriter writer(spec);
          const size_t stride = static_cast<size_t>(spec.size.width) * 3;
          std::vector<uint8_t> strip(static_cast<size_t>(strips.strip_rows) * stride);
          std::vector<uint8_t> window_buf;
          for (const plan::RowRange& r : plan::strips_for_rank(spec.size.height, strips.strip_rows, comm.rank(),
                                                               comm.size())) {
            for (int64_t bx = 0; bx < spec.size.width; bx += strips.block_cols) {
              Window block{bx, r.y0, std::min<int64_t>(strips.block_cols, spec.size.width - bx), r.rows};
              warp_block(block, *scan, t.transform, *backend, settings, window_limit, spec.tile, strip.data(), r.y0,
                         stride, window_buf, times);
              progress.poll();  // rank 0 only: the other ranks' reports, between its own blocks
              cancel::throw_if_requested();
            }
            const double t_drain = now_seconds();
            backend->drain();  // the strip's blocks still on a device land in `strip`
            const double t0 = now_seconds();
            times.warp += t0 - t_drain;
            writer.write_strip(r.y0, r.rows, strip.data(), stride);
            times.write += now_seconds() - t0;
            ++times.strips;
            progress.strip_done(r.rows * spec.size.width);
          }
        } catch (...) {
          progress.finish(true);  // rank 0 must not wait for this rank's strips
          throw;
        }
        progress.finish(false);
      },
      [&] { io::discard_output(spec); });
  const double t_warped = now_seconds();

  on_every_rank(
      comm, "finishing the output", [&] {
        if (!comm.is_root()) return;
        // A stage of its own on a large output (rank 0 alone, streaming): say what it is doing.
        if (spec.overviews || spec.cog || spec.compress != "none")
          spdlog::info("finishing the output:{}{}{}", spec.overviews && !spec.cog ? " overviews" : "",
                       spec.compress != "none" && !spec.cog ? " compress " + spec.compress : std::string(),
                       spec.cog ? " Cloud Optimized GeoTIFF (compress " + spec.compress + ")" : std::string());
        io::finish_output(spec);
      },
      [&] { io::discard_output(spec); });
  const double t_finished = now_seconds();

  // Rank 0 reports every rank's split and peak RSS.
  std::ostringstream mine;
  const warp::DeviceTimes dev = backend->device_times();
  mine << comm.rank() << " " << times.strips << " " << times.read << " " << times.warp << " " << times.write << " "
       << peak_rss_bytes() << " " << peak_child_rss_bytes() << " " << dev.measured << " " << dev.h2d << " "
       << dev.kernel << " " << dev.d2h;
  std::vector<std::string> all = comm.gather(mine.str(), 0);
  nlohmann::json ranks = nlohmann::json::array();
  if (comm.is_root()) {
    for (const std::string& line : all) {
      std::istringstream in(line);
      int rank = 0;
      int64_t n = 0;
      double rd = 0, wp = 0, wr = 0;
      uint64_t rss = 0, child = 0;
      bool measured = false;
      double h2d = 0, kernel = 0, d2h = 0;
      in >> rank >> n >> rd >> wp >> wr >> rss >> child >> measured >> h2d >> kernel >> d2h;
      // On a GPU, "warp" is the host's wait for the device; the device's own split follows.
      spdlog::info("rank {}: {} strips, read {:.2f} s, warp {:.2f} s{}, write {:.2f} s, peak RSS {}{}", rank, n, rd, wp,
                   measured ? fmt::format(" (device: H2D {:.3f} s, kernel {:.3f} s, D2H {:.3f} s)", h2d, kernel, d2h)
                            : std::string(),
                   wr, format_bytes(rss), child ? " (elastix child " + format_bytes(child) + ")" : std::string());
      ranks.push_back({{"rank", rank}, {"strips", n}, {"read_seconds", rd}, {"warp_seconds", wp},
                       {"write_seconds", wr}, {"peak_rss_bytes", rss}, {"elastix_peak_rss_bytes", child}});
      if (measured)
        ranks.back()["device_seconds"] = {{"h2d", h2d}, {"kernel", kernel}, {"d2h", d2h}};
    }
    spdlog::info("output {} ({}x{}, {} interpolation, compress {}{}{}), warp stage {:.2f} s", spec.path,
                 spec.size.width, spec.size.height, warp::interp_name(settings.interp), spec.compress,
                 spec.overviews ? ", overviews" : "", spec.cog ? ", COG" : "", now_seconds() - t_start);
  }

  WarpReport report;
  if (!job.qa.enabled) return report;
  // QA on rank 0 (a few dozen tiles and small previews); every rank learns the verdict.
  int suspect = 0;
  on_every_rank(comm, "QA report", [&] {
    if (!comm.is_root()) return;
    QaInputs in;
    in.design = job.design;
    in.scan = job.scan;
    in.output = job.out;
    in.transform_path = job.transform_path;
    in.transform = &t;
    in.facts = job.facts.is_object() ? job.facts : nlohmann::json::object();
    in.facts["ranks"] = ranks;
    in.facts["job"]["ranks"] = comm.size();
    in.facts["warp"] = {
        {"plan",
         {{"budget_bytes", budget.bytes}, {"budget_source", budget.source}, {"strip_rows", strips.strip_rows},
          {"block_cols", strips.block_cols}, {"strips", total_strips}, {"estimated_bytes", strips.estimated_bytes},
          {"reason", strips.reason}}},
        {"interp", warp::interp_name(settings.interp)}, {"backend", backend->name()}, {"compress", spec.compress},
        {"overviews", spec.overviews}, {"cog", spec.cog}, {"tile", spec.tile},
        {"stage_seconds",
         {{"setup", t_setup - t_start}, {"warp", t_warped - t_setup}, {"finish", t_finished - t_warped}}}};
    report.metrics = write_job_qa(in, job.qa);
    suspect = report.metrics["verdict"]["suspect"].get<bool>();
  });
  report.suspect = comm.allreduce_max(suspect) != 0;
  return report;
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
  });
  return lock;
}

std::vector<paths::Named> warp_inputs(const WarpJob& job) {
  return {{"--design", job.design}, {"--scan", job.scan}, {"--transform", job.transform_path}};
}

}  // namespace

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
  auto lock =
      lock_outputs(comm, {{"--out", warp.out}, {"--transform-out", reg.transform_out}}, inputs, warp.out, true);
  nlohmann::json facts = nlohmann::json::object();
  transform::TransformFile t = run_register(comm, reg, &facts);
  const double t1 = now_seconds();
  report.registration_factor = t.registration_factor;
  report.register_seconds = t1 - t0;
  if (comm.is_root()) spdlog::info("registration and broadcast: {:.2f} s", t1 - t0);
  WarpJob w = warp;
  if (w.transform_path.empty()) w.transform_path = reg.transform_out;
  merge_facts(w.facts, facts);
  w.facts["job"]["command"] = "run";
  w.facts["stage_seconds"] = {{"registration_and_broadcast", report.register_seconds}};
  WarpReport wr = warp_into_locked_output(comm, t, w);
  report.suspect = wr.suspect;
  report.metrics = std::move(wr.metrics);
  report.total_seconds = now_seconds() - t0;
  report.warp_seconds = report.total_seconds - report.register_seconds;
  if (comm.is_root()) spdlog::info("run finished in {:.2f} s", report.total_seconds);
  return report;
}

}  // namespace alinify::job
