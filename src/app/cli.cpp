#include "app/cli.hpp"

#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <typeinfo>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/defects/report.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/tile_codec.hpp"
#include "alinify/job/evaluate.hpp"
#include "alinify/job/map_points.hpp"
#include "alinify/job/pipeline.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/plan/planner.hpp"
#include "alinify/synth/synth.hpp"
#include "alinify/synth/truth.hpp"
#include "alinify/warp/backend.hpp"
#include "app/cli_options.hpp"

namespace fs = std::filesystem;

namespace alinify::app {

namespace {

bool known_log_level(const std::string& level) {
  for (const char* ok : {"trace", "debug", "info", "warn", "error"})
    if (level == ok) return true;
  return false;
}

}  // namespace

Parsed parse_on_every_rank(const std::string& command, po::options_description desc, int argc, char** argv,
                           par::Communicator& comm, const std::string& synopsis);

// Parses args (after the command word) against `desc` + common options; INI from --config fills
// what the command line left unset.
Parsed parse(const std::string& command, po::options_description desc, int argc, char** argv, par::Communicator& comm,
             const std::string& synopsis) {
  try {
    return parse_on_every_rank(command, std::move(desc), argc, argv, comm, synopsis);
  } catch (Error& e) {
    // Every rank parses the same arguments and fails the same way: rank 0 alone says so.
    if (!comm.is_root()) e.mark_reported_elsewhere();
    throw;
  }
}

Parsed parse_on_every_rank(const std::string& command, po::options_description desc, int argc, char** argv,
                           par::Communicator& comm, const std::string& synopsis) {
  desc.add(common_options());
  Parsed p;
  refuse_boost_placeholders(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc), command);
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), p.vm);
    if (p.vm.count("config")) {
      const std::string path = p.vm["config"].as<std::string>();
      paths::require_input_file(path);
      std::ifstream in(path);
      if (!in) fail_input(path, fs::exists(path) ? "cannot be read" : "no such file");
      store_config(in, path, desc, p.vm);
    }
    if (p.vm.count("help")) {
      if (comm.is_root()) std::cout << "usage: alinify " << command << " " << synopsis << "\n\n" << desc << "\n";
      p.help = true;
      return p;
    }
    po::notify(p.vm);
    // main() set the level from a plain "--log-level X" before parsing; "--log-level=X" and the
    // --config file reach it only here, and a level spdlog does not know is a usage error.
    const std::string level = p.vm["log-level"].as<std::string>();
    if (!known_log_level(level)) fail_usage("--log-level: '" + level + "' is not one of trace|debug|info|warn|error");
    spdlog::set_level(spdlog::level::from_str(level));
    // An empty path or name is never meant: refused here, before a file system call says it
    // in its own words ("cannot make absolute path").
    for (const auto& [name, value] : p.vm)
      if (!value.defaulted() && value.value().type() == typeid(std::string) && value.as<std::string>().empty())
        fail_usage("--" + name + ": the value is empty");
    if (p.vm.count("gdal-drivers")) io::set_allowed_drivers(p.vm["gdal-drivers"].as<std::string>());
  } catch (const po::error& e) {
    fail_usage("alinify " + command + ": " + e.what() + " (see alinify " + command + " --help)");
  }
  return p;
}

std::string req(const po::variables_map& vm, const char* name) { return vm[name].as<std::string>(); }

// At least 1 MiB: below it no strip or registration image fits, and the plan would still go on
// with a budget it prints as 0.0 MiB.
uint64_t mem_budget_of(const po::variables_map& vm) {
  const uint64_t bytes = parse_bytes(req(vm, "mem-budget"), "--mem-budget");
  if (bytes < (uint64_t{1} << 20)) fail_usage("--mem-budget: " + req(vm, "mem-budget") + " is below 1 MiB");
  return bytes;
}

