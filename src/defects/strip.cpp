// One strip's Delta E map and components; rank 0's merge across strips.
#include "alinify/defects/strip.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>

#include "alinify/core/error.hpp"
#include "alinify/core/vector_clones.hpp"
#include "alinify/defects/colour.hpp"
#include "envelope_map.hpp"

namespace alinify::defects {

void DefectOptions::check() const {
  if (radius < 0 || radius > 8) fail_usage("--defect-radius: must be in 0..8 px");
  if (scale < 0 || scale > 8) fail_usage("--defect-scale: must be in 0..8 px");
  if (!(low > 0) || !(high >= low)) fail_usage("--defect-low/--defect-high: need 0 < low <= high");
  if (min_area < 1) fail_usage("--defect-min-area: must be at least 1 px");
  if (join_gap < 0 || join_gap > 1000) fail_usage("--defect-join-gap: must be in 0..1000 px");
  if (sample_step < 0) fail_usage("defect sample step: must not be negative");
}

bool is_strong(int64_t area, double sum_de, double max_de, const DefectOptions& o) {
  if (max_de >= o.high) return true;
  if (area <= 0) return false;
  // A faint piece: no pixel at --defect-high, but as much Delta E above --defect-low as a piece of
  // --defect-min-area halfway between low and high, and a mean that noise does not reach (docs/defects.md,
  // "Faint defects": a defect drawn at Delta E 10 reads 9-11 at its brightest after the camera's blur).
  const double a = static_cast<double>(area);
  return sum_de / a >= faint_mean(o) && sum_de - o.low * a >= faint_excess(o);
}

int sample_step_for(Size image, const DefectOptions& o) {
  if (o.sample_step > 0) return o.sample_step;
  const double step = std::sqrt(static_cast<double>(image.pixels()) / 100000.0);
  return std::max(4, static_cast<int>(std::ceil(step)));
}

std::vector<float> box_smooth(const uint8_t* rgb, int64_t width, int64_t rows, int r) {
  std::vector<float> out(static_cast<size_t>(width * rows * 3));
  if (r == 0) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = rgb[i];
    return out;
  }
  // Integer sums (exact, so the same whatever window a pixel is computed in), clamped at the edges.
  std::vector<int32_t> h(static_cast<size_t>(width * rows * 3));
#pragma omp parallel for schedule(static)
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* row = rgb + y * width * 3;
    for (int64_t x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        int32_t s = 0;
        for (int d = -r; d <= r; ++d) s += row[std::clamp<int64_t>(x + d, 0, width - 1) * 3 + c];
        h[(y * width + x) * 3 + c] = s;
      }
  }
  const float norm = 1.0f / static_cast<float>((2 * r + 1) * (2 * r + 1));
#pragma omp parallel for schedule(static)
  for (int64_t y = 0; y < rows; ++y)
    for (int64_t i = 0; i < width * 3; ++i) {
      int32_t s = 0;
      for (int d = -r; d <= r; ++d) s += h[std::clamp<int64_t>(y + d, 0, rows - 1) * width * 3 + i];
      out[y * width * 3 + i] = static_cast<float>(s) * norm;
    }
  return out;
}

namespace {

void check_window(const StripPixels& px, int64_t y0, int64_t rows, int halo) {
  const int64_t need0 = std::max<int64_t>(0, y0 - halo), need1 = std::min(px.image.height, y0 + rows + halo);
  if (y0 < 0 || rows <= 0 || y0 + rows > px.image.height || px.in_y0 > need0 || px.in_y0 + px.in_rows < need1)
    fail_runtime("defects: strip rows " + std::to_string(y0) + ".." + std::to_string(y0 + rows) +
                 " lack their halo in the rows read");
}

}  // namespace

