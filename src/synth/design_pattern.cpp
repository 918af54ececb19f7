// The procedural print design (see synth.hpp): a brick-offset grid of hashed cells, each with its
// own background (flat, stripes, split) and motifs that may overflow into neighbouring cells, a
// blob texture at ~1/150 of the size, and fine detail (thin lines, dot fields) in absolute pixels.
#include <algorithm>
#include <cmath>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/synth/synth.hpp"
#include "hash.hpp"

namespace alinify::synth {

using detail::hash4;
using detail::Rng;
using detail::unit;

namespace {

enum ShapeType : int { kCircle = 0, kRing, kRect, kTriangle, kBand, kShapeTypes };
enum Background : int { kFlat = 0, kStripes, kSplit };

constexpr double kCellsAcross = 20.0;     // cell size = max(W, H) / 20
constexpr double kTextureAcross = 150.0;  // blob texture cell = max(W, H) / 150

struct Shape {
  int type;
  double cx, cy, c, s;  // centre, rotation
  double a, b;          // circle: r; ring: r_out, r_in; rect/band: half sizes; triangle: inradius
  double bx0, by0, bx1, by1;
  uint8_t rgb[3];
};

struct Cell {
  int bg = kFlat;
  uint8_t col[3][3] = {};
  double c = 1, s = 0, period = 1, phase = 0;  // stripes
  uint64_t key = 0;
  double nx = 1, ny = 0, d = 0;  // split line
  bool dots = false;
  double dot_spacing = 8, dot_r = 1;
  uint8_t dot_col[3] = {};
  std::vector<uint32_t> shapes;  // indices of shapes whose bounding box meets this cell, ascending
};

void random_colour(Rng& rng, uint8_t out[3]) {
  // HSV with wide ranges: saturated and muted colours, dark and light.
  double h = rng.uniform(0, 6), s = rng.uniform(0.15, 1.0), v = rng.uniform(0.2, 0.97);
  int i = static_cast<int>(h) % 6;
  double f = h - std::floor(h);
  double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r, g, b;
  switch (i) {
    case 0:
      r = v, g = t, b = p;
      break;
    case 1:
      r = q, g = v, b = p;
      break;
    case 2:
      r = p, g = v, b = t;
      break;
    case 3:
      r = p, g = q, b = v;
      break;
    case 4:
      r = t, g = p, b = v;
      break;
    default:
      r = v, g = p, b = q;
      break;
  }
  out[0] = static_cast<uint8_t>(std::lround(r * 255));
  out[1] = static_cast<uint8_t>(std::lround(g * 255));
  out[2] = static_cast<uint8_t>(std::lround(b * 255));
}

void set_bbox(Shape& sh) {
  double ex, ey;
  switch (sh.type) {
    case kCircle:
    case kRing:
      ex = ey = sh.a;
      break;
    case kTriangle:
      ex = ey = 2 * sh.a;
      break;  // circumradius
    default:
      ex = sh.a * std::abs(sh.c) + sh.b * std::abs(sh.s);
      ey = sh.a * std::abs(sh.s) + sh.b * std::abs(sh.c);
  }
  sh.bx0 = sh.cx - ex - 1e-9;
  sh.bx1 = sh.cx + ex + 1e-9;
  sh.by0 = sh.cy - ey - 1e-9;
  sh.by1 = sh.cy + ey + 1e-9;
}

inline bool hit(const Shape& sh, double x, double y) {
  if (x < sh.bx0 || x > sh.bx1 || y < sh.by0 || y > sh.by1) return false;
  const double dx = x - sh.cx, dy = y - sh.cy;
  switch (sh.type) {
    case kCircle:
      return dx * dx + dy * dy <= sh.a * sh.a;
    case kRing: {
      const double r2 = dx * dx + dy * dy;
      return r2 <= sh.a * sh.a && r2 >= sh.b * sh.b;
    }
    default:
      break;
  }
  const double u = dx * sh.c + dy * sh.s, v = -dx * sh.s + dy * sh.c;
  if (sh.type == kTriangle) {
    constexpr double kC30 = 0.86602540378443865, kS30 = 0.5;
    return -v <= sh.a && kC30 * u + kS30 * v <= sh.a && -kC30 * u + kS30 * v <= sh.a;
  }
  return std::abs(u) <= sh.a && std::abs(v) <= sh.b;  // rect, band
}

}  // namespace

struct DesignPattern::Impl {
  Size size;
  uint64_t seed = 0;
  double cell = 1, inv_cell = 1, tex = 4, inv_tex = 0.25;
  int64_t row0 = 0, nrows = 0, col0 = 0, ncols = 0;
  std::vector<double> row_shift;
  std::vector<Cell> cells;
  std::vector<Shape> shapes;

