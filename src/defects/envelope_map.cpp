// The Delta E map of `--defect-compare envelope` (the default), written for speed: the defect stage
// touches every pixel of the image once more after the warp (docs/defects.md, "Speed").
// Row by row, in integers and whole rows (row kernels the compiler vectorises, ALINIFY_VECTOR_CLONES):
// the mapped design in 1/16 RGB level, kept in a ring of rows; its per-channel range over
// +-(radius + scale) px (a column pass over the ring, then a row pass); the scan's box sums, each
// channel clamped into the range; CIELAB, in float and vectorised, only for the pixels whose RGB
// step out of the range could reach --defect-low.
#include "envelope_map.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "alinify/core/vector_clones.hpp"
#include "alinify/defects/colour.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace alinify::defects::detail {

namespace {

// The mapped design in 1/kSub RGB levels (0..4080).
using Sub = uint16_t;
constexpr int32_t kSub = 16;

// The colour model in float, with the gain field's column terms: g(x, y) = row + a[x] + v * b[x].
struct MappedDesign {
  float m[9], offset[3];
  std::vector<float> a, b;
  // With tone curves: each design channel j's contribution to output c at value v,
  // curves[768 j + 3 v + c] (M and the curves together, so the row kernel adds three lookups).
  std::vector<float> curves;
  double sv = 0;
  std::array<double, 5> gain{};

