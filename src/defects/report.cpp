#include "alinify/defects/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/transform/transform_eval.hpp"

namespace alinify::defects {

namespace {
constexpr const char* kHeader = "id,x0,y0,x1,y1,cx,cy,scan_cx,scan_cy,area,mean_de,max_de,mean_dl,kind";
}

std::string csv_text(const std::vector<Defect>& defects) {
  std::string s = std::string(kHeader) + "\n";
  for (const Defect& d : defects)
    s += fmt::format("{},{},{},{},{},{:.2f},{:.2f},{:.2f},{:.2f},{},{:.2f},{:.2f},{:.2f},{}\n", d.id, d.x0, d.y0, d.x1,
                     d.y1, d.cx, d.cy, d.scan_cx, d.scan_cy, d.area, d.mean_de, d.max_de, d.mean_dl, kind_name(d.kind));
  return s;
}

std::string geojson_text(const std::vector<Defect>& defects) {
  nlohmann::json features = nlohmann::json::array();
  for (const Defect& d : defects) {
    const double l = static_cast<double>(d.x0) - 0.5, r = static_cast<double>(d.x1) + 0.5;
    const double t = static_cast<double>(d.y0) - 0.5, b = static_cast<double>(d.y1) + 0.5;
    features.push_back(
        {{"type", "Feature"},
         {"geometry", {{"type", "Polygon"}, {"coordinates", {{{l, t}, {r, t}, {r, b}, {l, b}, {l, t}}}}}},
         {"properties",
          {{"id", d.id},
           {"bbox", {d.x0, d.y0, d.x1, d.y1}},
           {"centroid", {std::round(d.cx * 100) / 100, std::round(d.cy * 100) / 100}},
           {"scan_centroid", {std::round(d.scan_cx * 100) / 100, std::round(d.scan_cy * 100) / 100}},
           {"area", d.area},
           {"mean_delta_e", std::round(d.mean_de * 100) / 100},
           {"max_delta_e", std::round(d.max_de * 100) / 100},
           {"mean_delta_l", std::round(d.mean_dl * 100) / 100},
           {"kind", kind_name(d.kind)}}}});
  }
  nlohmann::json j{{"type", "FeatureCollection"},
                   {"name", "defects"},
                   {"comment", "design pixel coordinates: (0,0) is the centre of the top-left pixel, y down"},
                   {"features", features}};
  return j.dump(1) + "\n";
}

std::vector<Defect> read_csv(const std::string& path) {
  std::istringstream in(files::read_file(path, "defect list"));
  std::string line;
  if (!std::getline(in, line) || line != kHeader) fail_input(path, "not a defect list (header differs)");
  std::vector<Defect> out;
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() != 14) fail_input(path, fmt::format("line {}: {} fields, expected 14", n, f.size()));
    Defect d;
    try {
      d.id = std::stoll(f[0]);
      d.x0 = std::stoll(f[1]);
      d.y0 = std::stoll(f[2]);
      d.x1 = std::stoll(f[3]);
      d.y1 = std::stoll(f[4]);
      d.cx = std::stod(f[5]);
      d.cy = std::stod(f[6]);
      d.scan_cx = std::stod(f[7]);
      d.scan_cy = std::stod(f[8]);
      d.area = std::stoll(f[9]);
      d.mean_de = std::stod(f[10]);
      d.max_de = std::stod(f[11]);
      d.mean_dl = std::stod(f[12]);
    } catch (const std::exception&) {
      fail_input(path, fmt::format("line {}: a field is not a number", n));
    }
    d.kind = f[13] == "missing_ink" ? Kind::kMissingInk : f[13] == "extra_ink" ? Kind::kExtraInk : Kind::kColourShift;
    out.push_back(d);
  }
  return out;
}

namespace {

// m[x] = 0 for x outside [keep0, keep1).
void clear_outside(uint8_t* m, int64_t width, int64_t keep0, int64_t keep1) {
  std::fill(m, m + std::clamp<int64_t>(keep0, 0, width), 0);
  std::fill(m + std::clamp<int64_t>(keep1, 0, width), m + width, 0);
}

}  // namespace

