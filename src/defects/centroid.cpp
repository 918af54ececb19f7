#include "alinify/defects/centroid.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "alinify/core/error.hpp"

namespace alinify::defects {
namespace {

// A byte image over the box and `pad` px around it; (x, y) in box coordinates.
struct Grid {
  int64_t w = 0, h = 0, pad = 0;
  std::vector<uint8_t> v;
  Grid(int64_t bw, int64_t bh, int64_t p) : w(bw + 2 * p), h(bh + 2 * p), pad(p), v(static_cast<size_t>(w * h), 0) {}
  uint8_t& at(int64_t x, int64_t y) { return v[static_cast<size_t>((y + pad) * w + x + pad)]; }
};

// Separable max (dilate) or min (erode) over a square of radius r, in place.
void square_filter(Grid& g, int64_t r, bool dilate) {
  std::vector<uint8_t> line;
  const auto pass = [&](int64_t n, int64_t count, int64_t stride, int64_t step) {
    line.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < count; ++k) {
      uint8_t* p = g.v.data() + k * step;
      for (int64_t i = 0; i < n; ++i) line[i] = p[i * stride];
      for (int64_t i = 0; i < n; ++i) {
        uint8_t m = line[i];
        for (int64_t j = std::max<int64_t>(0, i - r); j <= std::min(n - 1, i + r); ++j)
          m = dilate ? std::max(m, line[j]) : std::min(m, line[j]);
        p[i * stride] = m;
      }
    }
  };
  pass(g.w, g.h, 1, g.w);  // along rows
  pass(g.h, g.w, g.w, 1);  // along columns
}

// A line-like defect (a streak): every cross-section counts once, however wide its rim came out.
// The weighted pixels' principal axes; when the spread (standard deviation) along the long one is
// at least kLineAspect times the spread across it, the pixels are binned in kSectionPx sections
// along it, and the centroid is the mean of the sections' weighted centres, each section weighing
// its weight over half the median section's, at most 1: the half maximum again, now along the
// streak, so every section of the streak counts once whatever its rim, and a section at an end or
// where most of the streak is unseen counts for what it covers. Otherwise `c`, the weighted mean,
// is kept. Why: the ramp weight evens the rim out only in part (a row of streak 23 on the 283 MP
// pair weighs 5.2-5.4 px over one print and 5.9 over another), and along a streak 300 px long
// that moves the centroid by px; per section it cannot (docs/defects.md, "Centroids by
// cross-section").
constexpr double kLineAspect = 4;  // synth's blots and rectangles are at most 2:1, its streaks 8:1 and more
constexpr double kSectionPx = 2;   // about the rim's width: a section holds whole pixels at any slant
Vec2 along_sections(const std::vector<float>& w, int64_t bw, int64_t bh, Vec2 c) {
  double sxx = 0, syy = 0, sxy = 0, n = 0;
  for (int64_t y = 0; y < bh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      const double v = static_cast<double>(w[static_cast<size_t>(y * bw + x)]);
      const double dx = static_cast<double>(x) - c.x, dy = static_cast<double>(y) - c.y;
      sxx += v * dx * dx;
      syy += v * dy * dy;
      sxy += v * dx * dy;
      n += v;
    }
  sxx /= n, syy /= n, sxy /= n;
  const double half = std::sqrt(0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy);
  const double l1 = 0.5 * (sxx + syy) + half, l2 = 0.5 * (sxx + syy) - half;
  if (l1 < kLineAspect * kLineAspect * std::max(l2, 1e-9)) return c;
  const double theta = 0.5 * std::atan2(2 * sxy, sxx - syy), ux = std::cos(theta), uy = std::sin(theta);
  // No pixel of the box lies farther than its diagonal from c along the axis: the sections cover
  // [-span, span].
  const double span = std::hypot(static_cast<double>(bw), static_cast<double>(bh));
  const auto count = static_cast<size_t>(2 * span / kSectionPx) + 2;
  std::vector<double> sw(count, 0), swx(count, 0), swy(count, 0);
  for (int64_t y = 0; y < bh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      const double v = static_cast<double>(w[static_cast<size_t>(y * bw + x)]);
      if (v == 0) continue;
      const double u = (static_cast<double>(x) - c.x) * ux + (static_cast<double>(y) - c.y) * uy;
      const auto k = static_cast<size_t>(std::floor((u + span) / kSectionPx));
      sw[k] += v;
      swx[k] += v * static_cast<double>(x);
      swy[k] += v * static_cast<double>(y);
    }
  std::vector<double> filled;
  for (double v : sw)
    if (v > 0) filled.push_back(v);
  std::nth_element(filled.begin(), filled.begin() + static_cast<std::ptrdiff_t>(filled.size() / 2), filled.end());
  const double median = filled[filled.size() / 2];
  double tx = 0, ty = 0, tn = 0;
  for (size_t k = 0; k < count; ++k) {
    if (sw[k] == 0) continue;
    const double s = std::min(1.0, 2 * sw[k] / median);
    tx += s * swx[k] / sw[k];
    ty += s * swy[k] / sw[k];
    tn += s;
  }
  return Vec2{tx / tn, ty / tn};
}

}  // namespace