std::vector<Sample> collect_samples(const StripPixels& px, int64_t y0, int64_t rows, int step, const DefectOptions& o,
                                    const uint8_t* valid) {
  check_window(px, y0, rows, o.scale);
  if (px.x0 != 0) fail_runtime("defects: colour samples are taken from full-width strips");
  const int64_t w = px.image.width, s = o.scale;
  const float norm = 1.0f / static_cast<float>((2 * s + 1) * (2 * s + 1));
  // Every pixel of the square of radius r around (x, y), clamped as box_smooth clamps: a sample
  // every `step` px needs no smoothed rows.
  const auto each_pixel = [&](const uint8_t* rgb, int64_t x, int64_t y, int64_t r, auto&& visit) {
    for (int64_t dy = -r; dy <= r; ++dy) {
      const uint8_t* row = rgb + std::clamp<int64_t>(y - px.in_y0 + dy, 0, px.in_rows - 1) * w * 3;
      for (int64_t dx = -r; dx <= r; ++dx) visit(row + std::clamp<int64_t>(x + dx, 0, w - 1) * 3);
    }
  };
  // The box mean at a sample (box_smooth's sums).
  const auto mean_at = [&](const uint8_t* rgb, int64_t x, int64_t y, float out[3]) {
    int32_t sum[3] = {0, 0, 0};
    each_pixel(rgb, x, y, s, [&](const uint8_t* q) {
      for (int c = 0; c < 3; ++c) sum[c] += q[c];
    });
    for (int c = 0; c < 3; ++c) out[c] = static_cast<float>(sum[c]) * norm;
  };
  // Whether the design is one colour (within kFlatRange) over the box and a pixel around it.
  const auto flat_at = [&](const uint8_t* rgb, int64_t x, int64_t y) {
    uint8_t lo[3] = {255, 255, 255}, hi[3] = {0, 0, 0};
    each_pixel(rgb, x, y, s + 1, [&](const uint8_t* q) {
      for (int c = 0; c < 3; ++c) lo[c] = std::min(lo[c], q[c]), hi[c] = std::max(hi[c], q[c]);
    });
    for (int c = 0; c < 3; ++c)
      if (hi[c] - lo[c] > kFlatRange) return false;
    return true;
  };
  std::vector<Sample> out;
  for (int64_t y = (y0 + step - 1) / step * step; y < y0 + rows; y += step)
    for (int64_t x = 0; x < w; x += step) {
      if (valid && !valid[(y - y0) * w + x]) continue;
      Sample smp;
      smp.x = static_cast<float>(x);
      smp.y = static_cast<float>(y);
      mean_at(px.design, x, y, smp.design.data());
      mean_at(px.aligned, x, y, smp.scan.data());
      smp.flat = flat_at(px.design, x, y);
      out.push_back(smp);
    }
  return out;
}

namespace {

// The mapped design's RGB on rows [dy0, dy1) (rows of the window `d`, smoothed).
std::vector<float> mapped_design(const StripPixels& px, const std::vector<float>& d, int64_t dy0, int64_t dy1,
                                 const ColourModel& model) {
  const int64_t w = px.image.width;
  std::vector<float> out(static_cast<size_t>((dy1 - dy0) * w * 3));
#pragma omp parallel for schedule(static)
  for (int64_t y = dy0; y < dy1; ++y)
    for (int64_t x = 0; x < w; ++x) {
      double rgb[3];
      model.apply(static_cast<double>(x + px.x0), static_cast<double>(y), &d[((y - px.in_y0) * w + x) * 3], rgb);
      for (int c = 0; c < 3; ++c) out[((y - dy0) * w + x) * 3 + c] = static_cast<float>(std::clamp(rgb[c], 0.0, 255.0));
    }
  return out;
}

}  // namespace