  MappedDesign(const ColourModel& model, int64_t x0, int64_t w) : a(static_cast<size_t>(w)), b(a.size()) {
    for (int k = 0; k < 9; ++k) m[k] = static_cast<float>(model.m[k]);
    for (int c = 0; c < 3; ++c) offset[c] = static_cast<float>(model.offset[c]);
    if (model.has_curve()) {
      curves.resize(3 * 256 * 3);
      for (int j = 0; j < 3; ++j)
        for (int v = 0; v < 256; ++v) {
          float d[3] = {0, 0, 0};
          d[j] = static_cast<float>(v);
          double out[3];
          model.ungained(d, out);  // M d + curves, with the other two channels at 0 (they add)
          for (int c = 0; c < 3; ++c) curves[static_cast<size_t>(768 * j + 3 * v + c)] = static_cast<float>(out[c]);
        }
    }
    gain = model.gain;
    const double su = model.image.width > 1 ? 2.0 / static_cast<double>(model.image.width - 1) : 0.0;
    sv = model.image.height > 1 ? 2.0 / static_cast<double>(model.image.height - 1) : 0.0;
    for (int64_t x = 0; x < w; ++x) {
      const double u = model.image.width > 1 ? static_cast<double>(x + x0) * su - 1 : 0.0;
      a[x] = static_cast<float>(gain[0] * u + gain[2] * u * u);
      b[x] = static_cast<float>(gain[3] * u);
    }
  }
  double v_of(int64_t y) const { return sv > 0 ? static_cast<double>(y) * sv - 1 : 0.0; }
};

// One design row through the colour model, clamped to 0..255 and rounded to 1/kSub level (at most
// 1/32 level off: Delta E 1976 by at most 0.05 near black, less elsewhere).
ALINIFY_VECTOR_CLONES
void map_design_row(const uint8_t* __restrict d, int64_t w, const float* __restrict a, const float* __restrict b,
                    float row, float v, const float* m, const float* off, Sub* __restrict out) {
  for (int64_t x = 0; x < w; ++x) {
    const float g = row + a[x] + v * b[x];
    const float r = d[3 * x], gr = d[3 * x + 1], bl = d[3 * x + 2];
    for (int c = 0; c < 3; ++c) {
      const float q = g * (m[3 * c] * r + m[3 * c + 1] * gr + m[3 * c + 2] * bl) + off[c];
      // Rounded, then clamped in integers (a float clamp keeps GCC from vectorising the loop).
      out[3 * x + c] = static_cast<Sub>(std::clamp(static_cast<int32_t>(q * kSub + 0.5f), 0, 255 * kSub));
    }
  }
}

// The same through the tone curves' table (MappedDesign::curves).
ALINIFY_VECTOR_CLONES
void map_design_row_curved(const uint8_t* __restrict d, int64_t w, const float* __restrict a, const float* __restrict b,
                           float row, float v, const float* __restrict curves, const float* off, Sub* __restrict out) {
  for (int64_t x = 0; x < w; ++x) {
    const float g = row + a[x] + v * b[x];
    const float* r = curves + 3 * d[3 * x];
    const float* gr = curves + 768 + 3 * d[3 * x + 1];
    const float* bl = curves + 1536 + 3 * d[3 * x + 2];
    for (int c = 0; c < 3; ++c) {
      const float q = g * (r[c] + gr[c] + bl[c]) + off[c];
      out[3 * x + c] = static_cast<Sub>(std::clamp(static_cast<int32_t>(q * kSub + 0.5f), 0, 255 * kSub));
    }
  }
}

// The element-wise kernels below are kept out of line, one call per row and offset: inlined into
// their loops over rows or offsets, GCC fuses two iterations of the outer loop (unroll-and-jam)
// into a loop it no longer vectorises.
#define ALINIFY_ROW_KERNEL ALINIFY_VECTOR_CLONES __attribute__((noinline))

// lo = min(lo, a, b), hi = max(hi, c, d) element-wise over [0, n) (b, d may be a, c).
ALINIFY_ROW_KERNEL
void min_max_into(const Sub* __restrict a, const Sub* __restrict b, const Sub* __restrict c, const Sub* __restrict d,
                  int64_t n, Sub* __restrict lo, Sub* __restrict hi) {
  for (int64_t i = 0; i < n; ++i) {
    lo[i] = std::min(lo[i], std::min(a[i], b[i]));
    hi[i] = std::max(hi[i], std::max(c[i], d[i]));
  }
}

// lo = min(a, b), hi = max(c, d) element-wise over [0, n): the first pair of a pass, written without
// a copy to start from.
ALINIFY_ROW_KERNEL
void min_max_of(const Sub* __restrict a, const Sub* __restrict b, const Sub* __restrict c, const Sub* __restrict d,
                int64_t n, Sub* __restrict lo, Sub* __restrict hi) {
  for (int64_t i = 0; i < n; ++i) {
    lo[i] = std::min(a[i], b[i]);
    hi[i] = std::max(c[i], d[i]);
  }
}

// sum[i] += a[i] + b[i] over [0, n).
ALINIFY_ROW_KERNEL
void add_pair_into(const uint16_t* __restrict a, const uint16_t* __restrict b, int64_t n, int32_t* __restrict sum) {
  for (int64_t i = 0; i < n; ++i) sum[i] += a[i] + b[i];
}

// cols[i] += a[i] over [0, n).
ALINIFY_ROW_KERNEL
void add_bytes_into(const uint8_t* __restrict a, int64_t n, uint16_t* __restrict cols) {
  for (int64_t i = 0; i < n; ++i) cols[i] = static_cast<uint16_t>(cols[i] + a[i]);
}

// Per channel, the min of row qlo and the max of row qhi over x +- r (clamped at the row's sides).
// Inside, where the window needs no clamp, one pass per offset over the channel-interleaved index.
void range_row(const Sub* qlo, const Sub* qhi, int64_t w, int64_t r, Sub* lo, Sub* hi) {
  const int64_t in0 = std::min(r, w), in1 = std::max(in0, w - r), i0 = 3 * in0, len = 3 * (in1 - in0);
  if (r == 0) {
    std::copy(qlo + i0, qlo + i0 + len, lo + i0);
    std::copy(qhi + i0, qhi + i0 + len, hi + i0);
  } else {
    min_max_of(qlo + i0 - 3, qlo + i0 + 3, qhi + i0 - 3, qhi + i0 + 3, len, lo + i0, hi + i0);
    min_max_into(qlo + i0, qlo + i0, qhi + i0, qhi + i0, len, lo + i0, hi + i0);
    for (int64_t k = 2; k <= r; ++k)
      min_max_into(qlo + i0 - 3 * k, qlo + i0 + 3 * k, qhi + i0 - 3 * k, qhi + i0 + 3 * k, len, lo + i0, hi + i0);
  }
  for (int64_t x = 0; x < w; ++x) {
    if (x == in0 && in1 > in0) x = in1;
    if (x >= w) break;
    const int64_t x0 = std::max<int64_t>(0, x - r), x1 = std::min(w - 1, x + r);
    for (int c = 0; c < 3; ++c) {
      Sub l = qlo[3 * x0 + c], h = qhi[3 * x0 + c];
      for (int64_t nx = x0 + 1; nx <= x1; ++nx) {
        l = std::min(l, qlo[3 * nx + c]);
        h = std::max(h, qhi[3 * nx + c]);
      }
      lo[3 * x + c] = l;
      hi[3 * x + c] = h;
    }
  }
}

// The column pass: the element-wise min and max of k >= 1 rows.
void combine_rows(const Sub* const* rows, int k, int64_t n, Sub* lo, Sub* hi) {
  if (k == 1) {
    std::copy(rows[0], rows[0] + n, lo);
    std::copy(rows[0], rows[0] + n, hi);
    return;
  }
  min_max_of(rows[0], rows[1], rows[0], rows[1], n, lo, hi);
  int j = 2;
  for (; j + 1 < k; j += 2) min_max_into(rows[j], rows[j + 1], rows[j], rows[j + 1], n, lo, hi);
  if (j < k) min_max_into(rows[j], rows[j], rows[j], rows[j], n, lo, hi);
}

// The scan's box sums of radius s on one row: column sums over the k = 2s + 1 rows given (at most
// 17 x 255: uint16), then the row's sums over x +- s (clamped at the sides), exact integers.
void box_sums(const uint8_t* const* rows, int k, int64_t w, int64_t s, uint16_t* cols, int32_t* sum) {
  const int64_t n = 3 * w;
  std::copy(rows[0], rows[0] + n, cols);
  for (int j = 1; j < k; ++j) add_bytes_into(rows[j], n, cols);
  const int64_t in0 = std::min(s, w), in1 = std::max(in0, w - s), i0 = 3 * in0, len = 3 * (in1 - in0);
  std::copy(cols + i0, cols + i0 + len, sum + i0);
  for (int64_t d = 1; d <= s; ++d) add_pair_into(cols + i0 - 3 * d, cols + i0 + 3 * d, len, sum + i0);
  for (int64_t x = 0; x < w; ++x) {
    if (x == in0 && in1 > in0) x = in1;
    if (x >= w) break;
    for (int c = 0; c < 3; ++c) {
      int32_t v = 0;
      for (int64_t d = -s; d <= s; ++d) v += cols[std::clamp<int64_t>(x + d, 0, w - 1) * 3 + c];
      sum[3 * x + c] = v;
    }
  }
}

// Each channel of the box sum clamped into the range (the nearest colour the neighbourhood
// explains), both in 1/(kSub x area) level, and the square of the step out of it (in float: exact
// up to 2^24, and a threshold needs no more). Element by element, without regard to pixels: the
// loop vectorises without shuffles.
ALINIFY_ROW_KERNEL
void clamp_into_range(const int32_t* __restrict sum, const Sub* __restrict lo, const Sub* __restrict hi, int32_t area,
                      int64_t n, int32_t* __restrict nearest, float* __restrict d2) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = sum[i] * kSub, e = std::clamp(s, area * lo[i], area * hi[i]);
    const float d = static_cast<float>(s - e);
    nearest[i] = e;
    d2[i] = d * d;
  }
}

