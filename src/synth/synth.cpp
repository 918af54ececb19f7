// Synthetic pair: truth drawn from the seed, the camera model, and the strip-streamed writer.
#include "alinify/synth/synth.hpp"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"
#include "hash.hpp"

namespace alinify::synth {

using detail::hash4;
using detail::Rng;
using detail::unit;

Truth make_truth(Size design, Size scan, uint64_t seed) {
  if (design.width <= 0 || design.height <= 0 || scan.width <= 0 || scan.height <= 0)
    fail_usage("synthetic image sizes must be positive");
  Rng rng(detail::mix64(seed) ^ 0x7472757468ULL);
  Truth t;
  t.design = design;
  t.scan = scan;
  const double theta = rng.uniform(-1.5, 1.5) * M_PI / 180.0;
  const double scale = 1.0 + rng.uniform(-0.02, 0.02);
  const double aniso = rng.uniform(-0.005, 0.005);
  const double sx = scale * (1 + aniso), sy = scale * (1 - aniso);
  const double c = std::cos(theta), s = std::sin(theta);
  t.m[0] = c * sx;
  t.m[1] = -s * sy;
  t.m[2] = s * sx;
  t.m[3] = c * sy;
  const double shift_x = rng.uniform(-0.02, 0.02) * design.width, shift_y = rng.uniform(-0.02, 0.02) * design.height;
  const double csx = (scan.width - 1) / 2.0, csy = (scan.height - 1) / 2.0;
  const double cdx = (design.width - 1) / 2.0, cdy = (design.height - 1) / 2.0;
  t.offset[0] = cdx + shift_x - (t.m[0] * csx + t.m[1] * csy);
  t.offset[1] = cdy + shift_y - (t.m[2] * csx + t.m[3] * csy);

  const double extent = static_cast<double>(std::max(scan.width, scan.height));
  const double total_amp = 0.0015 * static_cast<double>(std::max(design.width, design.height));
  const int n = 4 + rng.below(3);
  std::vector<double> w(n);
  double sum = 0;
  for (double& v : w) sum += (v = rng.uniform(0.5, 1.5));
  const int first_axis = rng.below(2);
  for (int i = 0; i < n; ++i) {
    const double lambda = rng.uniform(extent / 3.0, extent / 1.2);
    const double dir = rng.uniform(0, 2 * M_PI);
    const double k = 2 * M_PI / lambda;
    Wave wave{};
    wave.axis = (first_axis + i) % 2;
    wave.amp = total_amp * w[i] / sum;
    wave.kx = k * std::cos(dir);
    wave.ky = k * std::sin(dir);
    wave.phase = rng.uniform(0, 2 * M_PI);
    t.waves.push_back(wave);
  }
  return t;
}

void add_fine_waves(Truth& truth, double amp, uint64_t seed) {
  if (!(amp > 0)) return;
  // A stream of its own: the seed's other draws (and so every existing pair) do not move.
  Rng rng(detail::mix64(seed) ^ 0x66696e65ULL);
  const double half = 0.5 * static_cast<double>(std::max(truth.scan.width, truth.scan.height));
  const double hi = std::min(3072.0, half), lo = std::min(256.0, hi);
  for (int i = 0; i < 6; ++i) {
    const double lambda = lo * std::pow(hi / lo, rng.uniform(0, 1));
    const double dir = rng.uniform(0, 2 * M_PI);
    Wave wave{};
    wave.axis = i % 2;
    wave.amp = rng.uniform(0.5 * amp, amp);
    wave.kx = 2 * M_PI / lambda * std::cos(dir);
    wave.ky = 2 * M_PI / lambda * std::sin(dir);
    wave.phase = rng.uniform(0, 2 * M_PI);
    truth.waves.push_back(wave);
  }
}

// ---- camera model ----

namespace {
constexpr double kSub[4][2] = {{-0.25, -0.25}, {0.25, -0.25}, {-0.25, 0.25}, {0.25, 0.25}};
}

ScanModel::ScanModel(const Pattern& design, const Truth& truth, uint64_t seed, double weave, double tone_gamma)
    : design_(design),
      truth_(truth),
      seed_(detail::mix64(seed) ^ 0x7363616eULL),
      weave_low_(1 - weave),  // at 0.04 exactly the 0.96 and 0.32 of the earlier literals
      weave_gain_(8 * weave),
      tone_gamma_(tone_gamma) {
  for (int k = 0; k < 4; ++k) {  // sub-pixel offsets through the linear part (waves vary too slowly to matter)
    dx_[k] = truth.m[0] * kSub[k][0] + truth.m[1] * kSub[k][1];
    dy_[k] = truth.m[2] * kSub[k][0] + truth.m[3] * kSub[k][1];
  }
  Rng rng(seed_);
  illum_a_ = rng.uniform(-1, 1);
  illum_b_ = rng.uniform(-1, 1);
  illum_c_ = rng.uniform(-1, 1);
  const double norm = std::abs(illum_a_) + std::abs(illum_b_) + std::abs(illum_c_) + 1e-12;
  illum_a_ /= norm;
  illum_b_ /= norm;
  illum_c_ /= norm;
  for (int k = 0; k < 3; ++k) {
    gain_[k] = rng.uniform(0.9, 1.1);
    bias_[k] = rng.uniform(-10, 10);
  }
}

void ScanModel::pixel(int64_t x, int64_t y, uint8_t rgb[3]) const {
  const double qx = static_cast<double>(x), qy = static_cast<double>(y);
  const Vec2 p = truth_.scan_to_design(Vec2{qx, qy});
  const double xmax = truth_.design.width - 0.5, ymax = truth_.design.height - 0.5;
  double acc[3] = {0, 0, 0};
  for (int k = 0; k < 4; ++k) {
    const double px = p.x + dx_[k], py = p.y + dy_[k];
    uint8_t c[3];
    if (px >= -0.5 && px <= xmax && py >= -0.5 && py <= ymax) {
      design_.colour(px, py, c);
    } else {  // the table under the fabric: mid grey with a mild blotchy texture
      const uint64_t h = hash4(seed_, static_cast<int64_t>(std::floor((qx + kSub[k][0]) / 6.0)),
                               static_cast<int64_t>(std::floor((qy + kSub[k][1]) / 6.0)), 21);
      c[0] = c[1] = c[2] = static_cast<uint8_t>(118 + h % 21);
    }
    acc[0] += c[0];
    acc[1] += c[1];
    acc[2] += c[2];
  }
  // Weave: crossing threads, warp period 3.5 px, weft period 3.3 px, +-weave (4% by default).
  const double tx = qx / 3.5, ty = qy / 3.3;
  const double fx = tx - std::floor(tx), fy = ty - std::floor(ty);
  const bool warp_on_top = ((static_cast<int64_t>(std::floor(tx)) + static_cast<int64_t>(std::floor(ty))) & 1) != 0;
  const double f = warp_on_top ? fx : fy;
  const double weave = weave_low_ + weave_gain_ * f * (1 - f);  // low at the thread edges, high at its crown
  // Illumination: smooth, 0.85..1.1 across the image.
  const double nx = 2 * qx / std::max<double>(truth_.scan.width - 1, 1) - 1;
  const double ny = 2 * qy / std::max<double>(truth_.scan.height - 1, 1) - 1;
  const double u = illum_a_ * nx + illum_b_ * ny + illum_c_ * (1 - (nx * nx + ny * ny));
  const double illum = 0.975 + 0.125 * std::clamp(u, -1.0, 1.0);
  const double gainall = 0.25 * weave * illum;
  // Noise: two 10-bit uniforms per channel (triangular), sigma ~3 grey levels.
  const uint64_t h = hash4(seed_, x, y, 22);
  for (int k = 0; k < 3; ++k) {
    const double a = static_cast<double>((h >> (20 * k)) & 0x3ff),
                 b = static_cast<double>((h >> (20 * k + 10)) & 0x3ff);
    const double noise = ((a + b) / 1023.0 - 1.0) * 7.35;
    double v = acc[k] * gainall * gain_[k] + bias_[k];
    if (tone_gamma_ != 1) v = 255 * std::pow(std::clamp(v, 0.0, 255.0) / 255, tone_gamma_);
    v += noise;
    rgb[k] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
  }
}

// ---- writer ----

namespace {

class PairWriter {
 public:
  ~PairWriter() { abandon(); }