namespace {

// Compare::kNearest.
DeltaMap nearest_delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model,
                           const DefectOptions& o, const uint8_t* valid) {
  const int64_t w = px.image.width, r = o.radius;
  const std::vector<float> d = box_smooth(px.design, w, px.in_rows, o.scale);
  const std::vector<float> a = box_smooth(px.aligned, w, px.in_rows, o.scale);
  const int64_t dy0 = std::max<int64_t>(0, y0 - r), dy1 = std::min(px.image.height, y0 + rows + r);
  const std::vector<float> md = mapped_design(px, d, dy0, dy1, model);
  DeltaMap map;
  map.de.assign(static_cast<size_t>(rows * w), 0.0f);
  map.dl.assign(static_cast<size_t>(rows * w), 0.0f);
  const float scale = static_cast<float>(model.de_scale());
  // L*a*b* of every mapped design pixel once, compared with each of its neighbours.
  std::vector<float> dlab(md.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < static_cast<int64_t>(md.size() / 3); ++i) {
    const Lab l = srgb_to_lab(md[i * 3], md[i * 3 + 1], md[i * 3 + 2]);
    dlab[i * 3] = static_cast<float>(l.L);
    dlab[i * 3 + 1] = static_cast<float>(l.a);
    dlab[i * 3 + 2] = static_cast<float>(l.b);
  }
#pragma omp parallel for schedule(static)
  for (int64_t y = y0; y < y0 + rows; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>((y - y0) * w + x);
      if (valid && !valid[i]) continue;
      const float* s = &a[((y - px.in_y0) * w + x) * 3];
      const int64_t ny0 = std::max(dy0, y - r), ny1 = std::min(dy1 - 1, y + r);
      const int64_t nx0 = std::max<int64_t>(0, x - r), nx1 = std::min(w - 1, x + r);
      const Lab ls = srgb_to_lab(s[0], s[1], s[2]);
      float best = 1e30f, best_dl = 0;
      for (int64_t ny = ny0; ny <= ny1; ++ny)
        for (int64_t nx = nx0; nx <= nx1; ++nx) {
          const float* q = &dlab[((ny - dy0) * w + nx) * 3];
          const float e0 = static_cast<float>(ls.L) - q[0], e1 = static_cast<float>(ls.a) - q[1],
                      e2 = static_cast<float>(ls.b) - q[2];
          const float e = e0 * e0 + e1 * e1 + e2 * e2;
          if (e < best) {
            best = e;
            best_dl = e0;
          }
        }
      map.de[i] = std::sqrt(best) * scale;  // in the design's contrast (ColourModel::contrast)
      map.dl[i] = best_dl * scale;
    }
  return map;
}

}  // namespace

void delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model, const DefectOptions& o,
               const uint8_t* valid, DeltaMap& map) {
  check_window(px, y0, rows, o.halo());
  if (o.compare == Compare::kEnvelope) return detail::envelope_delta_map(px, y0, rows, model, o, valid, map);
  map = nearest_delta_map(px, y0, rows, model, o, valid);
}

DeltaMap delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model, const DefectOptions& o,
                   const uint8_t* valid) {
  DeltaMap map;
  delta_map(px, y0, rows, model, o, valid, map);
  return map;
}

