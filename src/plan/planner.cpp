#include "alinify/plan/planner.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"

namespace alinify::plan {
namespace {

// Memory our own process keeps while elastix runs (libraries, logging, GDAL cache cap).
constexpr uint64_t kOwnOverhead = 160ull << 20;
Size decimated(Size s, int f) { return Size{s.width / f, s.height / f}; }

}  // namespace

void check_registration_max_pixels(std::optional<int64_t> max_pixels) {
  if (max_pixels && *max_pixels < kMinRegistrationPixels)
    fail_usage("--registration-max-pixels: " + std::to_string(*max_pixels) + " is below the minimum " +
               std::to_string(kMinRegistrationPixels));
}

void check_registration_size(const std::string& path, Size size) {
  if (std::min(size.width, size.height) < kMinRegistrationSide)
    fail_input(path, std::to_string(size.width) + "x" + std::to_string(size.height) + " is smaller than the " +
                         std::to_string(kMinRegistrationSide) + " px registration needs");
}

ElastixMemoryModel elastix_memory_model(const std::string& preset) {
  // Measured with tools/measure_elastix_memory.sh, see docs/memory_budget.md.
  if (preset == "rigid" || preset == "affine") return {kElastixBytesPerPixelLinear, kElastixOverhead};
  return {kElastixBytesPerPixelBSpline, kElastixOverhead};
}

RegistrationPlan plan_registration(Size design, Size scan, uint64_t budget_bytes, const ElastixMemoryModel& model,
                                   std::optional<int64_t> max_pixels, const std::string& cap_reason) {
  if (design.pixels() <= 0 || scan.pixels() <= 0) fail_runtime("cannot plan a registration of an empty image");
  check_registration_max_pixels(max_pixels);
  const double usable = static_cast<double>(budget_bytes) - kOwnOverhead - model.overhead;
  const double pixels = static_cast<double>(design.pixels() + scan.pixels());
  if (usable <= 0)
    fail_runtime("memory budget " + format_bytes(budget_bytes) + " is below the fixed cost of elastix (" +
                 format_bytes(model.overhead + kOwnOverhead) + ")");
  // Smallest f with bytes_per_pixel * pixels / f^2 <= usable.
  int f_mem = std::max(1, static_cast<int>(std::ceil(std::sqrt(model.bytes_per_pixel * pixels / usable) - 1e-9)));
  int f_cap = 1;
  if (max_pixels) {
    double largest = static_cast<double>(std::max(design.pixels(), scan.pixels()));
    f_cap = std::max(1, static_cast<int>(std::ceil(std::sqrt(largest / static_cast<double>(*max_pixels)) - 1e-9)));
    while (std::max(decimated(design, f_cap).pixels(), decimated(scan, f_cap).pixels()) > *max_pixels) ++f_cap;
  }
  RegistrationPlan p;
  p.factor = std::max(f_mem, f_cap);
  p.design_reg = decimated(design, p.factor);
  p.scan_reg = decimated(scan, p.factor);
  if (std::min({p.design_reg.width, p.design_reg.height, p.scan_reg.width, p.scan_reg.height}) < kMinRegistrationSide)
    fail_runtime("memory budget " + format_bytes(budget_bytes) + " allows registration only at 1/" +
                 std::to_string(p.factor) + " scale, below " + std::to_string(kMinRegistrationSide) +
                 " px: give more memory (--mem-budget)");
  p.estimated_bytes =
      model.overhead + static_cast<uint64_t>(model.bytes_per_pixel * (p.design_reg.pixels() + p.scan_reg.pixels()));
  std::ostringstream why;
  why << "register at 1/" << p.factor << " (design " << p.design_reg.width << "x" << p.design_reg.height << ", scan "
      << p.scan_reg.width << "x" << p.scan_reg.height << "), elastix estimate " << format_bytes(p.estimated_bytes)
      << " of budget " << format_bytes(budget_bytes) << "; limited by "
      << (f_cap > f_mem ? cap_reason + " " + std::to_string(*max_pixels)
                        : (p.factor == 1 ? std::string("nothing (full resolution fits)") : std::string("memory")));
  p.reason = why.str();
  return p;
}

int bspline_grid_spacing(Size design) {
  const int64_t longer = std::max(design.width, design.height);
  return static_cast<int>(std::max<int64_t>(256, longer / 18 / 64 * 64));
}

StripPlan plan_strips(Size output, int tile, uint64_t budget_bytes, int ranks, double window_growth) {
  if (tile <= 0 || output.width <= 0 || output.height <= 0) fail_runtime("cannot plan strips of an empty output");
  StripPlan s;
  const int64_t width_tiles = (output.width + tile - 1) / tile;
  s.block_cols = static_cast<int>(std::min<int64_t>(width_tiles, 8) * tile);
  // Half the budget for buffers; the rest is the process, GDAL's block cache and slack.
  const double usable = static_cast<double>(budget_bytes) / 2.0;
  const double strip_row_bytes = 3.0 * static_cast<double>(width_tiles * tile);  // the RGB strip buffer's
  const double per_row = strip_row_bytes + 3.0 * window_growth * s.block_cols;   // ... and a source window's
  int64_t tiles = static_cast<int64_t>(usable / (per_row * tile));
  const int64_t height_tiles = (output.height + tile - 1) / tile;
  const int64_t balanced = std::max<int64_t>(1, height_tiles / (8 * std::max(ranks, 1)));
  const int64_t cached = std::max<int64_t>(1, static_cast<int64_t>(kStripBufferTarget / (strip_row_bytes * tile)));
  tiles = std::clamp<int64_t>(tiles, 1, std::min<int64_t>({8, height_tiles, balanced, cached}));
  s.strip_rows = static_cast<int>(tiles * tile);
  s.estimated_bytes = static_cast<uint64_t>(per_row * s.strip_rows);
  std::ostringstream why;
  why << "strips of " << s.strip_rows << " rows, blocks of " << s.block_cols << " columns, buffers about "
      << format_bytes(s.estimated_bytes) << " of budget " << format_bytes(budget_bytes);
  s.reason = why.str();
  return s;
}

std::vector<RowRange> strips_for_rank(int64_t height, int strip_rows, int rank, int size) {
  std::vector<RowRange> out;
  if (strip_rows <= 0 || size <= 0) return out;
  int64_t count = (height + strip_rows - 1) / strip_rows;
  for (int64_t k = rank; k < count; k += size) {
    int64_t y0 = k * strip_rows;
    out.push_back({y0, std::min<int64_t>(strip_rows, height - y0)});
  }
  return out;
}

std::vector<RowRange> strip_run_for_rank(int64_t height, int strip_rows, int rank, int size) {
  std::vector<RowRange> out;
  if (strip_rows <= 0 || size <= 0 || rank < 0 || rank >= size || height <= 0) return out;
  const int64_t count = (height + strip_rows - 1) / strip_rows;
  for (int64_t k = count * rank / size; k < count * (rank + 1) / size; ++k) {
    const int64_t y0 = k * strip_rows;
    out.push_back({y0, std::min<int64_t>(strip_rows, height - y0)});
  }
  return out;
}

RowRange rows_of_rank(int64_t height, int rank, int size) {
  if (size <= 0 || rank < 0 || rank >= size || height <= 0) return {};
  const int64_t y0 = height * rank / size;
  return {y0, height * (rank + 1) / size - y0};
}

}  // namespace alinify::plan