// Per pixel, the squared length of its step: the sum of its channels' squares.
ALINIFY_ROW_KERNEL
void pixel_steps(const float* __restrict d2, int64_t w, float* __restrict step2) {
  for (int64_t x = 0; x < w; ++x) step2[x] = d2[3 * x] + d2[3 * x + 1] + d2[3 * x + 2];
}

// The columns x with step2[x] >= pass (and ok[x] where ok is given) into picked; returns how many.
// Branch-free: most rows have a few thousand such pixels spread among noise.
ALINIFY_ROW_KERNEL
int64_t pick_steps(const float* __restrict step2, const uint8_t* __restrict ok, int64_t w, float pass,
                   int64_t* __restrict picked) {
  int64_t count = 0;
  // Most pixels of a print do not pass: a block of 16 is skipped after one vectorised test, and
  // only blocks with a passing pixel are compacted one pixel at a time.
  constexpr int64_t kBlock = 16;
  for (int64_t x0 = 0; x0 < w; x0 += kBlock) {
    const int64_t x1 = std::min(w, x0 + kBlock);
    int any = 0;
    for (int64_t x = x0; x < x1; ++x) any |= step2[x] >= pass;
    if (!any) continue;
    for (int64_t x = x0; x < x1; ++x) {
      picked[count] = x;
      count += (step2[x] >= pass) & (!ok || ok[x] != 0);
    }
  }
  return count;
}