namespace {

int32_t find(std::vector<int32_t>& parent, int32_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

void unite(std::vector<int32_t>& parent, int32_t a, int32_t b) {
  a = find(parent, a);
  b = find(parent, b);
  if (a == b) return;
  if (a < b)
    parent[b] = a;
  else
    parent[a] = b;
}

void add_pixel(Blob& b, int64_t x, int64_t y, double de, double dl) {
  if (b.area == 0) {
    b.x0 = b.x1 = b.first_x = x;
    b.y0 = b.y1 = b.first_y = y;
  }
  ++b.area;
  b.x0 = std::min(b.x0, x);
  b.x1 = std::max(b.x1, x);
  b.y1 = std::max(b.y1, y);
  b.sum_de += de;
  b.max_de = std::max(b.max_de, de);
  b.sum_dl += dl;
  b.sum_x += static_cast<double>(x);
  b.sum_y += static_cast<double>(y);
}

void add_blob(Blob& into, const Blob& b) {
  if (into.area == 0) {
    into = b;
    return;
  }
  into.area += b.area;
  into.x0 = std::min(into.x0, b.x0);
  into.y0 = std::min(into.y0, b.y0);
  into.x1 = std::max(into.x1, b.x1);
  into.y1 = std::max(into.y1, b.y1);
  if (b.first_y < into.first_y || (b.first_y == into.first_y && b.first_x < into.first_x)) {
    into.first_x = b.first_x;
    into.first_y = b.first_y;
  }
  into.sum_de += b.sum_de;
  into.max_de = std::max(into.max_de, b.max_de);
  into.sum_dl += b.sum_dl;
  into.sum_x += b.sum_x;
  into.sum_y += b.sum_y;
}

// How many of v[0..n) are >= low (a reduction the compiler vectorises, unlike a search that stops).
ALINIFY_VECTOR_CLONES
int64_t count_at_least(const float* v, int64_t n, float low) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += v[i] >= low;
  return count;
}

// A strong piece joins the pieces within --defect-join-gap, and the area test applies to the group
// (a defect over varied print comes out in pieces where the envelope holds part of it, each under
// --defect-min-area: docs/defects.md, "Pieces joined before the area test").
bool strong(const Blob& b, const DefectOptions& o) { return is_strong(b.area, b.sum_de, b.max_de, o); }

std::vector<Run> runs_of(const std::vector<int32_t>& row_labels) {
  std::vector<Run> runs;
  for (size_t x = 0; x < row_labels.size(); ++x) {
    const int32_t l = row_labels[x];
    if (l < 0) continue;
    if (!runs.empty() && runs.back().label == l && runs.back().x1 == static_cast<int32_t>(x))
      ++runs.back().x1;
    else
      runs.push_back(Run{static_cast<int32_t>(x), static_cast<int32_t>(x) + 1, l});
  }
  return runs;
}

int64_t cell_key(int64_t x, int64_t y, int cell) { return ((y / cell) << 32) | (x / cell); }

std::vector<int64_t> sorted_unique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

// gap + 1: two pixels with at most `gap` empty px between them in x and in y lie in neighbouring
// cells whatever the cells' alignment, so every pair the gap joins is still joined.
int join_cell(const DefectOptions& o) { return std::max(4, o.join_gap + 1); }

StripComponents label_strip(const DeltaMap& map, int64_t width, int64_t height, int64_t y0, int64_t rows,
                            const DefectOptions& o) {
  StripComponents out;
  out.y0 = y0;
  out.rows = rows;
  const float low = static_cast<float>(o.low);
  // Rows with a pixel at or above low: a handful in a strip. Only they are labelled; the label rows
  // of the others are never written or read (not even initialised: a strip's worth of -1 cost more
  // than the labelling).
  std::vector<uint8_t> marked(static_cast<size_t>(rows), 0);
  for (int64_t y = 0; y < rows; ++y) marked[y] = count_at_least(map.de.data() + y * width, width, low) > 0;
  std::unique_ptr<int32_t[]> label(new int32_t[static_cast<size_t>(width * rows)]);
  std::vector<int32_t> parent;
  for (int64_t y = 0; y < rows; ++y) {
    if (!marked[y]) continue;
    std::fill_n(label.get() + y * width, width, -1);
    for (int64_t x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y * width + x);
      if (!(map.de[i] >= low)) continue;
      int32_t l = -1;
      const auto join = [&](int64_t nx, int64_t ny) {
        if (nx < 0 || nx >= width || ny < 0 || !marked[ny]) return;
        const int32_t n = label[static_cast<size_t>(ny * width + nx)];
        if (n < 0) return;
        if (l < 0)
          l = n;
        else
          unite(parent, l, n);
      };
      join(x - 1, y);
      join(x - 1, y - 1);
      join(x, y - 1);
      join(x + 1, y - 1);
      if (l < 0) {
        l = static_cast<int32_t>(parent.size());
        parent.push_back(l);
      }
      label[i] = l;
    }
  }
  // Blobs numbered by their first pixel in raster order.
  std::vector<int32_t> blob_of(parent.size(), -1);
  std::vector<Blob> blobs;
  std::vector<std::vector<int64_t>> cells;
  std::vector<size_t> compacted;  // each cell list's size when last deduplicated
  const int cell = join_cell(o);
  for (int64_t y = 0; y < rows; ++y) {
    if (!marked[y]) continue;
    for (int64_t x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y * width + x);
      if (label[i] < 0) continue;
      const int32_t root = find(parent, label[i]);
      if (blob_of[root] < 0) {
        blob_of[root] = static_cast<int32_t>(blobs.size());
        blobs.emplace_back();
        cells.emplace_back();
        compacted.push_back(0);
      }
      label[i] = blob_of[root];
      add_pixel(blobs[label[i]], x, y0 + y, map.de[i], map.dl[i]);
      std::vector<int64_t>& c = cells[static_cast<size_t>(label[i])];
      const int64_t key = cell_key(x, y0 + y, cell);
      if (c.empty() || c.back() != key) c.push_back(key);
      // A row run repeats its cells on every row of a cell: deduplicated whenever the list
      // doubles, it stays within twice the blob's cells (an image that differs everywhere would
      // otherwise hold a key per cell-wide run).
      size_t& kept = compacted[static_cast<size_t>(label[i])];
      if (c.size() >= 2 * kept + 64) {
        c = sorted_unique(std::move(c));
        kept = c.size();
      }
    }
  }
  const bool inner_top = y0 > 0, inner_bottom = y0 + rows < height;
  std::vector<int32_t> keep_as(blobs.size(), -1);
  for (size_t b = 0; b < blobs.size(); ++b) {
    const bool open = (inner_top && blobs[b].y0 == y0) || (inner_bottom && blobs[b].y1 == y0 + rows - 1);
    if (open || strong(blobs[b], o)) {
      keep_as[b] = static_cast<int32_t>(out.blobs.size());
      out.blobs.push_back(blobs[b]);
      out.cells.push_back(sorted_unique(std::move(cells[b])));
    }
  }
  const auto edge_row = [&](int64_t y) {
    if (!marked[y]) return std::vector<Run>{};
    std::vector<int32_t> row(static_cast<size_t>(width));
    for (int64_t x = 0; x < width; ++x) {
      const int32_t l = label[static_cast<size_t>(y * width + x)];
      row[static_cast<size_t>(x)] = l < 0 ? -1 : keep_as[l];
    }
    return runs_of(row);
  };
  if (inner_top) out.top = edge_row(0);
  if (inner_bottom) out.bottom = edge_row(rows - 1);
  return out;
}