job::RegisterJob register_job(const po::variables_map& vm, const std::string& transform_out) {
  job::RegisterJob j;
  j.design = req(vm, "design");
  j.scan = req(vm, "scan");
  j.transform_out = transform_out;
  j.reg.preset = req(vm, "preset");
  if (vm.count("params")) j.reg.parameter_files = vm["params"].as<std::vector<std::string>>();
  if (vm.count("params") && !vm["preset"].defaulted())
    fail_usage("--preset and --params: your parameter files replace the preset; give one of them");
  j.reg.elastix = req(vm, "elastix");
  j.reg.threads = vm["elastix-threads"].as<int>();
  if (j.reg.threads < 0)
    fail_usage("--elastix-threads: " + std::to_string(j.reg.threads) + " is negative (0: elastix's default)");
  j.reg.grid_spacing = vm["grid-spacing"].as<double>();
  if (j.reg.grid_spacing < 0) fail_usage("--grid-spacing: must be positive (or 0 for auto)");
  j.reg.keep_images = vm["keep-registration-images"].as<bool>();
  if (vm.count("mem-budget")) j.mem_budget = mem_budget_of(vm);
  if (vm.count("registration-max-pixels")) j.max_pixels = vm["registration-max-pixels"].as<int64_t>();
  plan::check_registration_max_pixels(j.max_pixels);
  j.reg.init = req(vm, "init");
  j.reg.accept_ambiguous = vm["accept-ambiguous"].as<bool>();
  j.reg.max_rotation_deg = vm["max-rotation"].as<double>();
  j.reg.quarter_turns = vm["quarter-turns"].as<bool>();
  if (vm.count("coarse-debug")) j.reg.coarse_debug_dir = req(vm, "coarse-debug");
  if (!(j.reg.max_rotation_deg >= 0 && j.reg.max_rotation_deg <= 45))
    fail_usage("--max-rotation: must be in 0..45 degrees");
  const std::string refine = req(vm, "refine");
  if (refine != "auto" && refine != "none") fail_usage("--refine: '" + refine + "' is not one of auto, none");
  j.refine = refine == "auto" ? job::RefineMode::kAuto : job::RefineMode::kNone;
  const std::string& preset = j.reg.preset;
  if (preset != "rigid" && preset != "affine" && preset != "bspline")
    fail_usage("--preset: '" + preset + "' is not one of rigid, affine, bspline");
  return j;
}

job::WarpJob warp_job(const po::variables_map& vm, const std::string& transform_path) {
  job::WarpJob w;
  w.design = req(vm, "design");
  w.scan = req(vm, "scan");
  w.out = req(vm, "out");
  w.transform_path = transform_path;
  w.compress = req(vm, "compress");
  w.compress_level = vm["compress-level"].as<int>();
  w.predictor = req(vm, "predictor");
  w.device = vm["device"].as<int>();
  w.gpus_per_rank = vm["gpus-per-rank"].as<int>();
  if (w.gpus_per_rank < 1) fail_usage("--gpus-per-rank: must be at least 1");
  w.fill = vm["fill"].as<int>();
  w.tile = vm["tile"].as<int>();
  if (vm.count("mem-budget")) w.mem_budget = mem_budget_of(vm);
  w.overviews = !vm["no-overviews"].as<bool>();
  w.cog = vm["cog"].as<bool>();
  w.exact = vm["exact"].as<bool>();
  w.qa.enabled = !vm["no-qa"].as<bool>();
  w.qa.thresholds.min_ncc_after = vm["suspect-ncc"].as<double>();
  w.qa.tiles = vm["qa-tiles"].as<int>();
  w.qa.thresholds.max_residual_p95_px = vm["suspect-residual"].as<double>();
  if (!(w.qa.thresholds.max_residual_p95_px > 0)) fail_usage("--suspect-residual: must be positive (px)");
  if (!(w.qa.thresholds.min_ncc_after >= -1 && w.qa.thresholds.min_ncc_after <= 1))
    fail_usage("--suspect-ncc: must be in -1..1");
  if (w.qa.tiles < 1 || w.qa.tiles > 10000) fail_usage("--qa-tiles: must be in 1..10000");
  w.progress = job::parse_progress_mode(req(vm, "progress"));
  w.interp = warp::parse_interp(req(vm, "interp"));  // option errors before any file is touched
  w.backend = warp::parse_backend(req(vm, "backend"));
  if (w.compress != "none" && w.compress != "deflate" && w.compress != "zstd")
    fail_usage("--compress: '" + w.compress + "' is not one of none, deflate, zstd");
  io::checked_level(io::codec_from_name(w.compress), w.compress_level);
  io::predictor_from_name(w.predictor);
  job::check_warp_options(w);
  return w;
}

