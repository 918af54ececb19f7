// Print defects drawn into the pattern the camera samples (synth --defects): the truth knows each
// box in design pixels because the shapes are drawn in design space, before the scan is rendered.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/defects/colour.hpp"
#include "alinify/synth/synth.hpp"
#include "hash.hpp"

namespace alinify::synth {

namespace {

enum class Shape { kBlot, kMissing, kStreak, kShift };

struct Drawn {
  Shape shape;
  double cx, cy;
  double rx, ry;                // blot: radii; missing/shift: half sides; streak: half length, half width
  double ux = 1, uy = 0;        // streak: direction
  uint8_t ink[3] = {0, 0, 0};   // blot, missing, streak: the colour drawn
  double opacity = 1;           // < 1: the ink (or the shift) only this much of the way
  double ext_x = 0, ext_y = 0;  // half extent of the box

  // The box in whole pixels, inclusive: {x0, y0, x1, y1}.
  std::array<int64_t, 4> box() const {
    return {static_cast<int64_t>(std::floor(cx - ext_x)), static_cast<int64_t>(std::floor(cy - ext_y)),
            static_cast<int64_t>(std::ceil(cx + ext_x)), static_cast<int64_t>(std::ceil(cy + ext_y))};
  }
  bool inside(double x, double y) const {
    const double dx = x - cx, dy = y - cy;
    switch (shape) {
      case Shape::kBlot:
        return (dx / rx) * (dx / rx) + (dy / ry) * (dy / ry) <= 1;
      case Shape::kStreak: {
        const double along = dx * ux + dy * uy, across = -dx * uy + dy * ux;
        return std::abs(along) <= rx && std::abs(across) <= ry;
      }
      default:
        return std::abs(dx) <= rx && std::abs(dy) <= ry;
    }
  }
  // The colour of the defect over a base colour.
  void paint(const uint8_t base[3], uint8_t out[3]) const {
    if (shape != Shape::kShift) {
      if (opacity >= 1) {
        std::copy(ink, ink + 3, out);
        return;
      }
      for (int c = 0; c < 3; ++c)
        out[c] = static_cast<uint8_t>(std::lround(base[c] + opacity * (static_cast<double>(ink[c]) - base[c])));
      return;
    }
    // A shifted ink: red up, blue down (hue and chroma move, lightness roughly stays).
    const int shift = opacity >= 1 ? 55 : static_cast<int>(std::lround(55 * opacity));
    out[0] = static_cast<uint8_t>(std::clamp(base[0] + shift, 0, 255));
    out[1] = base[1];
    out[2] = static_cast<uint8_t>(std::clamp(base[2] - shift, 0, 255));
  }
  // Delta E 1976 between the design at (x, y) and the defect painted over it.
  double contrast(const Pattern& design, double x, double y) const {
    uint8_t b[3], p[3];
    design.colour(x, y, b);
    paint(b, p);
    return defects::delta_e76(defects::srgb_to_lab(b[0], b[1], b[2]), defects::srgb_to_lab(p[0], p[1], p[2]));
  }
};

const char* shape_name(Shape s) {
  switch (s) {
    case Shape::kBlot:
      return "blot";
    case Shape::kMissing:
      return "missing";
    case Shape::kStreak:
      return "streak";
    default:
      return "shift";
  }
}

const char* kind_of(Shape s) {
  switch (s) {
    case Shape::kMissing:
      return "missing_ink";
    case Shape::kShift:
      return "colour_shift";
    default:
      return "extra_ink";
  }
}

}  // namespace

struct DefectedPattern::Impl {
  const Pattern& base;
  std::vector<Drawn> shapes;
  std::vector<DefectTruth> truth;
};

namespace {

// The median of the values (reordered), 0 for none.
double median_in_place(std::vector<double>& v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Median Delta E 1976 between the design and the defect over the shape's inside (a 9x9 grid of its box).
double median_contrast(const Pattern& base, const Drawn& d) {
  std::vector<double> de;
  for (int j = 0; j < 9; ++j)
    for (int i = 0; i < 9; ++i) {
      const double x = d.cx - d.ext_x + 2 * d.ext_x * i / 8.0, y = d.cy - d.ext_y + 2 * d.ext_y * j / 8.0;
      if (d.inside(x, y)) de.push_back(d.contrast(base, x, y));
    }
  return median_in_place(de);
}

// The pixels of the shape that visibly change the print (Delta E 1976 >= kVisibleDeltaE against the
// design beneath): their centroid and count. Pixel centres at integers, as the images sample them.
constexpr double kVisibleDeltaE = 10;  // issue 18's defect contrast: "defects ... at Delta E >= 10"
void visible_part(const Pattern& base, const Drawn& d, DefectTruth& t) {
  double sx = 0, sy = 0;
  int64_t n = 0;
  for (int64_t y = t.y0; y <= t.y1; ++y)
    for (int64_t x = t.x0; x <= t.x1; ++x) {
      const double fx = static_cast<double>(x), fy = static_cast<double>(y);
      if (!d.inside(fx, fy) || d.contrast(base, fx, fy) < kVisibleDeltaE) continue;
      sx += fx;
      sy += fy;
      ++n;
    }
  t.visible_px = n;
  t.visible_cx = n ? sx / static_cast<double>(n) : d.cx;
  t.visible_cy = n ? sy / static_cast<double>(n) : d.cy;
}

// Sizes: a third small (6..16 px), a third medium (16..60), a third large (60..200); streaks 40..300 long.
double draw_size(detail::Rng& rng) {
  const int c = rng.below(3);
  return c == 0 ? rng.uniform(6, 16) : c == 1 ? rng.uniform(16, 60) : rng.uniform(60, 200);
}

Drawn candidate(Shape shape, Size size, detail::Rng& rng) {
  Drawn d{};
  d.shape = shape;
  switch (shape) {
    case Shape::kBlot: {
      const double s = draw_size(rng);
      d.rx = s / 2;
      d.ry = s / 2 * rng.uniform(0.6, 1.0);
      d.ext_x = d.rx;
      d.ext_y = d.ry;
      d.ink[0] = 28, d.ink[1] = 22, d.ink[2] = 35;
      break;
    }
    case Shape::kMissing:
    case Shape::kShift: {
      d.rx = draw_size(rng) / 2;
      d.ry = std::max(3.0, d.rx * rng.uniform(0.5, 1.5));
      d.ext_x = d.rx;
      d.ext_y = d.ry;
      d.ink[0] = 246, d.ink[1] = 244, d.ink[2] = 238;  // the bare fabric
      break;
    }
    case Shape::kStreak: {
      d.rx = rng.uniform(20, 150);
      d.ry = rng.uniform(1.5, 2.5);
      const int dir = rng.below(3);  // along the print direction, across it, or slanted
      const double a = dir == 0 ? 0.0 : dir == 1 ? M_PI / 2 : rng.uniform(0.2, 1.3);
      d.ux = std::cos(a);
      d.uy = std::sin(a);
      d.ext_x = std::abs(d.rx * d.ux) + std::abs(d.ry * d.uy);
      d.ext_y = std::abs(d.rx * d.uy) + std::abs(d.ry * d.ux);
      d.ink[0] = 35, d.ink[1] = 30, d.ink[2] = 45;
      break;
    }
  }
  const double mx = 0.06 * static_cast<double>(size.width) + d.ext_x,
               my = 0.06 * static_cast<double>(size.height) + d.ext_y;
  d.cx = std::floor(rng.uniform(mx, static_cast<double>(size.width) - mx));
  d.cy = std::floor(rng.uniform(my, static_cast<double>(size.height) - my));
  return d;
}

// The median contrast over the pixel centres inside the shape (every pixel of a small shape, a
// regular subset of at most about 400 of a large one): what --defect-contrast promises, where the
// 9 x 9 grid of median_contrast samples a thin slanted streak at a handful of points.
double pixel_median_contrast(const Pattern& base, const Drawn& d) {
  const auto [x0, y0, x1, y1] = d.box();
  const double area = static_cast<double>((x1 - x0 + 1) * (y1 - y0 + 1));
  const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(area / 400))));
  std::vector<double> de;
  for (int64_t y = y0; y <= y1; y += step)
    for (int64_t x = x0; x <= x1; x += step) {
      const double px = static_cast<double>(x), py = static_cast<double>(y);
      if (d.inside(px, py)) de.push_back(d.contrast(base, px, py));
    }
  return median_in_place(de);
}

