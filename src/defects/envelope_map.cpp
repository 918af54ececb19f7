// The Delta E map of `--defect-compare envelope` (the default), written for speed: the defect stage
// touches every pixel of the image once more after the warp (docs/defects.md, "Speed").
// Per row: the scan's box mean, the per-channel range of the mapped design over +-(radius + scale)
// (separable: a row pass, then a column pass over the row ranges), and CIELAB only for pixels whose
// RGB step out of that range could reach --defect-low.
#include "envelope_map.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "alinify/defects/colour.hpp"

namespace alinify::defects::detail {

namespace {

// The mapped design of rows [dy0, dy1) of the window, clamped to 0..255, with the gain field's
// row terms computed once per row (the same values as ColourModel::apply, in float).
void map_design_rows(const StripPixels& px, int64_t dy0, int64_t dy1, const ColourModel& m, std::vector<float>& out) {
  const int64_t w = px.image.width;
  out.resize(static_cast<size_t>((dy1 - dy0) * w * 3));
  const double su = m.image.width > 1 ? 2.0 / static_cast<double>(m.image.width - 1) : 0.0;
  const double sv = m.image.height > 1 ? 2.0 / static_cast<double>(m.image.height - 1) : 0.0;
#pragma omp parallel for schedule(static)
  for (int64_t y = dy0; y < dy1; ++y) {
    const double v = m.image.height > 1 ? static_cast<double>(y) * sv - 1 : 0.0;
    const double row_g = 1 + m.gain[1] * v + m.gain[4] * v * v;
    const uint8_t* d = px.design + (y - px.in_y0) * w * 3;
    float* o = out.data() + (y - dy0) * w * 3;
    for (int64_t x = 0; x < w; ++x) {
      const double u = m.image.width > 1 ? static_cast<double>(x + px.x0) * su - 1 : 0.0;
      const double g = row_g + (m.gain[0] + m.gain[3] * v) * u + m.gain[2] * u * u;
      const double r = d[3 * x], gr = d[3 * x + 1], b = d[3 * x + 2];
      for (int c = 0; c < 3; ++c) {
        const double q = g * (m.m[3 * c] * r + m.m[3 * c + 1] * gr + m.m[3 * c + 2] * b) + m.offset[c];
        o[3 * x + c] = static_cast<float>(std::clamp(q, 0.0, 255.0));
      }
    }
  }
}

// Per row of `md`, the per-channel min and max over x +- r (clamped at the image's sides).
void row_ranges(const std::vector<float>& md, int64_t w, int64_t rows, int64_t r, std::vector<float>& lo,
                std::vector<float>& hi) {
  lo.resize(md.size());
  hi.resize(md.size());
#pragma omp parallel for schedule(static)
  for (int64_t y = 0; y < rows; ++y) {
    const float* q = md.data() + y * w * 3;
    float* l = lo.data() + y * w * 3;
    float* h = hi.data() + y * w * 3;
    // Inside, where the window needs no clamp: one pass per offset over the interleaved row, in
    // the channel-interleaved index (vectorised); near the sides, the clamped window.
    const int64_t in0 = std::min(r, w), in1 = std::max(in0, w - r);
    std::copy(q + 3 * in0, q + 3 * in1, l + 3 * in0);
    std::copy(q + 3 * in0, q + 3 * in1, h + 3 * in0);
    for (int64_t k = 1; k <= r; ++k)
      for (int64_t i = 3 * in0; i < 3 * in1; ++i) {
        l[i] = std::min(l[i], std::min(q[i - 3 * k], q[i + 3 * k]));
        h[i] = std::max(h[i], std::max(q[i - 3 * k], q[i + 3 * k]));
      }
    for (int64_t x = 0; x < w; ++x) {
      if (x == in0 && in1 > in0) x = in1;
      if (x >= w) break;
      const int64_t x0 = std::max<int64_t>(0, x - r), x1 = std::min(w - 1, x + r);
      for (int c = 0; c < 3; ++c) {
        float a = q[3 * x0 + c], b = a;
        for (int64_t nx = x0 + 1; nx <= x1; ++nx) {
          a = std::min(a, q[3 * nx + c]);
          b = std::max(b, q[3 * nx + c]);
        }
        l[3 * x + c] = a;
        h[3 * x + c] = b;
      }
    }
  }
}

// Box mean of radius s of the scan on row y (window rows clamped as box_smooth does): column sums
// over the rows, then the row's sums over the columns; integer, so exact whatever the strip.
void smoothed_row(const StripPixels& px, int64_t y, int s, std::vector<int32_t>& cols, float* out) {
  const int64_t w = px.image.width, wy = y - px.in_y0;
  if (s == 0) {
    const uint8_t* a = px.aligned + wy * w * 3;
    for (int64_t i = 0; i < w * 3; ++i) out[i] = a[i];
    return;
  }
  cols.assign(static_cast<size_t>(w * 3), 0);
  for (int d = -s; d <= s; ++d) {
    const uint8_t* a = px.aligned + std::clamp<int64_t>(wy + d, 0, px.in_rows - 1) * w * 3;
    for (int64_t i = 0; i < w * 3; ++i) cols[i] += a[i];
  }
  const float norm = 1.0f / static_cast<float>((2 * s + 1) * (2 * s + 1));
  // Inside, the row's sums in the channel-interleaved index (vectorised); near the sides, clamped.
  const int64_t in0 = std::min<int64_t>(s, w), in1 = std::max(in0, w - s);
  for (int64_t i = 3 * in0; i < 3 * in1; ++i) {
    int32_t sum = cols[i];
    for (int d = 1; d <= s; ++d) sum += cols[i - 3 * d] + cols[i + 3 * d];
    out[i] = static_cast<float>(sum) * norm;
  }
  for (int64_t x = 0; x < w; ++x) {
    if (x == in0 && in1 > in0) x = in1;
    if (x >= w) break;
    for (int c = 0; c < 3; ++c) {
      int32_t sum = 0;
      for (int d = -s; d <= s; ++d) sum += cols[std::clamp<int64_t>(x + d, 0, w - 1) * 3 + c];
      out[3 * x + c] = static_cast<float>(sum) * norm;
    }
  }
}

}  // namespace

DeltaMap envelope_delta_map(const StripPixels& px, int64_t y0, int64_t rows, const ColourModel& model,
                            const DefectOptions& o, const uint8_t* valid) {
  const int64_t w = px.image.width, reach = o.radius + o.scale;
  const int64_t dy0 = std::max<int64_t>(0, y0 - reach), dy1 = std::min(px.image.height, y0 + rows + reach);
  // Kept from strip to strip (this is called once per strip, outside any parallel region): fresh
  // vectors of a strip's size cost more in page faults than the work on them.
  // (thread_local: the parallel regions below must reach them through these pointers, not by name.)
  static thread_local std::vector<float> md, lo_rows, hi_rows;
  map_design_rows(px, dy0, dy1, model, md);
  row_ranges(md, w, dy1 - dy0, reach, lo_rows, hi_rows);
  const float* const lo = lo_rows.data();
  const float* const hi = hi_rows.data();
  DeltaMap map;
  map.de.assign(static_cast<size_t>(rows * w), 0.0f);
  map.dl.assign(static_cast<size_t>(rows * w), 0.0f);
  const float low2 = static_cast<float>(o.low * o.low);
#pragma omp parallel
  {
    std::vector<int32_t> cols;
    std::vector<float> scan(static_cast<size_t>(w * 3)), rlo(static_cast<size_t>(w * 3)),
        rhi(static_cast<size_t>(w * 3));
#pragma omp for schedule(static)
    for (int64_t y = y0; y < y0 + rows; ++y) {
      const uint8_t* ok = valid ? valid + (y - y0) * w : nullptr;
      if (ok && std::none_of(ok, ok + w, [](uint8_t v) { return v != 0; })) continue;
      smoothed_row(px, y, o.scale, cols, scan.data());
      // The column pass of the range: rows y +- reach of the row ranges.
      const int64_t ny0 = std::max(dy0, y - reach), ny1 = std::min(dy1 - 1, y + reach);
      // The first two rows combined as they are read (a copy of the first would cost as much).
      const float *l0 = lo + (ny0 - dy0) * w * 3, *h0 = hi + (ny0 - dy0) * w * 3;
      const float *l1 = ny1 > ny0 ? l0 + w * 3 : l0, *h1 = ny1 > ny0 ? h0 + w * 3 : h0;
      for (int64_t i = 0; i < w * 3; ++i) {
        rlo[i] = std::min(l0[i], l1[i]);
        rhi[i] = std::max(h0[i], h1[i]);
      }
      for (int64_t ny = ny0 + 2; ny <= ny1; ++ny) {
        const float* l = lo + (ny - dy0) * w * 3;
        const float* h = hi + (ny - dy0) * w * 3;
        for (int64_t i = 0; i < w * 3; ++i) {
          rlo[i] = std::min(rlo[i], l[i]);
          rhi[i] = std::max(rhi[i], h[i]);
        }
      }
      // The nearest colour the neighbourhood can explain: each channel clamped into its range there
      // (a mixture of the design's colours lies channel by channel between them); over the whole row
      // first (vectorised), into rlo.
      for (int64_t i = 0; i < w * 3; ++i) rlo[i] = std::clamp(scan[i], rlo[i], rhi[i]);
      float* de = map.de.data() + (y - y0) * w;
      float* dl = map.dl.data() + (y - y0) * w;
      for (int64_t x = 0; x < w; ++x) {
        if (ok && !ok[x]) continue;
        const float* s = &scan[3 * x];
        const float* e = &rlo[3 * x];
        const float step2 =
            (s[0] - e[0]) * (s[0] - e[0]) + (s[1] - e[1]) * (s[1] - e[1]) + (s[2] - e[2]) * (s[2] - e[2]);
        // Delta E 1976 changes by at most 1.37 per RGB level of Euclidean step anywhere in sRGB (the
        // largest Frobenius norm of the sRGB->L*a*b* Jacobian, near black; docs/defects.md): a step
        // under low / 1.5 cannot reach low, and such pixels never join a component. Their value stays 0.
        if (2.25f * step2 < low2) continue;
        const Lab ls = srgb_to_lab(s[0], s[1], s[2]), le = srgb_to_lab(e[0], e[1], e[2]);
        de[x] = static_cast<float>(delta_e76(ls, le));
        dl[x] = static_cast<float>(ls.L - le.L);
      }
    }
  }
  return map;
}

}  // namespace alinify::defects::detail