std::vector<uint8_t> coverage_mask(const transform::Transform& t, Size design, Size scan, int64_t y0, int64_t rows,
                                   double margin, int64_t x0, int64_t cols) {
  std::vector<uint8_t> mask;
  coverage_mask(t, design, scan, y0, rows, margin, mask, x0, cols);
  return mask;
}

void coverage_mask(const transform::Transform& t, Size design, Size scan, int64_t y0, int64_t rows, double margin,
                   std::vector<uint8_t>& mask, int64_t x0, int64_t cols) {
  const int64_t width = design.width;
  if (cols < 0) cols = width - x0;
  if (x0 < 0 || cols < 1 || x0 + cols > width) fail_runtime("defects: coverage mask columns outside the design");
  const int64_t xe = x0 + cols;  // the row's columns: [x0, xe), global
  constexpr int64_t kCell = 16;
  mask.resize(static_cast<size_t>(cols * rows));                      // not cleared: every row is written below
  const int64_t ny0 = y0 / kCell, ny1 = (y0 + rows - 1) / kCell + 1;  // node rows
  const int64_t nx0 = x0 / kCell, nx1 = (xe - 1) / kCell + 1;         // node columns (nodes at global multiples)
  const int64_t nx = nx1 - nx0 + 1;
  std::vector<Vec2> nodes(static_cast<size_t>((ny1 - ny0 + 1) * nx));
  const transform::TransformView view = t.view();  // once: Transform::apply builds one per call
  for (int64_t j = ny0; j <= ny1; ++j)
    for (int64_t i = nx0; i <= nx1; ++i) {
      Vec2& q = nodes[static_cast<size_t>((j - ny0) * nx + i - nx0)];
      transform::apply_view(view, static_cast<double>(i * kCell), static_cast<double>(j * kCell), &q.x, &q.y);
    }
  const double xmax = static_cast<double>(scan.width - 1) - margin,
               ymax = static_cast<double>(scan.height - 1) - margin;
  // A cell's pixels are bilinear blends of its four corner nodes, so they lie in the corners' convex
  // hull; the scan's rectangle is convex, so when all four corners lie inside it (by more than
  // rounding can move a blend) every pixel does: the cell is filled without a per-pixel test. The
  // same mask as testing every pixel, with most of the cost gone (only cells on the scan's edge
  // are tested pixel by pixel).
  constexpr double kSafe = 1e-6;
  const auto deep = [&](Vec2 q) {
    return q.x >= margin + kSafe && q.x <= xmax - kSafe && q.y >= margin + kSafe && q.y <= ymax - kSafe;
  };
  const auto node = [&](int64_t j, int64_t i) { return nodes[static_cast<size_t>((j - ny0) * nx + i - nx0)]; };
  const int64_t cells_x = nx - 1;
  std::vector<uint8_t> deep_cell(static_cast<size_t>((ny1 - ny0) * cells_x));
  for (int64_t j = ny0; j < ny1; ++j)
    for (int64_t i = nx0; i < nx1; ++i)
      deep_cell[static_cast<size_t>((j - ny0) * cells_x + i - nx0)] =
          deep(node(j, i)) && deep(node(j, i + 1)) && deep(node(j + 1, i)) && deep(node(j + 1, i + 1));
  const auto lerp = [](Vec2 p, Vec2 q, double f) { return Vec2{(1 - f) * p.x + f * q.x, (1 - f) * p.y + f * q.y}; };
  for (int64_t y = y0; y < y0 + rows; ++y) {
    uint8_t* m = mask.data() + (y - y0) * cols;  // m[x - x0] for global x in [x0, xe)
    const bool row_inside = y >= margin && y <= static_cast<double>(design.height - 1) - margin;
    if (!row_inside) {
      std::fill(m, m + cols, 0);
      continue;
    }
    const int64_t j = y / kCell;
    const double fy = static_cast<double>(y - j * kCell) / kCell;
    const uint8_t* cell_is_deep = deep_cell.data() + (j - ny0) * cells_x;  // [i - nx0]
    for (int64_t i = nx0; i < nx1;) {
      if (cell_is_deep[i - nx0]) {  // a run of deep cells: one fill
        const int64_t from = i;
        while (i < nx1 && cell_is_deep[i - nx0]) ++i;
        std::fill(m + std::max(x0, from * kCell) - x0, m + std::min(xe, i * kCell) - x0, 1);
        continue;
      }
      const int64_t xa = std::max(x0, i * kCell), xb = std::min(xe, (i + 1) * kCell);
      // The cell's pixels of row y map onto the segment from a to b.
      const Vec2 a = lerp(node(j, i), node(j + 1, i), fy), b = lerp(node(j, i + 1), node(j + 1, i + 1), fy);
      for (int64_t x = xa; x < xb; ++x) {
        const double fx = static_cast<double>(x - i * kCell) / kCell;
        const double qx = (1 - fx) * a.x + fx * b.x, qy = (1 - fx) * a.y + fx * b.y;
        m[x - x0] = qx >= margin && qx <= xmax && qy >= margin && qy <= ymax;
      }
      ++i;
    }
    // The design's own margin at the row's sides: x >= margin and x <= width - 1 - margin kept.
    clear_outside(m, cols, static_cast<int64_t>(std::ceil(margin)) - x0,
                  static_cast<int64_t>(std::floor(static_cast<double>(width - 1) - margin)) + 1 - x0);
  }
}

