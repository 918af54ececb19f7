#include "refine_blocks.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <sstream>
#include <utility>

#include "alinify/core/error.hpp"
#include "alinify/warp/backend.hpp"
#include "alinify/warp/lattice_build.hpp"
#include "alinify/warp/warp_kernel.hpp"

namespace alinify::job::detail {
namespace {

reg::block::Block grey_block(const std::vector<uint8_t>& rgb, int size) {
  reg::block::Block b;
  b.size = size;
  b.px.resize(static_cast<size_t>(size) * size);
  for (size_t k = 0; k < b.px.size(); ++k) b.px[k] = io::grey_of(rgb[k * 3], rgb[k * 3 + 1], rgb[k * 3 + 2]);
  return b;
}

// Every corner of the block maps inside the scan: a block across the scan's edge would correlate
// the fill colour's edge, not the print.
bool maps_inside(const transform::Transform& t, const Window& w, Size scan) {
  for (const Vec2 p : {Vec2{double(w.x0), double(w.y0)}, Vec2{double(w.x1() - 1), double(w.y0)},
                       Vec2{double(w.x0), double(w.y1() - 1)}, Vec2{double(w.x1() - 1), double(w.y1() - 1)}}) {
    const Vec2 q = t.apply(p);
    if (!(q.x >= 1 && q.y >= 1 && q.x <= scan.width - 2 && q.y <= scan.height - 2)) return false;
  }
  return true;
}

// The scan under the block, through the warp's own default math (the lattice within 1/64 px of
// the transform, integer bilinear taps: lattice.hpp, fixed_taps.hpp), as grey. The lattice costs
// about 9 exact evaluations per 32 px cell where the transform is smooth instead of one per pixel:
// per-pixel evaluation was the largest single cost of a block (perf, 3000x2250 pair).
reg::block::Block resampled_scan(const Window& w, const io::Raster& scan, const transform::Transform& t) {
  const Window src = warp::source_window(t, w, scan.size(), warp::Interp::kBilinear);
  std::vector<uint8_t> window(static_cast<size_t>(src.width) * src.height * 3);
  scan.read_rgb(src, window.data(), static_cast<size_t>(src.width) * 3);
  const warp::SourceView view{
      window.data(), src.x0, src.y0, src.width, src.height, src.width * 3, scan.size().width, scan.size().height};
  thread_local warp::Lattice lattice;
  lattice.build(t.view(), w.x0, w.y0, w.width, w.height);
  const warp::LatticeView l = lattice.view();
  std::vector<uint8_t> out(static_cast<size_t>(w.width) * w.height * 3);
  std::vector<warp::FixedPoint> q(static_cast<size_t>(w.width));
  for (int64_t j = 0; j < w.height; ++j) {
    warp::lattice_row(l, w.x0, w.y0 + j, w.width, q.data());
    for (int64_t i = 0; i < w.width; ++i)
      warp::sample_rgb_fixed(view, q[static_cast<size_t>(i)], warp::Interp::kBilinear, {},
                             out.data() + (j * w.width + i) * 3);
  }
  return grey_block(out, static_cast<int>(w.width));
}

}  // namespace

int block_step(Size design) {
  if (design.width < kBlockSize || design.height < kBlockSize) return kDenseBlockStep;
  const int64_t dense =
      ((design.width - kBlockSize) / kDenseBlockStep + 1) * ((design.height - kBlockSize) / kDenseBlockStep + 1);
  return dense <= kMaxDenseBlocks ? kDenseBlockStep : kSparseBlockStep;
}

namespace {

// Block origins along one side: every `step` px from 0, and one more flush with the far edge
// where the last of those stops short of it. Without it up to step + half a block at the right
// and bottom edges lay beyond the last block centre, where the fit extrapolates toward zero: the
// 283 MP periodic pair's largest error (1.48 px, eval max) was in the last 16 px column.
std::vector<int64_t> origins(int64_t side, int step) {
  std::vector<int64_t> o;
  for (int64_t x = 0; x + kBlockSize <= side; x += step) o.push_back(x);
  if (!o.empty() && o.back() + kBlockSize < side) o.push_back(side - kBlockSize);
  return o;
}

}  // namespace

std::vector<BlockSite> block_grid(Size design) { return block_grid(design, block_step(design)); }

std::vector<BlockSite> block_grid(Size design, int step) {
  std::vector<BlockSite> sites;
  if (design.width < kBlockSize || design.height < kBlockSize) return sites;
  const std::vector<int64_t> xs = origins(design.width, step), ys = origins(design.height, step);
  for (const int64_t y : ys)
    for (const int64_t x : xs) sites.push_back({static_cast<int>(sites.size()), Window{x, y, kBlockSize, kBlockSize}});
  return sites;
}

namespace {

// The block moved inward by the smallest move (kMaxInwardShift at most) after which it maps
// inside the scan (itself when it already does), or nothing. Inward: toward the design's centre
// on each axis; a block on the centre line of an axis does not move along it.
std::optional<Window> inward_window(const transform::Transform& t, const Window& w, Size design, Size scan) {
  if (maps_inside(t, w, scan)) return w;
  const auto toward_centre = [](int64_t start, int64_t length, int64_t side) {
    const int64_t twice = 2 * start + length - side;  // twice (block centre - design centre)
    return twice < 0 ? 1 : twice > 0 ? -1 : 0;
  };
  const int sx = toward_centre(w.x0, w.width, design.width), sy = toward_centre(w.y0, w.height, design.height);
  for (int k = 4; k <= kMaxInwardShift; k += 4)
    for (const auto& [mx, my] : {std::pair<int, int>{k * sx, 0}, {0, k * sy}, {k * sx, k * sy}}) {
      if (mx == 0 && my == 0) continue;
      const Window moved{w.x0 + mx, w.y0 + my, w.width, w.height};
      if (moved.clipped(design) == moved && maps_inside(t, moved, scan)) return moved;
    }
  return std::nullopt;
}

}  // namespace

BlockRecord measure_site(const BlockSite& site, const io::Raster& design, const io::Raster& scan,
                         const transform::Transform& t, const reg::block::MatchOptions& options) {
  BlockRecord r;
  r.index = site.index;
  const std::optional<Window> w = inward_window(t, site.window, design.size(), scan.size());
  if (!w) {
    r.inside = false;
    return r;
  }
  r.shift_x = static_cast<int>(w->x0 - site.window.x0);
  r.shift_y = static_cast<int>(w->y0 - site.window.y0);
  std::vector<uint8_t> rgb(static_cast<size_t>(kBlockSize) * kBlockSize * 3);
  design.read_rgb(*w, rgb.data(), static_cast<size_t>(kBlockSize) * 3);
  // The scan is read and resampled only for a block with texture (measure_block decides).
  r.m = reg::block::measure_block(
      grey_block(rgb, kBlockSize), [&] { return resampled_scan(*w, scan, t); }, options);
  return r;
}

double fit_weight(const BlockRecord& r) {
  if (!r.inside) return 0;
  if (r.m.verdict == reg::block::Verdict::kOk) return r.m.confidence;
  if (r.m.verdict != reg::block::Verdict::kDisagree || !(r.m.peak > 0)) return 0;
  return 0.5 * r.m.peak * std::max(0.0, 1.0 - r.m.second / r.m.peak) * r.m.aperture;
}

std::string to_message(const std::vector<BlockRecord>& records) {
  std::string text;
  for (const BlockRecord& r : records)
    fmt::format_to(std::back_inserter(text), "{} {} {} {} {} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g}\n",
                   r.index, r.inside ? 1 : 0, r.shift_x, r.shift_y, static_cast<int>(r.m.verdict), r.m.dx, r.m.dy,
                   r.m.confidence, r.m.peak, r.m.second, r.m.aperture);
  return text;
}

std::vector<BlockRecord> records_from_message(const std::string& text) {
  std::vector<BlockRecord> records;
  std::istringstream in(text);
  BlockRecord r;
  int inside = 0, verdict = 0;
  while (in >> r.index >> inside >> r.shift_x >> r.shift_y >> verdict >> r.m.dx >> r.m.dy >> r.m.confidence >>
         r.m.peak >> r.m.second >> r.m.aperture) {
    r.inside = inside != 0;
    r.m.verdict = static_cast<reg::block::Verdict>(verdict);
    records.push_back(r);
  }
  if (!in.eof()) fail_runtime("refinement: a block record did not parse");
  return records;
}

}  // namespace alinify::job::detail