  const Cell& cell_at(double x, double y) const {
    int64_t j = static_cast<int64_t>(std::floor(y * inv_cell)) - row0;
    j = std::clamp<int64_t>(j, 0, nrows - 1);
    int64_t i = static_cast<int64_t>(std::floor((x - row_shift[j]) * inv_cell)) - col0;
    i = std::clamp<int64_t>(i, 0, ncols - 1);
    return cells[j * ncols + i];
  }

  void add_shape(const Shape& sh) {
    const uint32_t index = static_cast<uint32_t>(shapes.size());
    shapes.push_back(sh);
    const int64_t j0 = std::max<int64_t>(static_cast<int64_t>(std::floor(sh.by0 * inv_cell)) - row0, 0);
    const int64_t j1 = std::min<int64_t>(static_cast<int64_t>(std::floor(sh.by1 * inv_cell)) - row0, nrows - 1);
    for (int64_t j = j0; j <= j1; ++j) {
      const int64_t i0 =
          std::max<int64_t>(static_cast<int64_t>(std::floor((sh.bx0 - row_shift[j]) * inv_cell)) - col0, 0);
      const int64_t i1 =
          std::min<int64_t>(static_cast<int64_t>(std::floor((sh.bx1 - row_shift[j]) * inv_cell)) - col0, ncols - 1);
      for (int64_t i = i0; i <= i1; ++i) cells[j * ncols + i].shapes.push_back(index);
    }
  }

  void build() {
    lay_out_cells();
    for (int64_t j = 0; j < nrows; ++j)
      for (int64_t i = 0; i < ncols; ++i) draw_background(i, j);
    // Motifs (1-3 per cell, 0.12..0.6 cell, may overflow into neighbours), then fine lines on top.
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < nrows; ++j)
        for (int64_t i = 0; i < ncols; ++i) draw_shapes(i, j, pass);
  }

  // The cell grid: sizes from the image's longer side, rows shifted like bricks.
  void lay_out_cells() {
    const double extent = static_cast<double>(std::max(size.width, size.height));
    cell = std::max(extent / kCellsAcross, 8.0);
    inv_cell = 1.0 / cell;
    tex = std::max(extent / kTextureAcross, 4.0);
    inv_tex = 1.0 / tex;
    row0 = -2;
    nrows = static_cast<int64_t>(std::ceil(size.height / cell)) + 4;
    col0 = -3;
    ncols = static_cast<int64_t>(std::ceil(size.width / cell)) + 6;
    row_shift.resize(nrows);
    for (int64_t j = 0; j < nrows; ++j) row_shift[j] = unit(hash4(seed, j + row0, 0, 11)) * cell;
    cells.resize(nrows * ncols);
  }

  // A cell's background (flat, stripes or split, maybe dots), from the cell's own random stream.
  void draw_background(int64_t i, int64_t j) {
    Cell& c = cells[j * ncols + i];
    Rng rng(hash4(seed, i + col0, j + row0, 1));
    const double ox = (i + col0) * cell + row_shift[j], oy = (j + row0) * cell;
    for (auto& col : c.col) random_colour(rng, col);
    const double r = rng.uniform(0, 1);
    c.bg = r < 0.4 ? kFlat : r < 0.8 ? kStripes : kSplit;
    const double ang = rng.uniform(0, M_PI);
    c.c = std::cos(ang);
    c.s = std::sin(ang);
    c.period = cell * rng.uniform(1.0 / 14, 1.0 / 4);
    c.phase = rng.uniform(0, 1);
    c.key = rng.next();
    const double px = ox + rng.uniform(0.2, 0.8) * cell, py = oy + rng.uniform(0.2, 0.8) * cell;
    c.nx = c.c;
    c.ny = c.s;
    c.d = c.nx * px + c.ny * py;
    c.dots = rng.uniform(0, 1) < 0.35;
    c.dot_spacing = rng.uniform(6, 16);
    c.dot_r = rng.uniform(0.8, 0.2 * c.dot_spacing);
    random_colour(rng, c.dot_col);
  }

  // Pass 0: 1-3 motifs of the cell; pass 1: 0-2 fine lines. The draws keep their order, so a pair
  // made with a seed stays the same image.
  void draw_shapes(int64_t i, int64_t j, int pass) {
    Rng rng(hash4(seed, i + col0, j + row0, 2 + pass));
    const double ox = (i + col0) * cell + row_shift[j], oy = (j + row0) * cell;
    const int n = pass == 0 ? 1 + rng.below(3) : rng.below(3);
    for (int k = 0; k < n; ++k) {
      Shape sh{};
      sh.cx = ox + rng.uniform(0, 1) * cell;
      sh.cy = oy + rng.uniform(0, 1) * cell;
      const double ang = rng.uniform(0, 2 * M_PI);
      sh.c = std::cos(ang);
      sh.s = std::sin(ang);
      if (pass == 0)
        shape_as_motif(rng, sh);
      else
        shape_as_fine_line(rng, sh);
      set_bbox(sh);
      add_shape(sh);
    }
  }

