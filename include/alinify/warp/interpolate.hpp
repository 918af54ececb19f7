#pragma once
// Interpolation of uint8 RGB, shared by the CPU and CUDA kernels (ALINIFY_HD).
// The source is a window of the scan: pixel (x, y) of the scan is at
// data[(y - y0) * stride + (x - x0) * 3 + c]. Samples outside the scan give the fill colour;
// the window always covers every scan pixel a sample inside the scan needs (source_window()).
#include <math.h>
#include <stdint.h>

#include "alinify/core/hd.hpp"

namespace alinify::warp {

enum class Interp : int { kNearest = 0, kBilinear = 1, kBicubic = 2 };

struct SourceView {
  const uint8_t* data;
  int64_t x0, y0;          // window origin in scan pixels
  int64_t width, height;   // window size
  int64_t stride;          // bytes per row
  int64_t scan_w, scan_h;  // the whole scan, for the outside test
};

// A colour, e.g. the fill where an output pixel maps outside the scan.
struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

ALINIFY_HD inline uint8_t clamp_round(float v) {
  v = v < 0.f ? 0.f : (v > 255.f ? 255.f : v);
  return static_cast<uint8_t>(v + 0.5f);
}

// Pixel (x, y) of the scan, clamped to the scan's edge (edge replication inside the scan), then
// to the window (the window holds every pixel an inside sample needs; clamping there is a guard).
ALINIFY_HD inline const uint8_t* pixel_at(const SourceView& s, int64_t x, int64_t y) {
  x = x < 0 ? 0 : (x >= s.scan_w ? s.scan_w - 1 : x);
  y = y < 0 ? 0 : (y >= s.scan_h ? s.scan_h - 1 : y);
  int64_t lx = x - s.x0, ly = y - s.y0;
  lx = lx < 0 ? 0 : (lx >= s.width ? s.width - 1 : lx);
  ly = ly < 0 ? 0 : (ly >= s.height ? s.height - 1 : ly);
  return s.data + ly * s.stride + lx * 3;
}

// Keys cubic convolution (a = -0.5), as GDAL's and OpenCV's bicubic.
ALINIFY_HD inline void cubic_weights(float t, float w[4]) {
  const float a = -0.5f;
  float t1 = t + 1.f, t2 = t, t3 = 1.f - t;
  w[0] = ((a * t1 - 5.f * a) * t1 + 8.f * a) * t1 - 4.f * a;
  w[1] = ((a + 2.f) * t2 - (a + 3.f)) * t2 * t2 + 1.f;
  w[2] = ((a + 2.f) * t3 - (a + 3.f)) * t3 * t3 + 1.f;
  w[3] = 1.f - w[0] - w[1] - w[2];
}

// The filters, over a tap accessor: taps(i, j) is the RGB pixel (ix + i, iy + j). Both accessors
// below feed the same arithmetic in the same order, so they give the same bytes.
template <class Taps>
ALINIFY_HD inline void filter_rgb(const Taps& taps, Interp interp, float tx, float ty, uint8_t* out) {
  if (interp == Interp::kBilinear) {
    const uint8_t* p00 = taps(0, 0);
    const uint8_t* p10 = taps(1, 0);
    const uint8_t* p01 = taps(0, 1);
    const uint8_t* p11 = taps(1, 1);
    for (int c = 0; c < 3; ++c) {
      float top = p00[c] + tx * (static_cast<float>(p10[c]) - p00[c]);
      float bot = p01[c] + tx * (static_cast<float>(p11[c]) - p01[c]);
      out[c] = clamp_round(top + ty * (bot - top));
    }
    return;
  }
  float wx[4], wy[4];
  cubic_weights(tx, wx);
  cubic_weights(ty, wy);
  float acc[3] = {0.f, 0.f, 0.f};
  for (int j = 0; j < 4; ++j) {
    float row[3] = {0.f, 0.f, 0.f};
    for (int i = 0; i < 4; ++i) {
      const uint8_t* p = taps(i - 1, j - 1);
      row[0] += wx[i] * p[0];
      row[1] += wx[i] * p[1];
      row[2] += wx[i] * p[2];
    }
    acc[0] += wy[j] * row[0];
    acc[1] += wy[j] * row[1];
    acc[2] += wy[j] * row[2];
  }
  out[0] = clamp_round(acc[0]);
  out[1] = clamp_round(acc[1]);
  out[2] = clamp_round(acc[2]);
}

// Taps through pixel_at's clamps: the general case (a footprint across the scan's or window's edge).
struct ClampedTaps {
  const SourceView& s;
  int64_t ix, iy;
  ALINIFY_HD const uint8_t* operator()(int i, int j) const { return pixel_at(s, ix + i, iy + j); }
};

// Taps straight from the rows: for a footprint inside the scan and the window, where the clamps
// are identities.
struct DirectTaps {
  const uint8_t* p;  // pixel (ix, iy)
  int64_t stride;
  ALINIFY_HD const uint8_t* operator()(int i, int j) const { return p + j * stride + i * 3; }
};

// Where the scan has data: inside it, or within half a pixel of its edge (NaN is outside).
ALINIFY_HD inline bool inside_scan(const SourceView& s, double x, double y) {
  return x >= -0.5 && y >= -0.5 && x <= s.scan_w - 0.5 && y <= s.scan_h - 0.5;
}

ALINIFY_HD inline void put_rgb(uint8_t* out, Rgb colour) {
  out[0] = colour.r;
  out[1] = colour.g;
  out[2] = colour.b;
}

// The filter at a position inside the scan, every tap through the clamps.
ALINIFY_HD inline void filter_clamped(const SourceView& s, double x, double y, Interp interp, uint8_t* out) {
  if (interp == Interp::kNearest) {
    const uint8_t* p = pixel_at(s, static_cast<int64_t>(floor(x + 0.5)), static_cast<int64_t>(floor(y + 0.5)));
    out[0] = p[0];
    out[1] = p[1];
    out[2] = p[2];
    return;
  }
  const double fx = floor(x), fy = floor(y);
  filter_rgb(ClampedTaps{s, static_cast<int64_t>(fx), static_cast<int64_t>(fy)}, interp, static_cast<float>(x - fx),
             static_cast<float>(y - fy), out);
}

// Whether the footprint of a filter at pixel (ix, iy) lies inside the scan and the window, where
// pixel_at's clamps are identities.
ALINIFY_HD inline bool footprint_inside(const SourceView& s, int64_t ix, int64_t iy, Interp interp) {
  const int64_t lo = interp == Interp::kBicubic ? 1 : 0, hi = interp == Interp::kBicubic ? 2 : 1;
  return ix - lo >= 0 && iy - lo >= 0 && ix + hi < s.scan_w && iy + hi < s.scan_h && ix - lo >= s.x0 &&
         iy - lo >= s.y0 && ix + hi < s.x0 + s.width && iy + hi < s.y0 + s.height;
}

// Writes the RGB sample at scan position (x, y) to out[0..2], every tap through the clamps.
// sample_rgb below is the one to call; this one is public so that a test can hold the two to the
// same bytes.
ALINIFY_HD inline void sample_rgb_clamped(const SourceView& s, double x, double y, Interp interp, Rgb fill,
                                          uint8_t* out) {
  if (!inside_scan(s, x, y)) {
    put_rgb(out, fill);
    return;
  }
  filter_clamped(s, x, y, interp, out);
}

// Writes the RGB sample at scan position (x, y) to out[0..2]. When the filter's whole footprint lies
// inside the scan and the window (all but a border of each block), the taps are read straight from
// the rows: the same bytes as sample_rgb_clamped, in less time (bench/README.md).
ALINIFY_HD inline void sample_rgb(const SourceView& s, double x, double y, Interp interp, Rgb fill, uint8_t* out) {
  if (!inside_scan(s, x, y)) {
    put_rgb(out, fill);
    return;
  }
  if (interp != Interp::kNearest) {
    const double fx = floor(x), fy = floor(y);
    const int64_t ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy);
    if (footprint_inside(s, ix, iy, interp)) {
      filter_rgb(DirectTaps{s.data + (iy - s.y0) * s.stride + (ix - s.x0) * 3, s.stride}, interp,
                 static_cast<float>(x - fx), static_cast<float>(y - fy), out);
      return;
    }
  }
  filter_clamped(s, x, y, interp, out);
}

// Filter radius in source pixels beyond the sample position (window margin).
ALINIFY_HD inline int interp_radius(Interp interp) { return interp == Interp::kBicubic ? 2 : 1; }

}  // namespace alinify::warp
