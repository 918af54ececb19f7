#include "alinify/defects/centroid.hpp"

#include <algorithm>
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
  // added weighs 1.
  double sx = 0, sy = 0, n = 0;
  for (int64_t y = 0; y < bh; ++y)
    for (int64_t x = 0; x < bw; ++x) {
      double weight = 0;
      if (piece.at(x, y))
        weight = std::min(1.0, 2.0 * de(x, y) / static_cast<double>(peak[static_cast<size_t>(y * bw + x)]));
      else if (closed.at(x, y))
        weight = 1;
      sx += weight * static_cast<double>(x);
      sy += weight * static_cast<double>(y);
      n += weight;
    }
  if (n == 0) return std::nullopt;
  return Vec2{static_cast<double>(d.x0) + sx / n, static_cast<double>(d.y0) + sy / n};
}

}  // namespace alinify::defects
