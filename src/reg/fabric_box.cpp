// Fabric mask and oriented bounding box on the coarse scan (see fabric_box.hpp).
// The table is learnt from the scan's outer ring (the fabric is placed with table around it), so no
// colour or brightness of table or fabric is assumed; illumination drift along the ring widens the
// tolerance instead of breaking it.
#include "alinify/reg/fabric_box.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <numbers>

namespace alinify::reg::coarse {

namespace {

struct Robust {
  double centre = 0, spread = 0;  // median, 1.4826 x MAD (the SD for normal data)
};
Robust robust(std::vector<float> v) {
  Robust r;
  if (v.empty()) return r;
  auto median = [](std::vector<float>& x) {
    std::nth_element(x.begin(), x.begin() + x.size() / 2, x.end());
    return static_cast<double>(x[x.size() / 2]);
  };
  r.centre = median(v);
  for (float& x : v) x = static_cast<float>(std::abs(x - r.centre));
  r.spread = 1.4826 * median(v);
  return r;
}

// Standard deviation over the 3x3 neighbourhood (clamped at the edges): table is smooth at coarse
// scale, print has edges.
std::vector<float> local_sd(const Image& im) {
  std::vector<float> out(im.px.size());
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      double s = 0, ss = 0;
      int n = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = std::clamp(x + dx, 0, im.width - 1), yy = std::clamp(y + dy, 0, im.height - 1);
          const double v = im.at(xx, yy);
          s += v, ss += v * v, ++n;
        }
      out[static_cast<size_t>(y) * im.width + x] = static_cast<float>(std::sqrt(std::max(0.0, ss / n - s * s / n / n)));
    }
  return out;
}