defects::DefectOptions defect_tuning(const po::variables_map& vm) {
  defects::DefectOptions o;
  o.scale = vm["defect-scale"].as<int>();
  o.radius = vm["defect-radius"].as<int>();
  o.high = vm["defect-high"].as<double>();
  o.low = vm["defect-low"].as<double>();
  o.min_area = vm["defect-min-area"].as<int64_t>();
  o.join_gap = vm["defect-join-gap"].as<int>();
  o.gain_field = !vm["no-defect-gain-field"].as<bool>();
  o.tone_curve = !vm["no-defect-tone-curve"].as<bool>();
  const std::string compare = req(vm, "defect-compare");
  if (compare != "envelope" && compare != "nearest")
    fail_usage("--defect-compare: '" + compare + "' is not one of envelope, nearest");
  o.compare = compare == "envelope" ? defects::Compare::kEnvelope : defects::Compare::kNearest;
  o.check();
  return o;
}

void apply_defect_options(const po::variables_map& vm, job::WarpJob& w) {
  w.find_defects = vm["defects"].as<bool>();
  w.defect_map = vm["defect-map"].as<bool>();
  if (w.defect_map && !w.find_defects) fail_usage("--defect-map: only with --defects");
  w.defect_options = defect_tuning(vm);
}

std::pair<job::RegisterJob, job::WarpJob> run_jobs(const po::variables_map& vm, const std::string& transform_out) {
  job::RegisterJob r = register_job(vm, transform_out);
  job::WarpJob w = warp_job(vm, transform_out);
  r.progress = w.progress;  // parsed with the warp's options, so that usage errors keep their order
  return {r, w};
}