// The rows one thread computes, with its ring of mapped design rows (rows ny kept in slot
// ny mod size) and its row buffers.
struct RowWork {
  const StripPixels& px;
  const MappedDesign& design;
  int64_t reach, scale, dy0, dy1;
  std::vector<Sub> ring, vlo, vhi, rlo, rhi;
  std::vector<int64_t> ring_row;
  std::vector<uint16_t> cols;
  std::vector<int32_t> sum, nearest;
  std::vector<float> d2, step2;
  // The pixels of a row that passed the bound: their columns, both colours in linear light (planar),
  // and their Delta E and dL.
  std::vector<int64_t> picked;
  std::vector<float> lin, de, dl;

  RowWork(const StripPixels& p, const MappedDesign& d, int64_t r, int64_t s, int64_t y0, int64_t y1)
      : px(p), design(d), reach(r), scale(s), dy0(y0), dy1(y1) {
    const size_t n = static_cast<size_t>(3 * px.image.width), slots = static_cast<size_t>(2 * reach + 1);
    ring.resize(n * slots);
    vlo.resize(n);
    vhi.resize(n);
    ring_row.assign(slots, -1);
    rlo.resize(n);
    rhi.resize(n);
    cols.resize(n);
    sum.resize(n);
    nearest.resize(n);
    d2.resize(n);
    step2.resize(static_cast<size_t>(px.image.width));
    picked.resize(static_cast<size_t>(px.image.width));
    lin.resize(6 * picked.size());
    de.resize(picked.size());
    dl.resize(picked.size());
  }

  // The range of design row ny, from the ring or computed into it.
  size_t slot_of(int64_t ny) {
    const size_t slot = static_cast<size_t>(ny % static_cast<int64_t>(ring_row.size()));
    if (ring_row[slot] == ny) return slot;
    const int64_t w = px.image.width, n = 3 * w;
    const double v = design.v_of(ny);
    const auto& g = design.gain;
    const float row = static_cast<float>(1 + g[1] * v + g[4] * v * v);
    const uint8_t* d = px.design + (ny - px.in_y0) * n;
    if (design.curves.empty())
      map_design_row(d, w, design.a.data(), design.b.data(), row, static_cast<float>(v), design.m, design.offset,
                     ring.data() + slot * n);
    else
      map_design_row_curved(d, w, design.a.data(), design.b.data(), row, static_cast<float>(v), design.curves.data(),
                            design.offset, ring.data() + slot * n);
    ring_row[slot] = ny;
    return slot;
  }

  // The envelope of row y: the column pass over the ring's rows y +- reach into vlo, vhi, then the
  // row pass into rlo, rhi (in this order the ring holds one array, not two: half the memory
  // traffic of the pass that reads 2 * reach + 1 rows).
  void envelope(int64_t y) {
    const int64_t w = px.image.width, n = 3 * w;
    const int64_t ny0 = std::max(dy0, y - reach), ny1 = std::min(dy1 - 1, y + reach);
    const Sub* rows[2 * 16 + 1];  // reach = radius + scale <= 16
    int k = 0;
    for (int64_t ny = ny0; ny <= ny1; ++ny, ++k) rows[k] = ring.data() + slot_of(ny) * n;
    combine_rows(rows, k, n, vlo.data(), vhi.data());
    range_row(vlo.data(), vhi.data(), w, reach, rlo.data(), rhi.data());
  }