// The smallest opacity whose median contrast reaches `target` (bisection; the contrast grows with the
// opacity up to the rounding of the painted colour), or 0 when the full ink stays below it.
double opacity_for(const Pattern& base, Drawn d, double target) {
  d.opacity = 1;
  if (pixel_median_contrast(base, d) < target) return 0;
  double lo = 0, hi = 1;
  for (int i = 0; i < 20; ++i) {
    d.opacity = (lo + hi) / 2;
    (pixel_median_contrast(base, d) >= target ? hi : lo) = d.opacity;
  }
  return hi;
}

}  // namespace

DefectedPattern::DefectedPattern(const Pattern& base, Size size, int count, uint64_t seed, double contrast)
    : impl_(std::make_unique<Impl>(Impl{base, {}, {}})) {
  if (count < 0 || count > 10000) fail_usage("--defects: must be in 0..10000");
  detail::Rng rng(detail::mix64(seed) ^ 0x64656665637473ULL);
  constexpr double kMinContrast = 15;
  constexpr double kGap = 12;  // px between boxes: two defects never touch, even after smoothing
  for (int i = 0; i < count; ++i) {
    const Shape shape = static_cast<Shape>(i % 4);
    bool placed = false;
    for (int attempt = 0; attempt < 200 && !placed; ++attempt) {
      Drawn d = candidate(shape, size, rng);
      if (2 * d.ext_x + 2 * 0.06 * static_cast<double>(size.width) >= static_cast<double>(size.width) ||
          2 * d.ext_y + 2 * 0.06 * static_cast<double>(size.height) >= static_cast<double>(size.height))
        continue;
      bool clear = true;
      for (const Drawn& o : impl_->shapes)
        if (std::abs(o.cx - d.cx) < o.ext_x + d.ext_x + kGap && std::abs(o.cy - d.cy) < o.ext_y + d.ext_y + kGap)
          clear = false;
      if (!clear) continue;
      if (contrast > 0) {
        d.opacity = opacity_for(base, d, contrast);
        if (d.opacity <= 0 || pixel_median_contrast(base, d) > contrast + 1) continue;
      } else if (median_contrast(base, d) < kMinContrast) {
        continue;
      }
      DefectTruth t;
      t.id = static_cast<int64_t>(impl_->truth.size()) + 1;
      t.shape = shape_name(shape);
      t.kind = kind_of(shape);
      const std::array<int64_t, 4> box = d.box();
      t.x0 = box[0];
      t.y0 = box[1];
      t.x1 = box[2];
      t.y1 = box[3];
      t.cx = d.cx;
      t.cy = d.cy;
      visible_part(base, d, t);
      impl_->shapes.push_back(d);
      impl_->truth.push_back(t);
      placed = true;
    }
    if (!placed)
      fail_usage("--defects: found room for only " + std::to_string(impl_->truth.size()) + " of " +
                 std::to_string(count) + " defects on this design");
  }
}

DefectedPattern::~DefectedPattern() = default;

void DefectedPattern::colour(double x, double y, uint8_t rgb[3]) const {
  impl_->base.colour(x, y, rgb);
  for (const Drawn& d : impl_->shapes) {
    if (std::abs(x - d.cx) > d.ext_x || std::abs(y - d.cy) > d.ext_y || !d.inside(x, y)) continue;
    uint8_t base[3] = {rgb[0], rgb[1], rgb[2]};
    d.paint(base, rgb);
    return;
  }
}

const std::vector<DefectTruth>& DefectedPattern::truth() const { return impl_->truth; }

}  // namespace alinify::synth