  GDALDatasetH create(const std::string& final_path, int64_t w, int64_t h) {
    const std::string tmp = final_path + ".partial";
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    if (!drv) fail_runtime("GDAL has no GTiff driver");
    char** opts = nullptr;
    opts = CSLSetNameValue(opts, "TILED", "YES");
    opts = CSLSetNameValue(opts, "BLOCKXSIZE", "256");
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", "256");
    opts = CSLSetNameValue(opts, "BIGTIFF", "IF_SAFER");
    opts = CSLSetNameValue(opts, "INTERLEAVE", "PIXEL");
    opts = CSLSetNameValue(opts, "COMPRESS", "NONE");
    opts = CSLSetNameValue(opts, "PHOTOMETRIC", "RGB");
    partials_.push_back(tmp);
    finals_.push_back(final_path);
    CPLErrorReset();
    GDALDatasetH ds = GDALCreate(drv, tmp.c_str(), static_cast<int>(w), static_cast<int>(h), 3, GDT_Byte, opts);
    CSLDestroy(opts);
    if (!ds) fail_runtime(final_path + ": cannot create (" + CPLGetLastErrorMsg() + ")");
    datasets_.push_back(ds);
    return ds;
  }

  // Writes a small text file under its temporary name; renamed with the rasters by commit().
  void add_text(const std::string& final_path, const std::string& text) {
    const std::string tmp = final_path + ".partial";
    partials_.push_back(tmp);
    finals_.push_back(final_path);
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail_runtime(final_path + ": cannot create");
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok) fail_runtime(final_path + ": cannot write");
  }

