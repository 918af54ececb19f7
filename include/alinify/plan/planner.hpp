#pragma once
// Pure planning functions: registration resolution from a memory budget, warp strip heights,
// and the split of output rows among ranks.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"

namespace alinify::plan {

// Peak RSS of an elastix run as a + b * (fixed + moving pixels). Measured on Debian 12's elastix
// 5.0.1 with the project's presets; the figures and how they were measured are in docs/memory_budget.md.
// Measured 2026-11-26 with tools/measure_elastix_memory.sh (peak RSS of the child from wait4, one
// point confirmed by /usr/bin/time -v), 0.84 to 54 MP of fixed + moving pixels, 2 cores:
//   least squares affine  a = 82.8 MiB, b = 13.04 B/px  -> b rounded up 10%: 14.4
//   least squares bspline a = 79.1 MiB, b = 13.16 B/px  -> b rounded up 10%: 14.5
// (the bspline preset runs an affine stage first; its peak equals the affine one within 1.5 MiB).
// The overhead is the measured floor (112.5 MiB at <= 3 MP), above both intercepts, so the model
// is above every measured peak.
constexpr double kElastixBytesPerPixelLinear = 14.4;
constexpr double kElastixBytesPerPixelBSpline = 14.5;
constexpr uint64_t kElastixOverhead = 112ull << 20;

struct ElastixMemoryModel {
  double bytes_per_pixel = 0;  // per registration pixel, fixed and moving counted together
  uint64_t overhead = 0;       // fixed cost of the process
};
ElastixMemoryModel elastix_memory_model(const std::string& preset);

struct RegistrationPlan {
  int factor = 1;             // decimation factor (integer, both axes)
  Size design_reg, scan_reg;  // registration image sizes
  uint64_t estimated_bytes = 0;
  std::string reason;  // one human sentence for the log
};

// Registration needs at least this many pixels on each side of both registration images; below
// it, elastix's pyramid has nothing left to work on.
constexpr int64_t kMinRegistrationSide = 64;
// The smallest --registration-max-pixels that leaves a square image of kMinRegistrationSide.
constexpr int64_t kMinRegistrationPixels = kMinRegistrationSide * kMinRegistrationSide;

// Usage error when --registration-max-pixels is below kMinRegistrationPixels (the CLI checks it
// before any file is opened, plan_registration again for every other caller).
void check_registration_max_pixels(std::optional<int64_t> max_pixels);

// Bad input (exit 2) naming `path` when an image of `size` is smaller than registration needs even
// at full resolution ("scan.tif: 40x30 is smaller than the 64 px registration needs"): checked
// when the images are opened, before any planning, so that it is not mistaken for a short budget.
void check_registration_size(const std::string& path, Size size);

// The smallest factor f >= 1 such that (a) the estimated elastix peak fits in the budget share it
// may use and (b) the larger of the two registration images has at most max_pixels pixels when
// given. There is no path around this function: every registration goes through it.
// `cap_reason` names where max_pixels came from, for the plan's reason.
RegistrationPlan plan_registration(Size design, Size scan, uint64_t budget_bytes, const ElastixMemoryModel& model,
                                   std::optional<int64_t> max_pixels,
                                   const std::string& cap_reason = "--registration-max-pixels");

// The registration size cap when the refinement runs (`--refine auto`) and no
// --registration-max-pixels is given: the refinement measures at full resolution and brings the
// accuracy, so rank 0's memory and elastix's time need not buy it. 16 million pixels: on the 283 MP
// synth pair (docs/performance.md, "Registration against resolution") elastix takes 26-27 s at
// 1-11 MP and 35 s at 31 MP, 367 MiB at 11 MP against 7.09 GiB at full resolution, and leaves
// 0.26 / 0.58 px (mean / p95): within the refinement's 8 px reach and smooth on its 128 px grid.
// Smaller designs than this are registered at full resolution, as before.
constexpr int64_t kRefinedRegistrationPixels = 16'000'000;

// Control-point spacing of the B-spline preset, in full-resolution pixels (so it does not depend
// on the registration factor): one control point every 1/18 of the design's longer side, rounded
// down to 64 px, at least 256 px. Fabric on the scanner deforms smoothly at the scale of the
// fabric, and a finer grid over a 283 MP scan fits noise: measured in docs/memory_budget.md
// ("B-spline grid spacing").
int bspline_grid_spacing(Size design);

struct StripPlan {
  int strip_rows = 0;  // output rows per strip, a multiple of the tile height
  int block_cols = 0;  // output columns per block inside a strip, a multiple of the tile width
  uint64_t estimated_bytes = 0;
  std::string reason;
};

// A strip's RGB buffer is kept within this many bytes (whole tile rows, at least one): the warp
// fills a strip block by block, then reads it again to encode or write its tiles, and a strip that
// is still in the cache then costs less. On the 283 MP pair (2-core EPYC, 32 MiB L3 shared by the
// ranks) strips of one tile row (14.5 MB) against the 768 / 1792 rows planned before:
// `--compress zstd` -np 2 1.79 against 1.90 s, -np 1 2.92 against 3.06 s (medians of 4-5
// alternating runs), uncompressed -np 2 1.29-1.30 against 1.32-1.38 s; 512 rows (29 MB) were
// slower at -np 2 (docs/memory_budget.md, "The warp strip plan").
constexpr double kStripBufferTarget = 16.0 * 1024 * 1024;

// Output buffer (strip_rows x width x 3) + one source window per block. The source window of a
// block is assumed at most `window_growth` times the block's area plus margins (rotation, scale).
// `ranks` sharing the output: strips are kept small enough that each rank gets about eight, so
// that the round-robin deal balances the work, and within kStripBufferTarget
// (docs/memory_budget.md).
StripPlan plan_strips(Size output, int tile, uint64_t budget_bytes, int ranks = 1, double window_growth = 2.0);

struct RowRange {
  int64_t y0 = 0, rows = 0;
};

// Strips of one rank: the output rows cut at strip_rows (tile-aligned), dealt round-robin so that
// every rank gets a similar share of the image. Pure and independent of how many strips exist.
std::vector<RowRange> strips_for_rank(int64_t height, int strip_rows, int rank, int size);

// The same strips (cut at strip_rows), dealt in one contiguous run per rank: rank r gets strips
// [count*r/size, count*(r+1)/size). For a stage that reads files tiled taller than its strips (the
// defect stage's 128-row strips over 256-row tiles): round-robin, every rank would read every tile
// row of both images through its own GDAL cache.
std::vector<RowRange> strip_run_for_rank(int64_t height, int strip_rows, int rank, int size);

// One contiguous share of `height` rows per rank, in rank order, sizes differing by at most one:
// rank r gets [height*r/size, height*(r+1)/size). The decimation's split (job/decimate_ranks.hpp),
// contiguous so that rank 0's share lands in place and the others' follow in rank order.
RowRange rows_of_rank(int64_t height, int rank, int size);

}  // namespace alinify::plan
