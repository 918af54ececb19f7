#include "app/options.hpp"

#include <cctype>
#include <cstdint>
#include <sstream>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/reg/presets.hpp"

namespace alinify::app {

po::options_description common_options() {
  po::options_description d("Common options");
  d.add_options()("help,h", "show this help and exit")("config", po::value<std::string>(),
                                                       "INI file with options of this command (the command line wins)")(
      "log-level", po::value<std::string>()->default_value("info"), "trace|debug|info|warn|error")(
      "gdal-drivers", po::value<std::string>(),
      "GDAL drivers that may open input rasters, comma-separated (default GTiff,COG,PNG,JPEG; VRT and other "
      "virtual formats can read any file or the network, so they must be named here)");
  return d;
}

po::options_description register_options() {
  po::options_description d("Registration");
  d.add_options()("preset", po::value<std::string>()->default_value("bspline"),
                  "elastix preset: rigid, affine, bspline (affine then cubic B-spline, see --grid-spacing)")(
      "params", po::value<std::vector<std::string>>()->multitoken(),
      "your own elastix parameter files, used unchanged in this order instead of the preset")(
      "mem-budget", po::value<std::string>(),
      "memory per rank (e.g. 2GiB); the smallest of this, the cgroup, Slurm and MemAvailable wins")(
      "registration-max-pixels", po::value<int64_t>(),
      "cap on the pixels of each registration image, at least 4096 (64 x 64; the memory budget still applies); "
      "default with --refine auto: "
      "16000000 (the refinement brings full-resolution accuracy), none with --refine none")(
      "elastix", po::value<std::string>()->default_value("elastix"), "elastix executable (name on PATH or path)")(
      "elastix-threads", po::value<int>()->default_value(0), "threads for elastix (0: its default, all cores)")(
      "grid-spacing", po::value<double>()->default_value(0),
      "B-spline control-point spacing in full-resolution pixels (0: auto, longer side / 18, at least 256)")(
      "keep-registration-images", po::bool_switch(), "keep the decimated .mhd/.raw images in the elastix folder")(
      "init", po::value<std::string>()->default_value("auto"),
      "initial transform for elastix: auto (coarse global alignment: correlation search checked against the "
      "fabric's bounding box; finds the right repeat of a repeating print), search (correlation only), box (the "
      "fabric's box only), none (plain elastix from the image centres), or a file (elastix TransformParameters or "
      "transform.json)")("accept-ambiguous", po::bool_switch(),
                         "use the best coarse placement even when the runner-up scores close")(
      "max-rotation", po::value<double>()->default_value(5.0),
      "coarse search: largest rotation of the scan, degrees (when nothing scores 0.5 within it, or the best is "
      "ambiguous, every rotation and scales 0.5-2 are searched too; scales to the scan's size over the design's, "
      "searched in any case when that is over 1.6 or under 1/1.6)")(
      "quarter-turns", po::bool_switch(), "coarse search: also try the scan turned by 90, 180 and 270 degrees")(
      "coarse-debug", po::value<std::string>(),
      "folder for the coarse stage's score map (PPM, peaks marked), fabric mask (PGM) and candidates")(
      "refine", po::value<std::string>()->default_value("auto"),
      (std::string("auto|none: after elastix, every rank measures the residual of 64 px design blocks at full "
                   "resolution; auto adds one fitted B-spline correction to the transform unless cross-validation on "
                   "held-out blocks finds none that predicts them better than no correction (docs/registration.md, "
                   "\"Refinement\"), and the bspline preset runs lightened before it (") +
       reg::kLightenedSummary + "); none: elastix's transform as it is, the preset as shipped")
          .c_str());
  return d;
}

po::options_description warp_options() {
  po::options_description d("Warp");
  d.add_options()("interp", po::value<std::string>()->default_value("bilinear"), "nearest|bilinear|bicubic")(
      "exact", po::bool_switch(),
      "evaluate the transform at every output pixel with float filters (the bytes of earlier releases; "
      "slower) instead of on a lattice within 1/64 px of it with integer filters (docs/gpu.md: the "
      "difference in grey levels)")(
      "compress", po::value<std::string>()->default_value("none"),
      "none|deflate|zstd (every rank compresses its own tiles; with --cog, GDAL's final pass on rank 0)")(
      "compress-level", po::value<int>()->default_value(0),
      "0: the codec's default (zstd 1, deflate 6); zstd 1..19, deflate 1..12: higher is slower, and after the "
      "predictor not reliably smaller "
      "(docs/performance-analysis.md)")(
      "predictor", po::value<std::string>()->default_value("horizontal"),
      "horizontal|none: TIFF's predictor for --compress deflate|zstd (horizontal differencing: smaller and "
      "faster on scans; none for a reader without it)")(
      "backend", po::value<std::string>()->default_value("auto"),
      "auto|cpu|cuda|torch (auto: CUDA when a GPU is visible, else the CPU; torch: only in builds with "
      "-DALINIFY_WITH_TORCH=ON)")(
      "device", po::value<int>()->default_value(-1),
      "GPU index for every rank (-1: by local rank, ranks of a node spread over its visible GPUs)")(
      "gpus-per-rank", po::value<int>()->default_value(1),
      "GPUs each rank warps on (its blocks alternate over them); ranks share GPUs when the node has too few")(
      "fill", po::value<int>()->default_value(0), "grey level (0..255) where the design maps outside the scan")(
      "tile", po::value<int>()->default_value(256), "output tile size in pixels (a multiple of 16, 16..4096)")(
      "no-overviews", po::bool_switch(), "do not add internal overviews (x2, x4, ...) to the output")(
      "cog", po::bool_switch(),
      "rewrite the output as a Cloud Optimized GeoTIFF (final pass on rank 0; --compress applies, none = NONE)")(
      "progress", po::value<std::string>()->default_value("auto"),
      "auto|line|log|off: one live line on rank 0 (auto: when stderr is a terminal; under mpirun use line), "
      "or a log line every 10 s");
  return d;
}

po::options_description qa_options() {
  po::options_description d("Quality report (docs/qa.md)");
  d.add_options()("no-qa", po::bool_switch(),
                  "skip the QA step: no <out stem>.metrics.json, <out stem>.report.html, <out stem>.qa/ pictures")(
      "suspect-ncc", po::value<double>()->default_value(0.6, "0.6"),
      "a job whose mean tile NCC after alignment is below this is marked suspect (so is a folding deformation)")(
      "suspect-residual", po::value<double>()->default_value(2.0, "2.0"),
      "px: a job whose residual measured by the refinement's blocks after the final transform has a p95 above this, "
      "or a median above a quarter of it, is marked suspect (not with --refine none)")(
      "qa-tiles", po::value<int>()->default_value(36), "full-resolution tiles (256 px) sampled for similarity");
  return d;
}

po::options_description defect_options() {
  po::options_description d("Print defects (docs/defects.md)");
  d.add_options()("defects", po::bool_switch(),
                  "after the output: fit the colour model, compare scan and design per pixel (Delta E 1976) and "
                  "write <out stem>.defects.csv and .defects.geojson; defects found do not change the exit code");
  add_defect_tuning(d, "<out stem>");
  return d;
}

void add_defect_tuning(po::options_description& d, const std::string& stem) {
  d.add_options()(
      "defect-scale", po::value<int>()->default_value(1),
      "box pre-smoothing radius of the scan (and, with nearest, the design) in px (0..8; 1: 3x3), against weave "
      "and noise")(
      "defect-radius", po::value<int>()->default_value(1),
      "a scan pixel is compared with the mapped design within +-(radius + scale) px (0..8), against residual "
      "misregistration")(
      "defect-compare", po::value<std::string>()->default_value("envelope"),
      "envelope|nearest: a scan pixel against the nearest colour in the per-channel range of the mapped design "
      "within the reach (envelope), or against the nearest of the smoothed design pixels within the radius (nearest)")(
      "defect-high", po::value<double>()->default_value(10.0, "10"),
      "Delta E a defect must reach somewhere (hysteresis, high); or, faint, its Delta E above --defect-low adds "
      "up to --defect-min-area x (high - low) / 2 at a mean of at least low + 0.3 (high - low)")(
      "defect-low", po::value<double>()->default_value(5.0, "5"),
      "Delta E of the pixels joined to a defect (hysteresis, low)")(
      "defect-min-area", po::value<int64_t>()->default_value(24), "smallest defect in px (8-connected)")(
      "defect-join-gap", po::value<int>()->default_value(8),
      "pieces whose boxes have at most this many px between them and whose pixels come that near (to within "
      "cells of gap + 1 px, at least 4), and then such groups that each fill a tenth of their boxes, are reported "
      "as one defect (0..1000)")(
      "defect-map", po::bool_switch(),
      ("also write " + stem +
       ".defects.tif: Delta E per pixel rounded (255 and above: 255; 0 where not compared), one grey band, tiles of "
       "128 px, overviews")
          .c_str())("no-defect-gain-field", po::bool_switch(),
                    "fit the colour model without the illumination gain field (a quadratic across the image)")(
      "no-defect-tone-curve", po::bool_switch(),
      "fit the colour model without tone curves (kept by default only where they fit the colours clearly better "
      "than the affine model: a camera's or an ink's non-linear response)");
}

void add_pair(po::options_description& d) {
  d.add_options()("design", po::value<std::string>()->required(), "design image (RGB GeoTIFF or any GDAL raster)")(
      "scan", po::value<std::string>()->required(), "scan image (RGB)");
}

size_t find_boost_placeholder(const std::string& s) {
  for (size_t i = s.find('%'); i != std::string::npos; i = s.find('%', i + 1)) {
    size_t j = i + 1;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
    if (j > i + 1 && j < s.size() && s[j] == '%') return i;
  }
  return std::string::npos;
}

void refuse_boost_placeholders(const std::vector<std::string>& args, const std::string& command) {
  for (const auto& a : args)
    if (size_t at = find_boost_placeholder(a); at != std::string::npos)
      fail_usage("alinify " + command + ": argument '" + a + "' holds '" + a.substr(at, a.find('%', at + 1) - at + 1) +
                 "'; a %name% sequence is not accepted in arguments");
}

void store_config(std::istream& in, const std::string& path, const po::options_description& desc,
                  po::variables_map& vm) {
  // Boost.Program_options builds its error messages by replacing %name% placeholders until none is
  // left: a key or value that itself holds one (say "x%original_token%") makes that loop endless,
  // and alinify hung on such an INI file (found by tests/fuzz/fuzz_ini_config). Refused first.
  std::ostringstream text;
  text << in.rdbuf();
  std::istringstream lines(text.str());
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    line = line.substr(0, line.find('#'));  // Boost's comment
    if (size_t at = find_boost_placeholder(line); at != std::string::npos)
      fail_input(path, "line " + std::to_string(n) + ": '" + line.substr(at, line.find('%', at + 1) - at + 1) +
                           "' is not accepted (a %name% sequence)");
  }
  std::istringstream again(text.str());
  try {
    po::store(po::parse_config_file(again, desc), vm);
  } catch (const po::error& e) {
    fail_input(path, e.what());
  }
}

}  // namespace alinify::app