namespace {

constexpr const char* kUsage =
    "usage: alinify <command> [options]   (alinify <command> --help for its options)\n"
    "\n"
    "Aligns camera scans of printed fabric to their design images, at any size, on one machine or\n"
    "under mpirun/srun. Commands:\n"
    "  run         register (rank 0) + broadcast + warp (every rank): the main job\n"
    "  register    register a scan to its design with elastix: transform.json + elastix files\n"
    "  warp        warp the scan onto the design's grid with a transform.json\n"
    "  synth       write a synthetic design/scan pair with exact ground truth\n"
    "  eval        error of a transform against a synthetic pair's truth.json (JSON on stdout)\n"
    "  inspect     print defects of an image already aligned to its design (defect stage only)\n"
    "  map-points  map design pixel positions (CSV x,y) to scan positions\n"
    "  batch       many pairs from a manifest: groups of ranks, journal, --resume, summary\n"
    "\n"
    "Pixel coordinates everywhere: (0,0) is the centre of the top-left pixel, x right, y down.\n"
    "Exit codes: 0 ok, 1 usage, 2 bad input, 3 runtime failure, 130/143 stopped by SIGINT/SIGTERM.\n";

int cmd_synth(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("synth options");
  d.add_options()("out-dir", po::value<std::string>()->required(), "folder for design.tif, scan.tif, truth.json")(
      "width", po::value<int64_t>()->default_value(2048), "design width in pixels")(
      "height", po::value<int64_t>()->default_value(1536), "design height in pixels")(
      "seed", po::value<int64_t>()->default_value(1), "random seed, 0 or more (same seed, same pair)")(
      "strip-rows", po::value<int>()->default_value(256), "rows generated per strip (memory ~ width x strip-rows)")(
      "kind", po::value<std::string>()->default_value("default"),
      "default (procedural design, scan of the same size) or periodic (repeating print on a larger scan canvas)")(
      "margin", po::value<double>()->default_value(0.06, "0.06"),
      "periodic: table around the fabric, fraction of each side")(
      "max-rotation", po::value<double>()->default_value(5.0),
      "periodic: rotation of the fabric drawn in +-max degrees")(
      "quarter-turns", po::bool_switch(), "periodic: the fabric is also turned by 90, 180 or 270 degrees")(
      "fine-waves", po::value<double>()->default_value(0),
      "largest amplitude in px (0..5) of six fine waves added to the truth, periods 256..3072 px (at most half "
      "the larger side); 0: none")(
      "weave", po::value<double>()->default_value(0.04, "0.04"),
      "brightness contrast (+-fraction) of the scan's weave (3.3-3.5 px period, not in the design)")(
      "tone-gamma", po::value<double>()->default_value(1),
      "the camera's tone response: each channel's level v becomes 255 (v/255)^gamma before the noise (0.3..3; 1: "
      "linear)")(
      "defects", po::value<int>()->default_value(0),
      "print defects drawn into the scan only (blots, missing print, streaks, colour shifts; 6..300 px), listed "
      "with their boxes in design pixels in truth.json")(
      "defect-contrast", po::value<double>()->default_value(0),
      "with --defects: draw each defect partly transparent, at this median Delta E 1976 over its shape (to +1; "
      "3..60); 0: opaque inks, Delta E >= 15");
  Parsed p = parse("synth", d, argc, argv, comm, "--out-dir DIR [--width W --height H --seed N]");
  if (p.help) return 0;
  if (!comm.is_root()) return 0;  // one writer; other ranks have nothing to do
  synth::SynthOptions o;
  o.out_dir = req(p.vm, "out-dir");
  o.width = p.vm["width"].as<int64_t>();
  o.height = p.vm["height"].as<int64_t>();
  // Read signed: Boost reads "-1" into an unsigned value as 2^64 - 1 without a word.
  const int64_t seed = p.vm["seed"].as<int64_t>();
  if (seed < 0) fail_usage("--seed: " + std::to_string(seed) + " is negative");
  o.seed = static_cast<uint64_t>(seed);
  o.strip_rows = p.vm["strip-rows"].as<int>();
  o.kind = req(p.vm, "kind");
  o.margin = p.vm["margin"].as<double>();
  o.max_rotation_deg = p.vm["max-rotation"].as<double>();
  o.quarter_turns = p.vm["quarter-turns"].as<bool>();
  o.fine_waves = p.vm["fine-waves"].as<double>();
  o.weave = p.vm["weave"].as<double>();
  o.tone_gamma = p.vm["tone-gamma"].as<double>();
  o.defects = p.vm["defects"].as<int>();
  o.defect_contrast = p.vm["defect-contrast"].as<double>();
  if (o.defect_contrast != 0 && !(o.defect_contrast >= 3 && o.defect_contrast <= 60))
    fail_usage("--defect-contrast: must be 0 or in 3..60");
  if (o.defect_contrast != 0 && o.defects == 0)
    fail_usage("--defect-contrast: needs --defects N (the defects it draws)");
  if (o.defects < 0 || o.defects > 10000) fail_usage("--defects: must be in 0..10000");
  if (o.kind != "default" && o.kind != "periodic")
    fail_usage("--kind: '" + o.kind + "' is not one of default, periodic");
  if (!(o.margin >= 0 && o.margin <= 0.5)) fail_usage("--margin: must be in 0..0.5");
  if (!(o.max_rotation_deg >= 0 && o.max_rotation_deg <= 45)) fail_usage("--max-rotation: must be in 0..45");
  if (o.width < 64 || o.height < 64) fail_usage("--width/--height: at least 64 pixels");
  // No larger than alinify reads (io::Raster::open refuses the rest as a corrupt header).
  if (o.width > io::kMaxRasterSide || o.height > io::kMaxRasterSide || o.width * o.height > io::kMaxRasterPixels)
    fail_usage("--width/--height: " + std::to_string(o.width) + "x" + std::to_string(o.height) + " is over " +
               std::to_string(io::kMaxRasterSide) + " per side or " + std::to_string(io::kMaxRasterPixels) +
               " pixels, the most alinify reads");
  if (!(o.fine_waves >= 0 && o.fine_waves <= 5)) fail_usage("--fine-waves: must be in 0..5 px");
  if (!(o.weave >= 0 && o.weave <= 0.5)) fail_usage("--weave: must be in 0..0.5");
  if (!(o.tone_gamma >= 0.3 && o.tone_gamma <= 3)) fail_usage("--tone-gamma: must be in 0.3..3");
  if (o.strip_rows < 1) fail_usage("--strip-rows: must be positive");
  const double t0 = now_seconds();
  synth::write_synthetic_pair(o);
  spdlog::info("synth {}x{} in {:.1f} s, peak RSS {}", o.width, o.height, now_seconds() - t0,
               format_bytes(peak_rss_bytes()));
  return 0;
}

int cmd_register(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("register options");
  add_pair(d);
  d.add_options()("out", po::value<std::string>()->required(),
                  "transform.json to write; the elastix folder <name>.elastix/ (log, TransformParameters, "
                  "full-resolution TransformParameters.full.N.txt) is written beside it");
  d.add(register_options());
  Parsed p = parse("register", d, argc, argv, comm, "--design D --scan S --out T.json [options]");
  if (p.help) return 0;
  job::register_and_refine(comm, register_job(p.vm, req(p.vm, "out")), nullptr);
  return 0;
}

int cmd_warp(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("warp options");
  add_pair(d);
  d.add_options()("transform", po::value<std::string>()->required(), "transform.json (from register or run)")(
      "out", po::value<std::string>()->required(), "output tiled BigTIFF GeoTIFF on the design's grid")(
      "mem-budget", po::value<std::string>(), "memory per rank (e.g. 2GiB)");
  d.add(warp_options());
  d.add(qa_options());
  d.add(defect_options());
  Parsed p = parse("warp", d, argc, argv, comm, "--design D --scan S --transform T.json --out O.tif [options]");
  if (p.help) return 0;
  job::WarpJob w = warp_job(p.vm, req(p.vm, "transform"));
  apply_defect_options(p.vm, w);
  w.facts["job"]["command"] = "warp";
  transform::TransformFile t = job::load_and_broadcast(comm, w.transform_path);
  job::run_warp(comm, t, w);
  return 0;
}

int cmd_run(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("run options");
  add_pair(d);
  d.add_options()("out", po::value<std::string>()->required(), "aligned scan: tiled BigTIFF on the design's grid")(
      "transform-out", po::value<std::string>(),
      "transform.json to write (default: <out without .tif>.transform.json)");
  d.add(register_options());
  d.add(warp_options());
  d.add(qa_options());
  d.add(defect_options());
  Parsed p = parse("run", d, argc, argv, comm, "--design D --scan S --out O.tif [options]");
  if (p.help) return 0;
  std::string tout;
  if (p.vm.count("transform-out")) {
    tout = req(p.vm, "transform-out");
  } else {
    fs::path o(req(p.vm, "out"));
    tout = (o.parent_path() / (o.stem().string() + ".transform.json")).string();
  }
  auto [r, w] = run_jobs(p.vm, tout);
  apply_defect_options(p.vm, w);
  job::run_pipeline(comm, r, w);
  return 0;
}

int cmd_inspect(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("inspect options");
  d.add_options()("design", po::value<std::string>()->required(), "design image (RGB GeoTIFF or any GDAL raster)")(
      "aligned", po::value<std::string>()->required(),
      "the scan already on the design's grid (the output of run or warp, or another tool's): same size as the design")(
      "out", po::value<std::string>()->required(),
      "output prefix: writes PREFIX.defects.csv and PREFIX.defects.geojson (folder must exist)")(
      "transform", po::value<std::string>(),
      "the transform.json the aligned image was made with (optional): the compared area is where the scan covers "
      "the design, and scan_cx/scan_cy are scan pixels; without it the image is compared except near its edges and "
      "its fill (--fill), and scan_cx/scan_cy are design pixels")(
      "fill", po::value<int>()->default_value(0),
      "without --transform: the grey level the warp wrote where the scan did not reach (its --fill, 0..255); "
      "3x3 blocks of exactly that colour and a margin around them are not compared");
  po::options_description t("Defect options (docs/defects.md)");
  add_defect_tuning(t, "PREFIX");
  d.add(t);
  Parsed p = parse("inspect", d, argc, argv, comm, "--design D --aligned A.tif --out PREFIX [options]");
  if (p.help) return 0;
  job::InspectJob j;
  j.design = req(p.vm, "design");
  j.aligned = req(p.vm, "aligned");
  j.out_prefix = req(p.vm, "out");
  // PREFIX names files: "out/" or a folder would write the hidden ".defects.csv" inside it.
  if (j.out_prefix.back() == '/' || fs::is_directory(j.out_prefix))
    fail_usage("--out: '" + j.out_prefix + "' is a folder; give a prefix for the file names (e.g. " +
               (fs::path(j.out_prefix) / "scan").string() + ")");
  if (p.vm.count("transform")) j.transform_path = req(p.vm, "transform");
  j.defect_options = defect_tuning(p.vm);
  j.defect_map = p.vm["defect-map"].as<bool>();
  j.fill = p.vm["fill"].as<int>();
  if (j.fill < 0 || j.fill > 255) fail_usage("--fill: must be in 0..255");
  job::run_inspect(comm, j);
  return 0;
}

int cmd_map_points(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("map-points options");
  d.add_options()("transform", po::value<std::string>()->required(), "transform.json")(
      "in", po::value<std::string>()->required(), "CSV with a header naming columns x and y (design pixels)")(
      "out", po::value<std::string>()->required(), "CSV with x,y,scan_x,scan_y");
  Parsed p = parse("map-points", d, argc, argv, comm, "--transform T.json --in P.csv --out Q.csv");
  if (p.help || !comm.is_root()) return 0;
  auto t = transform::read_transform_json(req(p.vm, "transform"));
  int64_t n = job::map_points(t.transform, req(p.vm, "transform"), req(p.vm, "in"), req(p.vm, "out"));
  spdlog::info("mapped {} points to {}", n, req(p.vm, "out"));
  return 0;
}

int cmd_eval(par::Communicator& comm, int argc, char** argv) {
  po::options_description d("eval options");
  d.add_options()("transform", po::value<std::string>(), "transform.json")(
      "truth", po::value<std::string>()->required(), "truth.json written by alinify synth")(
      "step", po::value<int>()->default_value(4), "grid spacing of the design points, in pixels")(
      "defects", po::value<std::string>(),
      "instead of a transform: score <out stem>.defects.csv against truth.json's defects (recall, precision, "
      "centroid error)")("defect-tolerance", po::value<double>()->default_value(4.0, "4"),
                         "px a truth box is widened by before a detected box must overlap it");
  Parsed p = parse("eval", d, argc, argv, comm,
                   "--transform T.json --truth truth.json [--step N] | --defects O.defects.csv --truth truth.json");
  if (p.help || !comm.is_root()) return 0;
  if (p.vm.count("defects")) {
    if (p.vm.count("transform")) fail_usage("eval: give --transform or --defects, not both");
    if (!p.vm["step"].defaulted()) fail_usage("--step: scores a transform, not --defects");
    const double tol = p.vm["defect-tolerance"].as<double>();
    if (!(tol >= 0 && tol <= 1000)) fail_usage("--defect-tolerance: must be in 0..1000 px");
    const auto truth = synth::Truth::load(req(p.vm, "truth"));
    const auto found = defects::read_csv(req(p.vm, "defects"));
    std::cout << job::evaluate_defects(found, truth.defects, tol).to_json_text() << std::endl;
    return 0;
  }
  if (!p.vm.count("transform")) fail_usage("eval: --transform (or --defects) is required");
  if (!p.vm["defect-tolerance"].defaulted()) fail_usage("--defect-tolerance: scores --defects, not a transform");
  int step = p.vm["step"].as<int>();
  if (step < 1) fail_usage("--step: must be at least 1");
  auto t = transform::read_transform_json(req(p.vm, "transform"));
  auto truth = synth::Truth::load(req(p.vm, "truth"));
  if (!(truth.design == t.design))
    fail_input(req(p.vm, "transform"), "was made for a different design size than " + req(p.vm, "truth"));
  if (step > std::max(truth.design.width, truth.design.height))
    fail_usage("--step: " + std::to_string(step) + " px is larger than the design (" +
               std::to_string(truth.design.width) + "x" + std::to_string(truth.design.height) + ")");
  job::EvalResult r = job::evaluate(t.transform, truth, step);
  std::cout << r.to_json_text() << std::endl;
  return 0;
}

}  // namespace