struct Pt {
  double x, y;
};
double cross(const Pt& o, const Pt& a, const Pt& b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

std::vector<Pt> convex_hull(std::vector<Pt> p) {  // Andrew's monotone chain, counter-clockwise
  std::sort(p.begin(), p.end(), [](const Pt& a, const Pt& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  p.erase(std::unique(p.begin(), p.end(), [](const Pt& a, const Pt& b) { return a.x == b.x && a.y == b.y; }), p.end());
  if (p.size() < 3) return p;
  std::vector<Pt> h(2 * p.size());
  size_t k = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (size_t i = p.size() - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  return h;
}

// The table's grey as a quadratic in x and y (uneven illumination is smooth), fitted to the given
// pixels by least squares with outliers (fabric reaching the edge) dropped over a few rounds.
struct TableModel {
  double c[6] = {0, 0, 0, 0, 0, 0};
  double spread = 0;  // robust SD of the residuals of the kept pixels
  static void basis(int x, int y, int w, int h, double b[6]) {
    const double u = 2.0 * x / std::max(w - 1, 1) - 1, v = 2.0 * y / std::max(h - 1, 1) - 1;
    b[0] = 1, b[1] = u, b[2] = v, b[3] = u * u, b[4] = u * v, b[5] = v * v;
  }
  double at(int x, int y, int w, int h) const {
    double b[6];
    basis(x, y, w, h, b);
    double s = 0;
    for (int i = 0; i < 6; ++i) s += c[i] * b[i];
    return s;
  }
};

TableModel fit_table(const Image& im, const std::vector<int>& xs, const std::vector<int>& ys) {
  TableModel m;
  std::vector<uint8_t> keep(xs.size(), 1);
  for (int round = 0; round < 4; ++round) {
    double a[6][7] = {};
    for (size_t k = 0; k < xs.size(); ++k) {
      if (!keep[k]) continue;
      double b[6];
      TableModel::basis(xs[k], ys[k], im.width, im.height, b);
      const double v = im.at(xs[k], ys[k]);
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) a[i][j] += b[i] * b[j];
        a[i][6] += b[i] * v;
      }
    }
    for (int i = 0; i < 6; ++i) a[i][i] += 1e-9;  // ridge: a degenerate ring must not divide by zero
    for (int col = 0; col < 6; ++col) {           // Gauss-Jordan with partial pivoting
      int piv = col;
      for (int r = col + 1; r < 6; ++r)
        if (std::abs(a[r][col]) > std::abs(a[piv][col])) piv = r;
      std::swap(a[col], a[piv]);
      for (int r = 0; r < 6; ++r) {
        if (r == col || a[col][col] == 0) continue;
        const double f = a[r][col] / a[col][col];
        for (int j = col; j < 7; ++j) a[r][j] -= f * a[col][j];
      }
    }
    for (int i = 0; i < 6; ++i) m.c[i] = a[i][i] != 0 ? a[i][6] / a[i][i] : 0;
    std::vector<float> res(xs.size());
    std::vector<float> kept;
    for (size_t k = 0; k < xs.size(); ++k) {
      res[k] = static_cast<float>(im.at(xs[k], ys[k]) - m.at(xs[k], ys[k], im.width, im.height));
      if (keep[k]) kept.push_back(res[k]);
    }
    const Robust r = robust(kept);
    m.spread = r.spread;
    for (size_t k = 0; k < xs.size(); ++k) keep[k] = std::abs(res[k] - r.centre) <= 3 * r.spread + 1.0;
  }
  return m;
}

// What the table looks like: its grey (a smooth surface) and its 3x3 smoothness, learnt from the
// scan's outermost pixels (the table, except where the fabric reaches the edge: the fits are robust).
struct TableLook {
  TableModel grey;
  Robust smoothness;
  double grey_tolerance = 0, smoothness_tolerance = 0;
};

TableLook learn_table(const Image& scan, const std::vector<float>& sd) {
  const int w = scan.width, h = scan.height;
  const int ring = 2;
  std::vector<int> ring_x, ring_y;
  std::vector<float> ring_sd;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (x < ring || y < ring || x >= w - ring || y >= h - ring) {
        ring_x.push_back(x);
        ring_y.push_back(y);
        ring_sd.push_back(sd[static_cast<size_t>(y) * w + x]);
      }
  TableLook look;
  look.grey = fit_table(scan, ring_x, ring_y);
  look.smoothness = robust(ring_sd);
  // Tolerances: 4 robust SDs, plus a floor for a perfectly flat table.
  look.grey_tolerance = 4 * look.grey.spread + 3.0;
  look.smoothness_tolerance = 4 * look.smoothness.spread + 2.0;
  spdlog::debug("fabric box: table grey residual sd {:.2f}, local sd {:.2f} +- {:.2f}", look.grey.spread,
                look.smoothness.centre, look.smoothness.spread);
  return look;
}

bool grey_like_table(const Image& scan, const TableLook& look, size_t k) {
  const int x = static_cast<int>(k % scan.width), y = static_cast<int>(k / scan.width);
  return std::abs(scan.px[k] - look.grey.at(x, y, scan.width, scan.height)) <= look.grey_tolerance;
}

// Flood from the border through table-like pixels: whatever it cannot reach is fabric (holes in
// the print that happen to look like table are enclosed, so they stay fabric). 1 = table.
std::vector<uint8_t> flood_table(const Image& scan, const std::vector<float>& sd, const TableLook& look) {
  const int w = scan.width, h = scan.height;
  auto table_like = [&](size_t k) {
    return grey_like_table(scan, look, k) && sd[k] <= look.smoothness.centre + look.smoothness_tolerance;
  };
  std::vector<uint8_t> table(scan.px.size(), 0);
  std::deque<size_t> queue;
  auto seed = [&](int x, int y) {
    const size_t k = static_cast<size_t>(y) * w + x;
    if (!table[k] && table_like(k)) table[k] = 1, queue.push_back(k);
  };
  for (int x = 0; x < w; ++x) seed(x, 0), seed(x, h - 1);
  for (int y = 0; y < h; ++y) seed(0, y), seed(w - 1, y);
  while (!queue.empty()) {
    const size_t k = queue.front();
    queue.pop_front();
    const int x = static_cast<int>(k % w), y = static_cast<int>(k / w);
    if (x > 0) seed(x - 1, y);
    if (x < w - 1) seed(x + 1, y);
    if (y > 0) seed(x, y - 1);
    if (y < h - 1) seed(x, y + 1);
  }
  return table;
}

// The 3x3 smoothness test marks the table pixels next to the fabric's edge as fabric: peel one
// layer of fabric pixels whose grey alone says table, so the box is not a pixel too large a side.
void peel_edge_layer(const Image& scan, const TableLook& look, std::vector<uint8_t>& table) {
  const int w = scan.width, h = scan.height;
  std::vector<size_t> peel;
  for (int y = 1; y < h - 1; ++y)
    for (int x = 1; x < w - 1; ++x) {
      const size_t k = static_cast<size_t>(y) * w + x;
      if (table[k] || !grey_like_table(scan, look, k)) continue;
      if (table[k - 1] || table[k + 1] || table[k - w] || table[k + w]) peel.push_back(k);
    }
  for (size_t k : peel) table[k] = 1;
}

// The 4-connected pieces of fabric, each labelled by its first pixel; the largest is the fabric
// (specks of odd table are dropped).
struct Pieces {
  std::vector<int> label;  // -1: table
  int largest = -1;
  size_t largest_count = 0;
};

Pieces fabric_pieces(const std::vector<uint8_t>& table, int w, int h) {
  Pieces pieces;
  pieces.label.assign(table.size(), -1);
  std::vector<int>& label = pieces.label;
  std::deque<size_t> queue;
  for (size_t start = 0; start < table.size(); ++start) {
    if (table[start] || label[start] >= 0) continue;
    const int id = static_cast<int>(start);
    size_t count = 0;
    label[start] = id;
    queue.push_back(start);
    while (!queue.empty()) {
      const size_t k = queue.front();
      queue.pop_front();
      ++count;
      const int x = static_cast<int>(k % w), y = static_cast<int>(k / w);
      const int nx[4] = {x - 1, x + 1, x, x}, ny[4] = {y, y, y - 1, y + 1};
      for (int i = 0; i < 4; ++i) {
        if (nx[i] < 0 || ny[i] < 0 || nx[i] >= w || ny[i] >= h) continue;
        const size_t n = static_cast<size_t>(ny[i]) * w + nx[i];
        if (!table[n] && label[n] < 0) label[n] = id, queue.push_back(n);
      }
    }
    if (count > pieces.largest_count) pieces.largest_count = count, pieces.largest = id;
  }
  return pieces;
}

// Marks the largest piece in box.mask (and whether it reaches the scan's edge); returns the
// corners of its boundary pixels, whose hull the box encloses.
std::vector<Pt> mark_fabric(const Pieces& pieces, int w, int h, FabricBox& box) {
  const std::vector<int>& label = pieces.label;
  const int id = pieces.largest;
  std::vector<Pt> corners;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t k = static_cast<size_t>(y) * w + x;
      if (label[k] != id) continue;
      box.mask[k] = 1;
      const bool on_edge = x == 0 || y == 0 || x == w - 1 || y == h - 1;
      if (on_edge) box.touches_edge = true;  // a cut-off box no longer matches the design: box_placements says so
      const bool boundary =
          on_edge || label[k - 1] != id || label[k + 1] != id || label[k - w] != id || label[k + w] != id;
      if (boundary)
        for (double cx : {-0.5, 0.5})
          for (double cy : {-0.5, 0.5}) corners.push_back(Pt{x + cx, y + cy});
    }
  return corners;
}

// Minimum-area rectangle around the hull: one of its sides lies along an edge of the hull. Sets
// the box's centre, angle and sides; returns its area.
double minimum_area_rectangle(const std::vector<Pt>& hull, FabricBox& box) {
  double best_area = 1e300;
  for (size_t i = 0; i < hull.size(); ++i) {
    const Pt& a = hull[i];
    const Pt& b = hull[(i + 1) % hull.size()];
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    if (len <= 0) continue;
    const double ux = (b.x - a.x) / len, uy = (b.y - a.y) / len;
    double u0 = 1e300, u1 = -1e300, v0 = 1e300, v1 = -1e300;
    for (const Pt& p : hull) {
      const double u = p.x * ux + p.y * uy, v = -p.x * uy + p.y * ux;
      u0 = std::min(u0, u), u1 = std::max(u1, u), v0 = std::min(v0, v), v1 = std::max(v1, v);
    }
    const double area = (u1 - u0) * (v1 - v0);
    if (area >= best_area) continue;
    best_area = area;
    const double uc = (u0 + u1) / 2, vc = (v0 + v1) / 2;
    box.cx = uc * ux - vc * uy;
    box.cy = uc * uy + vc * ux;
    double angle = std::atan2(uy, ux) * 180 / std::numbers::pi;
    double along = u1 - u0, across = v1 - v0;
    // Bring the angle into (-45, 45]; a quarter turn swaps the sides.
    while (angle > 45) angle -= 90, std::swap(along, across);
    while (angle <= -45) angle += 90, std::swap(along, across);
    box.angle_deg = angle;
    box.length = along;
    box.breadth = across;
  }
  return best_area;
}

}  // namespace