  // Closes every dataset (checking GDAL's error state) and renames the partial files into place.
  void commit() {
    for (size_t i = 0; i < datasets_.size(); ++i) {
      CPLErrorReset();
      GDALClose(datasets_[i]);
      datasets_[i] = nullptr;
      if (CPLGetLastErrorType() >= CE_Failure)
        fail_runtime(finals_[i] + ": error closing (" + CPLGetLastErrorMsg() + ")");
    }
    datasets_.clear();
    for (size_t i = 0; i < partials_.size(); ++i) {
      std::error_code ec;
      std::filesystem::rename(partials_[i], finals_[i], ec);
      if (ec) fail_runtime(finals_[i] + ": cannot rename into place (" + ec.message() + ")");
    }
    partials_.clear();
    finals_.clear();
  }

 private:
  void abandon() noexcept {
    for (GDALDatasetH ds : datasets_)
      if (ds) GDALClose(ds);
    datasets_.clear();
    for (const std::string& p : partials_) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
    partials_.clear();
  }

  std::vector<GDALDatasetH> datasets_;
  std::vector<std::string> partials_, finals_;
};

void write_strip(GDALDatasetH ds, const std::string& path, int64_t y0, int64_t rows, int64_t w,
                 std::vector<uint8_t>& buf) {
  int bands[3] = {1, 2, 3};
  CPLErr err = GDALDatasetRasterIO(ds, GF_Write, 0, static_cast<int>(y0), static_cast<int>(w), static_cast<int>(rows),
                                   buf.data(), static_cast<int>(w), static_cast<int>(rows), GDT_Byte, 3, bands, 3,
                                   static_cast<int>(3 * w), 1);
  if (err != CE_None)
    fail_runtime(path + ": write failed at rows " + std::to_string(y0) + ".. (" + CPLGetLastErrorMsg() + ")");
  // Write the dirty tiles out and drop them from the block cache: memory stays one strip per file.
  GDALFlushCache(ds);
  if (CPLGetLastErrorType() >= CE_Failure)
    fail_runtime(path + ": write failed (" + std::string(CPLGetLastErrorMsg()) + ")");
}

}  // namespace