// ---- the message: counts and plain structs, host byte order (every rank runs the same binary) ----

namespace {

template <typename T>
void put(std::string& s, const T& v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
void put_vector(std::string& s, const std::vector<T>& v) {
  put<uint64_t>(s, v.size());
  if (!v.empty()) s.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

struct Reader {
  const std::string& s;
  size_t at = 0;
  template <typename T>
  T get() {
    if (s.size() - at < sizeof(T)) fail_runtime("defects: truncated strip message");
    T v;
    std::memcpy(&v, s.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> get_vector() {
    const auto n = get<uint64_t>();
    if (n > (s.size() - at) / sizeof(T)) fail_runtime("defects: truncated strip message");
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), s.data() + at, n * sizeof(T));
    at += n * sizeof(T);
    return v;
  }
};

}  // namespace

std::string encode(const std::vector<StripComponents>& strips) {
  std::string s;
  put<uint64_t>(s, strips.size());
  for (const StripComponents& c : strips) {
    put(s, c.y0);
    put(s, c.rows);
    put_vector(s, c.blobs);
    put_vector(s, c.top);
    put_vector(s, c.bottom);
    if (c.cells.size() != c.blobs.size()) fail_runtime("defects: a strip's cells do not match its blobs");
    for (const std::vector<int64_t>& v : c.cells) put_vector(s, v);
  }
  return s;
}

std::vector<StripComponents> decode(const std::string& bytes) {
  Reader r{bytes};
  std::vector<StripComponents> out;
  const auto n = r.get<uint64_t>();
  if (n > bytes.size()) fail_runtime("defects: malformed strip message");
  for (uint64_t i = 0; i < n; ++i) {
    StripComponents c;
    c.y0 = r.get<int64_t>();
    c.rows = r.get<int64_t>();
    c.blobs = r.get_vector<Blob>();
    c.top = r.get_vector<Run>();
    c.bottom = r.get_vector<Run>();
    c.cells.resize(c.blobs.size());
    for (std::vector<int64_t>& v : c.cells) v = r.get_vector<int64_t>();
    out.push_back(std::move(c));
  }
  return out;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kMissingInk:
      return "missing_ink";
    case Kind::kExtraInk:
      return "extra_ink";
    default:
      return "colour_shift";
  }
}

Kind classify(double mean_de, double mean_dl) {
  if (mean_dl >= 0.3 * mean_de) return Kind::kMissingInk;
  if (-mean_dl >= 0.3 * mean_de) return Kind::kExtraInk;
  return Kind::kColourShift;
}

namespace {

// A strong piece and the join cells of its pixels.
struct Piece {
  Blob blob;
  std::vector<int64_t> cells;  // sorted
};

// Whether some cell of one lies in the 3 x 3 cells around a cell of the other.
bool neighbouring_cells(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const std::vector<int64_t>& few = a.size() <= b.size() ? a : b;
  const std::vector<int64_t>& many = a.size() <= b.size() ? b : a;
  for (const int64_t key : few) {
    const int64_t cy = key >> 32, cx = key & 0xffffffff;
    for (int64_t y = cy - 1; y <= cy + 1; ++y) {
      if (y < 0) continue;
      // The row's three keys are consecutive: one search for the first at or after the left one.
      const int64_t left = (y << 32) | std::max<int64_t>(0, cx - 1), right = (y << 32) | (cx + 1);
      const auto it = std::lower_bound(many.begin(), many.end(), left);
      if (it != many.end() && *it <= right) return true;
    }
  }
  return false;
}

// Whether a group of pieces fills at least kCompactFill of its box. A defect that the envelope
// cut into pieces over varied print is compact as a group (on the 3000x2200 pairs at Delta E 10:
// a faint colour shift 0.37 of its box with islands of 39 and 40 px in its holes, two faint blots
// 0.12 and 0.20 with pieces of 801 and 355 px inside); a rim of difference along the design's
// border fills 0.04 of its box, a line 3-5 px wide across a 100-200 px box 0.02-0.05.
constexpr double kCompactFill = 0.1;
bool compact(const Blob& b) {
  const double box = static_cast<double>(b.x1 - b.x0 + 1) * static_cast<double>(b.y1 - b.y0 + 1);
  return static_cast<double>(b.area) >= kCompactFill * box;
}

// Unites in `parent` the boxes with at most `gap` empty px between them in x and in y (0: boxes
// that touch or overlap) for which near(i, j) holds.
template <class Near>
void link_near_boxes(const std::vector<Blob>& boxes, int gap, std::vector<int32_t>& parent, const Near& near) {
  std::vector<size_t> by_y0(boxes.size());
  std::iota(by_y0.begin(), by_y0.end(), 0);
  std::stable_sort(by_y0.begin(), by_y0.end(), [&](size_t a, size_t b) { return boxes[a].y0 < boxes[b].y0; });
  for (size_t i = 0; i < by_y0.size(); ++i) {
    const Blob& a = boxes[by_y0[i]];
    // Sorted by y0: once a box starts more than gap + 1 rows below a's bottom, so do all later ones.
    for (size_t j = i + 1; j < by_y0.size() && boxes[by_y0[j]].y0 <= a.y1 + gap + 1; ++j) {
      const Blob& b = boxes[by_y0[j]];
      if (b.x0 <= a.x1 + gap + 1 && a.x0 <= b.x1 + gap + 1 && near(by_y0[i], by_y0[j]))
        unite(parent, static_cast<int32_t>(by_y0[i]), static_cast<int32_t>(by_y0[j]));
    }
  }
}

// Single linkage within --defect-join-gap, in two passes. First the pieces whose boxes are within
// the gap and whose pixels lie in neighbouring join cells (less than two cells apart: pieces whose
// pixels come within the gap always do); then the groups so formed whose boxes are within the gap
// when both are compact (an island in a defect's hole). The boxes alone, the rule until
// 2026-12-04, joined every piece inside a long thin piece's box: a rim of difference along the
// design's border (a scan padded with black) took in the defects within 100 px of it, and a
// diagonal crease would take in those beside it. The result does not depend on the input order
// (union-find, then the groups in the order of their first member after a sort by first pixel,
// which is unique for disjoint components).
std::vector<Blob> join_nearby(std::vector<Piece> pieces, int gap) {
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.blob.first_y != b.blob.first_y ? a.blob.first_y < b.blob.first_y : a.blob.first_x < b.blob.first_x;
  });
  std::vector<Blob> boxes;
  for (const Piece& p : pieces) boxes.push_back(p.blob);
  std::vector<int32_t> parent(pieces.size());
  std::iota(parent.begin(), parent.end(), 0);
  link_near_boxes(boxes, gap, parent,
                  [&](size_t a, size_t b) { return neighbouring_cells(pieces[a].cells, pieces[b].cells); });
  // The first pass's groups, numbered by their first piece.
  std::vector<int32_t> group_of_root(pieces.size(), -1);
  std::vector<Blob> groups;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int32_t root = find(parent, static_cast<int32_t>(i));
    if (group_of_root[root] < 0) {
      group_of_root[root] = static_cast<int32_t>(groups.size());
      groups.emplace_back();
    }
    add_blob(groups[group_of_root[root]], pieces[i].blob);
  }
  std::vector<int32_t> group_parent(groups.size());
  std::iota(group_parent.begin(), group_parent.end(), 0);
  link_near_boxes(groups, gap, group_parent,
                  [&](size_t a, size_t b) { return compact(groups[a]) && compact(groups[b]); });
  std::vector<int32_t> slot(groups.size(), -1);
  std::vector<Blob> out;
  for (size_t g = 0; g < groups.size(); ++g) {
    const int32_t root = find(group_parent, static_cast<int32_t>(g));
    if (slot[root] < 0) {
      slot[root] = static_cast<int32_t>(out.size());
      out.emplace_back();
    }
    add_blob(out[slot[root]], groups[g]);
  }
  return out;
}

}  // namespace

