// The periodic print (see synth.hpp): a repeat tile with a straight, mirrored or half-drop layout,
// and a few one-off elements on top; and the truth of a hand-placed fabric on a larger scan canvas.
#include <algorithm>
#include <cmath>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/synth/synth.hpp"
#include "hash.hpp"

namespace alinify::synth {

using detail::hash4;
using detail::Rng;

namespace {

struct Blob {
  int type;  // 0 disc, 1 ring, 2 rectangle (rotated)
  double cx, cy, a, b, c, s;
  uint8_t rgb[3];
};

void colour_of(Rng& rng, uint8_t out[3]) {
  const double v = rng.uniform(0.15, 0.95), sat = rng.uniform(0.1, 0.9);
  const double h = rng.uniform(0, 2 * M_PI);
  for (int k = 0; k < 3; ++k) {
    const double x = v * (1 - sat * 0.5 * (1 + std::cos(h + k * 2.0944)));
    out[k] = static_cast<uint8_t>(std::clamp(std::lround(255 * x), 0L, 255L));
  }
}

bool hit(const Blob& b, double dx, double dy) {
  switch (b.type) {
    case 0:
      return dx * dx + dy * dy <= b.a * b.a;
    case 1: {
      const double r2 = dx * dx + dy * dy;
      return r2 <= b.a * b.a && r2 >= b.b * b.b;
    }
    default: {
      const double u = b.c * dx + b.s * dy, v = -b.s * dx + b.c * dy;
      return std::abs(u) <= b.a && std::abs(v) <= b.b;
    }
  }
}

// A blob of the given kind, place and size; its aspect, orientation and colour are drawn here,
// after the caller's draws (the order of draws is part of the seed's meaning).
Blob random_blob(Rng& rng, int type, double cx, double cy, double a) {
  Blob b{};
  b.type = type;
  b.cx = cx;
  b.cy = cy;
  b.a = a;
  b.b = type == 1 ? a * rng.uniform(0.4, 0.8) : a * rng.uniform(0.3, 1.0);
  const double t = rng.uniform(0, M_PI);
  b.c = std::cos(t);
  b.s = std::sin(t);
  colour_of(rng, b.rgb);
  return b;
}

}  // namespace

struct PeriodicPattern::Impl {
  Size size;
  double px = 1, py = 1;
  int layout = 0;
  uint8_t bg[3], stripe[3], dot[3];
  double st_c = 1, st_s = 0, st_period = 10, st_width = 0.4;
  double dot_spacing = 9, dot_r = 1.5;
  std::vector<Blob> tile_blobs, one_offs;

  void build(uint64_t seed) {
    Rng rng(detail::mix64(seed) ^ 0x706572696f64ULL);
    const double across = 7 + rng.uniform(0, 5);  // 7..12 repeats across the width
    px = static_cast<double>(size.width) / across;
    py = px * rng.uniform(0.75, 1.3);
    layout = rng.below(3);
    colour_of(rng, bg);
    colour_of(rng, stripe);
    colour_of(rng, dot);
    const double ang = rng.uniform(0, M_PI);
    st_c = std::cos(ang);
    st_s = std::sin(ang);
    st_period = px / (3 + rng.below(4));
    st_width = rng.uniform(0.2, 0.5);
    dot_spacing = px / std::max(1.0, std::round(px / 9.0));
    dot_r = std::min(2.0, dot_spacing * 0.2);
    const int n = 4 + rng.below(4);
    for (int i = 0; i < n; ++i) {
      const int type = rng.below(3);
      const double cx = rng.uniform(0, px);
      const double cy = rng.uniform(0, py);
      tile_blobs.push_back(random_blob(rng, type, cx, cy, rng.uniform(0.06, 0.2) * px));
    }
    const int m = 3 + rng.below(3);  // one-off elements: a label, a logo... anywhere on the design
    const double big = static_cast<double>(std::max(size.width, size.height));
    for (int i = 0; i < m; ++i) {
      const int type = rng.below(3);
      const double cx = rng.uniform(0.1, 0.9) * size.width;
      const double cy = rng.uniform(0.1, 0.9) * size.height;
      one_offs.push_back(random_blob(rng, type, cx, cy, rng.uniform(0.02, 0.05) * big));
    }
  }