std::string log_level_from(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--log-level" && known_log_level(argv[i + 1])) return argv[i + 1];
  return "info";
}

int run_cli(par::Communicator& comm, int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    if (comm.is_root()) std::cout << kUsage;
    return argc < 2 ? static_cast<int>(ExitCode::kUsage) : 0;
  }
  if (std::string(argv[1]) == "--version") {
    if (comm.is_root()) std::cout << "alinify 0.1.0\n";
    return 0;
  }
  using Cmd = int (*)(par::Communicator&, int, char**);
  static const std::map<std::string, Cmd> kCommands{
      {"synth", cmd_synth}, {"register", cmd_register},     {"warp", cmd_warp},   {"run", cmd_run},
      {"eval", cmd_eval},   {"map-points", cmd_map_points}, {"batch", cmd_batch}, {"inspect", cmd_inspect}};
  auto it = kCommands.find(argv[1]);
  if (it == kCommands.end()) fail_usage(std::string("unknown command '") + argv[1] + "' (see alinify --help)");
  // A single job stops cleanly on SIGTERM/SIGINT (exit 128 + signal); batch has its own handling.
  const bool single_job = it->first != "batch";
  if (single_job) cancel::install_handlers();
  cancel::ignore_file_size_signal();
  try {
    return it->second(comm, argc - 1, argv + 1);
  } catch (Error& e) {
    // A usage error comes from the arguments, the same on every rank: rank 0 alone reports it.
    if (e.code() == ExitCode::kUsage && !comm.is_root()) e.mark_reported_elsewhere();
    // A failure while a stop was pending is reported as the stop (cancel.hpp): fault_injection once
    // saw "cannot open the laid-out output" (exit 3) when SIGINT removed the .partial just before
    // the tile writer reopened it.
    if (single_job) cancel::throw_if_signalled(e);
    throw;
  } catch (const std::exception& e) {
    if (single_job) cancel::throw_if_signalled(e);
    throw;
  }
}

}  // namespace alinify::app