std::vector<Defect> merge_strips(std::vector<StripComponents> strips, const DefectOptions& o) {
  std::sort(strips.begin(), strips.end(),
            [](const StripComponents& a, const StripComponents& b) { return a.y0 < b.y0; });
  std::vector<int32_t> first(strips.size() + 1, 0);
  for (size_t i = 0; i < strips.size(); ++i) first[i + 1] = first[i] + static_cast<int32_t>(strips[i].blobs.size());
  std::vector<int32_t> parent(static_cast<size_t>(first.back()));
  std::iota(parent.begin(), parent.end(), 0);
  for (size_t i = 1; i < strips.size(); ++i) {
    const StripComponents &up = strips[i - 1], &down = strips[i];
    if (up.y0 + up.rows != down.y0) continue;
    // Runs on the two rows touch (8-connected) when their x ranges, widened by one, overlap.
    size_t a = 0, b = 0;
    while (a < up.bottom.size() && b < down.top.size()) {
      const Run &ra = up.bottom[a], &rb = down.top[b];
      if (ra.x0 <= rb.x1 && rb.x0 <= ra.x1) unite(parent, first[i - 1] + ra.label, first[i] + rb.label);
      if (ra.x1 < rb.x1)
        ++a;
      else
        ++b;
    }
  }
  std::vector<int32_t> slot(parent.size(), -1);
  std::vector<Piece> merged;
  for (size_t i = 0; i < strips.size(); ++i) {
    if (strips[i].cells.size() != strips[i].blobs.size())
      fail_runtime("defects: a strip's cells do not match its blobs");
    for (size_t k = 0; k < strips[i].blobs.size(); ++k) {
      const int32_t root = find(parent, first[i] + static_cast<int32_t>(k));
      if (slot[root] < 0) {
        slot[root] = static_cast<int32_t>(merged.size());
        merged.emplace_back();
      }
      Piece& p = merged[slot[root]];
      add_blob(p.blob, strips[i].blobs[k]);
      p.cells.insert(p.cells.end(), strips[i].cells[k].begin(), strips[i].cells[k].end());
    }
  }
  std::vector<Piece> pieces;
  for (Piece& p : merged)
    if (strong(p.blob, o)) pieces.push_back(Piece{p.blob, sorted_unique(std::move(p.cells))});
  std::vector<Blob> kept;
  for (Blob& b : join_nearby(std::move(pieces), o.join_gap))
    if (b.area >= o.min_area) kept.push_back(std::move(b));
  std::sort(kept.begin(), kept.end(), [](const Blob& a, const Blob& b) {
    return a.first_y != b.first_y ? a.first_y < b.first_y : a.first_x < b.first_x;
  });
  std::vector<Defect> out;
  for (const Blob& b : kept) {
    Defect d;
    d.id = static_cast<int64_t>(out.size()) + 1;
    d.x0 = b.x0;
    d.y0 = b.y0;
    d.x1 = b.x1;
    d.y1 = b.y1;
    const double n = static_cast<double>(b.area);
    d.cx = b.sum_x / n;
    d.cy = b.sum_y / n;
    d.area = b.area;
    d.mean_de = b.sum_de / n;
    d.max_de = b.max_de;
    d.mean_dl = b.sum_dl / n;
    d.kind = classify(d.mean_de, d.mean_dl);
    out.push_back(d);
  }
  return out;
}

}  // namespace alinify::defects