FabricBox find_fabric_box(const Image& scan) {
  FabricBox box;
  const int w = scan.width, h = scan.height;
  if (w < 16 || h < 16) {
    box.why_not = "the coarse scan is too small to find the fabric";
    return box;
  }
  const std::vector<float> sd = local_sd(scan);
  const TableLook look = learn_table(scan, sd);
  std::vector<uint8_t> table = flood_table(scan, sd, look);
  peel_edge_layer(scan, look, table);
  const Pieces pieces = fabric_pieces(table, w, h);
  box.mask.assign(scan.px.size(), 0);
  if (pieces.largest < 0 || pieces.largest_count < scan.px.size() / 20) {
    box.why_not = "no fabric found on the table";
    return box;
  }
  const double area = minimum_area_rectangle(convex_hull(mark_fabric(pieces, w, h, box)), box);
  box.fill = static_cast<double>(pieces.largest_count) / area;
  if (box.fill < 0.85) {
    box.why_not = fmt::format("the fabric is not a rectangle (it fills {:.0f} % of its bounding box)", 100 * box.fill);
    return box;
  }
  box.found = true;
  return box;
}

std::vector<Placement> box_placements(const FabricBox& box, int F, double dw, double dh, const CoarseOptions& o) {
  std::vector<Placement> out;
  if (!box.found) return out;
  const double cx = F * box.cx + (F - 1) / 2.0, cy = F * box.cy + (F - 1) / 2.0;  // full-resolution centre
  // A rectangle's angle is known modulo 90 deg: each quarter turn of it within --max-rotation is a
  // candidate (the search at every rotation has them all), or with --quarter-turns all of them.
  for (int k = 0; k < 4; ++k) {
    const double within = o.quarter_turns ? box.angle_deg : std::remainder(box.angle_deg + 90.0 * k, 360.0);
    if (std::abs(within) > o.max_rotation_deg + 1.0) continue;
    // The design's x axis runs along angle + 90k: the box side there is `length` for even k.
    const double side_x = F * (k % 2 == 0 ? box.length : box.breadth);
    const double side_y = F * (k % 2 == 0 ? box.breadth : box.length);
    const double sx = side_x / dw, sy = side_y / dh;
    if (std::abs(sx / sy - 1) > 0.05) continue;  // another aspect: not the design's rectangle
    const double s = std::sqrt(sx * sy);
    if (s < 0.9 || s > 1.1) continue;
    Placement p;
    p.angle_deg = box.angle_deg + 90.0 * k;
    p.scale = s;
    const double a = p.angle_deg * std::numbers::pi / 180, c = std::cos(a) * s, sn = std::sin(a) * s;
    const double mx = (dw - 1) / 2, my = (dh - 1) / 2;  // the design's centre lands on the box's
    p.tx = cx - (c * mx - sn * my);
    p.ty = cy - (sn * mx + c * my);
    out.push_back(p);
  }
  return out;
}

}  // namespace alinify::reg::coarse
