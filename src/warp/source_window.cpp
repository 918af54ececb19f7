#include <algorithm>
#include <cmath>
#include <limits>

#include "alinify/warp/backend.hpp"

namespace alinify::warp {

Window source_window(const transform::Transform& t, const Window& b, Size scan, Interp interp, int step) {
  const transform::TransformView v = t.view();
  double minx = std::numeric_limits<double>::infinity(), miny = minx, maxx = -minx, maxy = -minx;
  auto visit = [&](int64_t x, int64_t y) {
    double qx, qy;
    transform::apply_view(v, static_cast<double>(x), static_cast<double>(y), &qx, &qy);
    minx = std::min(minx, qx);
    maxx = std::max(maxx, qx);
    miny = std::min(miny, qy);
    maxy = std::max(maxy, qy);
  };
  for (int64_t y = b.y0;; y = std::min(y + step, b.y1() - 1)) {
    for (int64_t x = b.x0;; x = std::min(x + step, b.x1() - 1)) {
      visit(x, y);
      if (x == b.x1() - 1) break;
    }
    if (y == b.y1() - 1) break;
  }
  // Filter radius, plus one pixel for curvature between samples and rounding.
  const int64_t m = interp_radius(interp) + 1;
  Window w;
  w.x0 = static_cast<int64_t>(std::floor(minx)) - m;
  w.y0 = static_cast<int64_t>(std::floor(miny)) - m;
  w.width = static_cast<int64_t>(std::ceil(maxx)) + m + 1 - w.x0;
  w.height = static_cast<int64_t>(std::ceil(maxy)) + m + 1 - w.y0;
  return w.clipped(scan);
}

}  // namespace alinify::warp