  // The scan's box sums of row y (window rows clamped as box_smooth does).
  void scan_sums(int64_t y) {
    const int64_t w = px.image.width, wy = y - px.in_y0;
    const uint8_t* rows[2 * 8 + 1];  // scale <= 8
    int k = 0;
    for (int64_t d = -scale; d <= scale; ++d, ++k)
      rows[k] = px.aligned + std::clamp<int64_t>(wy + d, 0, px.in_rows - 1) * 3 * w;
    box_sums(rows, k, w, scale, cols.data(), sum.data());
  }
};

}  // namespace

void envelope_delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model,
                        const DefectOptions& o, const uint8_t* valid, DeltaMap& map) {
  const int64_t w = px.image.width, reach = o.radius + o.scale;
  const int64_t dy0 = std::max<int64_t>(0, y0 - reach), dy1 = std::min(px.image.height, y0 + rows + reach);
  const MappedDesign design(model, px.x0, w);
  // Every pixel is written below: resizing keeps the previous strip's pages.
  map.de.resize(static_cast<size_t>(rows * w));
  map.dl.resize(map.de.size());
  const int32_t area = (2 * o.scale + 1) * (2 * o.scale + 1);
  // The sRGB decoding of every value in 1/(kSub x area) level, kept from strip to strip (this runs
  // once per strip, outside any parallel region).
  static thread_local std::pair<int32_t, std::vector<float>> decoding{0, {}};
  if (decoding.first != kSub * area) decoding = {kSub * area, linear_light_of_sums(kSub * area)};
  const float* const decode = decoding.second.data();
  // Delta E 1976 changes by at most 1.37 per RGB level of Euclidean step anywhere in sRGB (the
  // largest Frobenius norm of the sRGB->L*a*b* Jacobian, near black; docs/defects.md): a step under
  // low / 1.5 cannot reach low, and such pixels never join a component. Their value stays 0. In
  // 1/(kSub x area) level: 2.25 * step2 < low^2 * (kSub * area)^2. The map is in the design's
  // contrast (ColourModel::contrast): low there is low x contrast in the scan's colours.
  const double unit = static_cast<double>(kSub) * area, low = o.low * model.contrast;
  const float pass = static_cast<float>(low * low * unit * unit / 2.25);
  const float scale = static_cast<float>(model.de_scale());
#pragma omp parallel
  {
    int t = 0, threads = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    threads = omp_get_num_threads();
#endif
    // Contiguous rows per thread, so that its ring is reused from row to row.
    const int64_t ya = y0 + rows * t / threads, yb = y0 + rows * (t + 1) / threads;
    RowWork work(px, design, reach, o.scale, dy0, dy1);
    for (int64_t y = ya; y < yb; ++y) {
      float* de = map.de.data() + (y - y0) * w;
      float* dl = map.dl.data() + (y - y0) * w;
      std::fill(de, de + w, 0.0f);  // dl is read only where de >= low (DeltaMap): not cleared
      const uint8_t* ok = valid ? valid + (y - y0) * w : nullptr;
      if (ok && std::none_of(ok, ok + w, [](uint8_t v) { return v != 0; })) continue;
      work.envelope(y);
      work.scan_sums(y);
      clamp_into_range(work.sum.data(), work.rlo.data(), work.rhi.data(), area, 3 * w, work.nearest.data(),
                       work.d2.data());
      pixel_steps(work.d2.data(), w, work.step2.data());
      const int64_t count = pick_steps(work.step2.data(), ok, w, pass, work.picked.data());
      const int32_t* sum = work.sum.data();
      const int32_t* near = work.nearest.data();
      float* lin[6];
      for (int c = 0; c < 6; ++c) lin[c] = work.lin.data() + c * w;
      for (int64_t k = 0; k < count; ++k) {
        const int64_t x = work.picked[k];
        for (int c = 0; c < 3; ++c) {
          lin[c][k] = decode[sum[3 * x + c] * kSub];
          lin[3 + c][k] = decode[near[3 * x + c]];
        }
      }
      delta_e76_linear(lin, count, work.de.data(), work.dl.data());
      for (int64_t k = 0; k < count; ++k) {
        de[work.picked[k]] = work.de[k] * scale;
        dl[work.picked[k]] = work.dl[k] * scale;
      }
    }
  }
}

}  // namespace alinify::defects::detail