void write_synthetic_pair(const SynthOptions& o) {
  if (o.width <= 0 || o.height <= 0 || o.width > 1000000 || o.height > 1000000)
    fail_usage("synth: width and height must be in 1..1000000");
  if (o.strip_rows <= 0) fail_usage("synth: strip_rows must be positive");
  if (o.out_dir.empty()) fail_usage("synth: an output folder is required");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (!fs::is_directory(o.out_dir))
    fail_input(o.out_dir, "cannot create output folder" + (ec ? " (" + ec.message() + ")" : std::string()));
  paths::require_writable_folder((fs::path(o.out_dir) / "design.tif").string());  // before GDAL says it its way

  GDALAllRegister();
  CPLSetErrorHandler(CPLQuietErrorHandler);  // GDAL's messages reach the user in the one error line
  const Size size{o.width, o.height};
  if (o.kind != "default" && o.kind != "periodic")
    fail_usage("--kind: '" + o.kind + "' is not one of default, periodic");
  std::unique_ptr<Pattern> pattern;
  Truth truth;
  if (o.kind == "periodic") {
    auto pp = std::make_unique<PeriodicPattern>(size, o.seed);
    truth = make_periodic_truth(size, pp->period_x(), pp->period_y(), o.seed, o.margin, o.max_rotation_deg,
                                o.quarter_turns);
    spdlog::info("synth: periodic print, period {:.1f} x {:.1f} px, layout {}", pp->period_x(), pp->period_y(),
                 pp->layout() == 0   ? "straight"
                 : pp->layout() == 1 ? "mirrored"
                                     : "half-drop");
    pattern = std::move(pp);
  } else {
    pattern = std::make_unique<DesignPattern>(size, o.seed);
    truth = make_truth(size, size, o.seed);
  }
  add_fine_waves(truth, o.fine_waves, o.seed);
  const Pattern& design = *pattern;
  // The camera sees the print with its defects; design.tif is the clean design.
  std::unique_ptr<DefectedPattern> printed;
  if (o.defects > 0) {
    printed = std::make_unique<DefectedPattern>(design, size, o.defects, o.seed, o.defect_contrast);
    truth.defects = printed->truth();
  }
  const ScanModel camera(printed ? static_cast<const Pattern&>(*printed) : design, truth, o.seed, o.weave,
                         o.tone_gamma);

  const std::string design_path = (fs::path(o.out_dir) / "design.tif").string();
  const std::string scan_path = (fs::path(o.out_dir) / "scan.tif").string();
  const std::string truth_path = (fs::path(o.out_dir) / "truth.json").string();

  PairWriter writer;
  const int64_t w = o.width, sw = truth.scan.width, sh = truth.scan.height;
  GDALDatasetH dd = writer.create(design_path, o.width, o.height);
  GDALDatasetH sd = writer.create(scan_path, sw, sh);

  const int64_t rows_total = std::max<int64_t>(o.height, sh);
  const int64_t strip = std::min<int64_t>(o.strip_rows, rows_total);
  std::vector<uint8_t> dbuf(static_cast<size_t>(strip * w * 3)), sbuf(static_cast<size_t>(strip * sw * 3));
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  for (int64_t y0 = 0; y0 < rows_total; y0 += strip) {
    const int64_t drows = std::clamp<int64_t>(o.height - y0, 0, strip);
    const int64_t srows = std::clamp<int64_t>(sh - y0, 0, strip);
    const int64_t rows = std::max(drows, srows);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t y = y0 + r;
      if (r < drows) {
        uint8_t* drow = dbuf.data() + r * w * 3;
        for (int64_t x = 0; x < w; ++x) design.colour(static_cast<double>(x), static_cast<double>(y), drow + 3 * x);
      }
      if (r < srows) {
        uint8_t* srow = sbuf.data() + r * sw * 3;
        for (int64_t x = 0; x < sw; ++x) camera.pixel(x, y, srow + 3 * x);
      }
    }
    if (drows > 0) write_strip(dd, design_path, y0, drows, w, dbuf);
    if (srows > 0) write_strip(sd, scan_path, y0, srows, sw, sbuf);
  }
  writer.add_text(truth_path, truth.to_json_text());
  writer.commit();
  spdlog::info("synth: wrote {} ({}x{} RGB, seed {})", design_path, o.width, o.height, o.seed);
  spdlog::info("synth: wrote {} ({}x{} RGB, camera model of the design)", scan_path, sw, sh);
  spdlog::info("synth: wrote {} (rotation/scale/shift + {} waves{}), weave +-{:g}", truth_path, truth.waves.size(),
               o.fine_waves > 0 ? fmt::format(", 6 of them fine, up to {:g} px", o.fine_waves) : std::string(),
               o.weave);
  if (o.defects > 0) spdlog::info("synth: {} print defects drawn into the scan (truth.json \"defects\")", o.defects);
}

}  // namespace alinify::synth