  void colour(double x, double y, uint8_t out[3]) const {
    for (auto it = one_offs.rbegin(); it != one_offs.rend(); ++it)
      if (hit(*it, x - it->cx, y - it->cy)) {
        std::copy(it->rgb, it->rgb + 3, out);
        return;
      }
    // Tile-local coordinates.
    const double ix = std::floor((x + 0.5) / px);
    double yy = y;
    if (layout == 2 && (static_cast<int64_t>(ix) & 1)) yy += py / 2;
    const double iy = std::floor((yy + 0.5) / py);
    double u = x + 0.5 - ix * px, v = yy + 0.5 - iy * py;
    if (layout == 1) {
      if (static_cast<int64_t>(ix) & 1) u = px - u;
      if (static_cast<int64_t>(iy) & 1) v = py - v;
    }
    for (auto it = tile_blobs.rbegin(); it != tile_blobs.rend(); ++it) {
      double dx = u - it->cx, dy = v - it->cy;  // periodic distance inside the tile
      dx -= px * std::round(dx / px);
      dy -= py * std::round(dy / py);
      if (hit(*it, dx, dy)) {
        std::copy(it->rgb, it->rgb + 3, out);
        return;
      }
    }
    const double lx = u / dot_spacing - std::floor(u / dot_spacing) - 0.5;
    const double ly = v / dot_spacing - std::floor(v / dot_spacing) - 0.5;
    if ((lx * lx + ly * ly) * dot_spacing * dot_spacing <= dot_r * dot_r) {
      std::copy(dot, dot + 3, out);
      return;
    }
    const double t = (u * st_c + v * st_s) / st_period;
    if (t - std::floor(t) < st_width) {
      std::copy(stripe, stripe + 3, out);
      return;
    }
    std::copy(bg, bg + 3, out);
  }
};

PeriodicPattern::PeriodicPattern(Size size, uint64_t seed) : impl_(std::make_unique<Impl>()) {
  if (size.width <= 0 || size.height <= 0) fail_usage("design size must be positive");
  impl_->size = size;
  impl_->build(seed);
}
PeriodicPattern::~PeriodicPattern() = default;
void PeriodicPattern::colour(double x, double y, uint8_t rgb[3]) const { impl_->colour(x, y, rgb); }
double PeriodicPattern::period_x() const { return impl_->px; }
double PeriodicPattern::period_y() const { return impl_->py; }
int PeriodicPattern::layout() const { return impl_->layout; }

Truth make_periodic_truth(Size design, double period_x, double period_y, uint64_t seed, double margin,
                          double max_rotation_deg, bool quarter_turns) {
  if (design.width <= 0 || design.height <= 0) fail_usage("synthetic image sizes must be positive");
  if (!(margin >= 0 && margin <= 1)) fail_usage("--margin: must be in 0..1");
  Rng rng(detail::mix64(seed) ^ 0x706c616365ULL);
  const int quarter = quarter_turns ? 1 + rng.below(3) : 0;
  const double phi = (rng.uniform(-max_rotation_deg, max_rotation_deg) + 90.0 * quarter) * M_PI / 180.0;
  const double scale = 1.0 + rng.uniform(-0.01, 0.01);
  // Fabric in the scan: q = scale * R(phi) * (p - cd) + cs + shift.
  const double c = std::cos(phi), s = std::sin(phi);
  double bw = 0, bh = 0;
  for (double sx : {-1.0, 1.0})
    for (double sy : {-1.0, 1.0}) {
      const double x = sx * design.width / 2.0, y = sy * design.height / 2.0;
      bw = std::max(bw, std::abs(scale * (c * x - s * y)));
      bh = std::max(bh, std::abs(scale * (s * x + c * y)));
    }
  bw *= 2;
  bh *= 2;
  Truth t;
  t.design = design;
  t.scan = Size{static_cast<int64_t>(std::ceil(bw * (1 + 2 * margin))),
                static_cast<int64_t>(std::ceil(bh * (1 + 2 * margin)))};
  // Shift: a fraction of the period (in scan axes), kept inside the margin.
  const double pmax = std::max(period_x, period_y);
  double shift[2];
  for (int k = 0; k < 2; ++k) {
    const double lim = 0.9 * margin * (k == 0 ? bw : bh);
    const double v = rng.uniform(0.3, 0.6) * pmax * (rng.below(2) ? 1 : -1);
    shift[k] = std::clamp(v, -lim, lim);
  }
  // design = m * scan + offset, m = R(-phi) / scale.
  t.m[0] = c / scale;
  t.m[1] = s / scale;
  t.m[2] = -s / scale;
  t.m[3] = c / scale;
  const double cdx = (design.width - 1) / 2.0, cdy = (design.height - 1) / 2.0;
  const double qx = (t.scan.width - 1) / 2.0 + shift[0], qy = (t.scan.height - 1) / 2.0 + shift[1];
  t.offset[0] = cdx - (t.m[0] * qx + t.m[1] * qy);
  t.offset[1] = cdy - (t.m[2] * qx + t.m[3] * qy);
  // Gentle waves (the fabric is not quite flat).
  const double extent = static_cast<double>(std::max(t.scan.width, t.scan.height));
  const double total_amp = 0.001 * static_cast<double>(std::max(design.width, design.height));
  const int n = 4;
  for (int i = 0; i < n; ++i) {
    const double lambda = rng.uniform(extent / 3.0, extent / 1.2);
    const double dir = rng.uniform(0, 2 * M_PI);
    const double k = 2 * M_PI / lambda;
    Wave w{};
    w.axis = i % 2;
    w.amp = total_amp / n;
    w.kx = k * std::cos(dir);
    w.ky = k * std::sin(dir);
    w.phase = rng.uniform(0, 2 * M_PI);
    t.waves.push_back(w);
  }
  return t;
}

}  // namespace alinify::synth