  void shape_as_motif(Rng& rng, Shape& sh) const {
    sh.type = rng.below(kShapeTypes);
    sh.a = rng.uniform(0.12, 0.6) * cell;
    switch (sh.type) {
      case kRing:
        sh.b = sh.a * rng.uniform(0.4, 0.85);
        break;
      case kRect:
        sh.b = sh.a * rng.uniform(0.25, 1.0);
        break;
      case kTriangle:
        sh.a *= 0.6;
        break;
      case kBand:
        sh.a = rng.uniform(0.4, 1.2) * cell;
        sh.b = rng.uniform(0.015, 0.07) * cell;
        break;
      default:
        break;
    }
    random_colour(rng, sh.rgb);
  }

  // A fine line, 1..3 px wide whatever the image size.
  void shape_as_fine_line(Rng& rng, Shape& sh) const {
    sh.type = kBand;
    sh.a = rng.uniform(0.3, 0.9) * cell;
    sh.b = rng.uniform(0.5, 1.5);
    const int tone = rng.below(3);
    if (tone == 0) {
      sh.rgb[0] = sh.rgb[1] = sh.rgb[2] = 20;
    } else if (tone == 1) {
      sh.rgb[0] = sh.rgb[1] = sh.rgb[2] = 240;
    } else {
      random_colour(rng, sh.rgb);
    }
  }

  void colour(double x, double y, uint8_t out[3]) const {
    const Cell& c = cell_at(x, y);
    const uint8_t* col = nullptr;
    for (size_t k = c.shapes.size(); k-- > 0;) {
      const Shape& sh = shapes[c.shapes[k]];
      if (hit(sh, x, y)) {
        col = sh.rgb;
        break;
      }
    }
    if (!col) {
      if (c.dots) {  // jittered dot lattice, each dot inside its own lattice cell
        const double lx = std::floor(x / c.dot_spacing), ly = std::floor(y / c.dot_spacing);
        const uint64_t h = hash4(c.key, static_cast<int64_t>(lx), static_cast<int64_t>(ly), 5);
        if ((h & 0xff) < 180) {
          const double room = 0.5 - c.dot_r / c.dot_spacing;
          const double dcx = (lx + 0.5 + room * (unit(h) * 2 - 1)) * c.dot_spacing;
          const double dcy = (ly + 0.5 + room * (static_cast<double>((h >> 8) & 0xffff) / 32768.0 - 1)) * c.dot_spacing;
          const double ddx = x - dcx, ddy = y - dcy;
          if (ddx * ddx + ddy * ddy <= c.dot_r * c.dot_r) col = c.dot_col;
        }
      }
      if (!col) {
        switch (c.bg) {
          case kStripes: {
            const double t = (x * c.c + y * c.s) / c.period + c.phase;
            col = c.col[hash4(c.key, static_cast<int64_t>(std::floor(t)), 0, 6) % 3];
            break;
          }
          case kSplit:
            col = c.col[c.nx * x + c.ny * y > c.d ? 1 : 0];
            break;
          default:
            col = c.col[0];
        }
      }
    }
    // Blob texture: one hashed, jittered disc per texture cell, lighter or darker.
    int delta = 0;
    const double tx = std::floor(x * inv_tex), ty = std::floor(y * inv_tex);
    const uint64_t h = hash4(seed, static_cast<int64_t>(tx), static_cast<int64_t>(ty), 7);
    if ((h & 0xff) < 160) {
      const double r = (0.2 + 0.25 * static_cast<double>((h >> 8) & 0xff) / 255.0);  // in texture cells
      const double room = 0.5 - r;
      const double bcx = tx + 0.5 + room * (static_cast<double>((h >> 16) & 0xffff) / 32768.0 - 1);
      const double bcy = ty + 0.5 + room * (static_cast<double>((h >> 32) & 0xffff) / 32768.0 - 1);
      const double ddx = x * inv_tex - bcx, ddy = y * inv_tex - bcy;
      if (ddx * ddx + ddy * ddy <= r * r) {
        const int mag = 22 + static_cast<int>((h >> 48) % 24);
        delta = (h >> 63) ? mag : -mag;
      }
    }
    for (int k = 0; k < 3; ++k) out[k] = static_cast<uint8_t>(std::clamp(col[k] + delta, 0, 255));
  }
};

DesignPattern::DesignPattern(Size size, uint64_t seed) : impl_(std::make_unique<Impl>()) {
  if (size.width <= 0 || size.height <= 0) fail_usage("design size must be positive");
  impl_->size = size;
  impl_->seed = seed;
  impl_->build();
}
DesignPattern::~DesignPattern() = default;
DesignPattern::DesignPattern(DesignPattern&&) noexcept = default;
DesignPattern& DesignPattern::operator=(DesignPattern&&) noexcept = default;

void DesignPattern::colour(double x, double y, uint8_t rgb[3]) const { impl_->colour(x, y, rgb); }
Size DesignPattern::size() const { return impl_->size; }

}  // namespace alinify::synth