void mask_fill(const StripPixels& px, int64_t y0, int64_t rows, int fill, int64_t margin, uint8_t* valid) {
  const int64_t w = px.image.width, n = px.in_rows;
  const auto is_fill = [&](int64_t x, int64_t wy) {
    const uint8_t* q = px.aligned + (wy * w + x) * 3;
    return q[0] == fill && q[1] == fill && q[2] == fill;
  };
  // Per window row: 1 where the pixel and its 3 neighbours in x are fill (clamped), then the 3x3 core.
  std::vector<uint8_t> row3(static_cast<size_t>(w * n)), core(static_cast<size_t>(w * n), 0);
  for (int64_t wy = 0; wy < n; ++wy)
    for (int64_t x = 0; x < w; ++x)
      row3[wy * w + x] =
          is_fill(std::max<int64_t>(0, x - 1), wy) && is_fill(x, wy) && is_fill(std::min(w - 1, x + 1), wy);
  for (int64_t wy = 0; wy < n; ++wy)
    for (int64_t x = 0; x < w; ++x)
      core[wy * w + x] =
          row3[std::max<int64_t>(0, wy - 1) * w + x] && row3[wy * w + x] && row3[std::min(n - 1, wy + 1) * w + x];
  // Dilated by margin: first along x (prefix counts), then along y.
  std::vector<int32_t> near_x(static_cast<size_t>(w * n));
  std::vector<int32_t> prefix(static_cast<size_t>(w + 1));
  for (int64_t wy = 0; wy < n; ++wy) {
    prefix[0] = 0;
    for (int64_t x = 0; x < w; ++x) prefix[x + 1] = prefix[x] + core[wy * w + x];
    for (int64_t x = 0; x < w; ++x)
      near_x[wy * w + x] = prefix[std::min(w, x + margin + 1)] - prefix[std::max<int64_t>(0, x - margin)];
  }
  for (int64_t y = y0; y < y0 + rows; ++y) {
    const int64_t a = std::max<int64_t>(0, y - margin - px.in_y0), b = std::min(n - 1, y + margin - px.in_y0);
    for (int64_t x = 0; x < w; ++x) {
      bool near = false;
      for (int64_t wy = a; wy <= b && !near; ++wy) near = near_x[wy * w + x] > 0;
      if (near) valid[(y - y0) * w + x] = 0;
    }
  }
}

}  // namespace alinify::defects