int64_t extent_margin(const DefectOptions& o) { return o.radius + o.scale + 1; }

std::optional<Vec2> extent_centroid(const DeltaWindow& map, const Defect& d, const DefectOptions& o) {
  if (d.x0 < map.x0 || d.y0 < map.y0 || d.x1 >= map.x0 + map.width || d.y1 >= map.y0 + map.height)
    fail_runtime("defects: the Delta E window does not cover defect " + std::to_string(d.id));
  const int64_t bw = d.x1 - d.x0 + 1, bh = d.y1 - d.y0 + 1, reach = o.radius + o.scale, close = reach + 1;
  const auto de = [&](int64_t x, int64_t y) {  // box coordinates, clamped to the window
    const int64_t wx = std::clamp<int64_t>(x + d.x0 - map.x0, 0, map.width - 1);
    const int64_t wy = std::clamp<int64_t>(y + d.y0 - map.y0, 0, map.height - 1);
    return map.de[wy * map.width + wx];
  };
  // The pieces: flood fill from every pixel >= high over pixels >= low, inside the box.
  Grid piece(bw, bh, close);
  std::vector<std::pair<int64_t, int64_t>> stack;
  for (int64_t y = 0; y < bh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      if (piece.at(x, y) || de(x, y) < o.high) continue;
      piece.at(x, y) = 1;
      stack.emplace_back(x, y);
      while (!stack.empty()) {
        const auto [px, py] = stack.back();
        stack.pop_back();
        for (int64_t ny = std::max<int64_t>(0, py - 1); ny <= std::min(bh - 1, py + 1); ++ny)
          for (int64_t nx = std::max<int64_t>(0, px - 1); nx <= std::min(bw - 1, px + 1); ++nx)
            if (!piece.at(nx, ny) && de(nx, ny) >= o.low) {
              piece.at(nx, ny) = 1;
              stack.emplace_back(nx, ny);
            }
      }
    }
  Grid closed = piece;
  square_filter(closed, close, true);
  square_filter(closed, close, false);
  // The largest Delta E within +-reach: a row pass, then a column pass (box plus reach around it).
  const int64_t wh = bh + 2 * reach;
  std::vector<float> rowmax(static_cast<size_t>(bw * wh)), peak(static_cast<size_t>(bw * bh));
  for (int64_t y = 0; y < wh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      float m = 0;
      for (int64_t k = -reach; k <= reach; ++k) m = std::max(m, de(x + k, y - reach));
      rowmax[static_cast<size_t>(y * bw + x)] = m;
    }
  for (int64_t y = 0; y < bh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      float m = 0;
      for (int64_t k = 0; k <= 2 * reach; ++k) m = std::max(m, rowmax[static_cast<size_t>((y + k) * bw + x)]);
      peak[static_cast<size_t>(y * bw + x)] = m;
    }
  // A piece's pixel weighs its Delta E over half the local maximum, at most 1; a pixel the closing
  // added weighs 1. The weights replace the maxima in place (each is read once, by its own pixel).
  std::vector<float>& weight = peak;
  double sx = 0, sy = 0, n = 0;
  for (int64_t y = 0; y < bh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      double w = 0;
      const size_t i = static_cast<size_t>(y * bw + x);
      if (piece.at(x, y))
        w = std::min(1.0, 2.0 * de(x, y) / static_cast<double>(peak[i]));
      else if (closed.at(x, y))
        w = 1;
      weight[i] = static_cast<float>(w);
      sx += w * static_cast<double>(x);
      sy += w * static_cast<double>(y);
      n += w;
    }
  if (n == 0) return std::nullopt;
  const Vec2 c = along_sections(weight, bw, bh, Vec2{sx / n, sy / n});
  return Vec2{static_cast<double>(d.x0) + c.x, static_cast<double>(d.y0) + c.y};
}

}  // namespace alinify::defects
