#pragma once
// The filters of the lattice path in integer arithmetic (ALINIFY_HD), as OpenCV's remap does with
// fixed-point maps: the sample position is rounded to 1/256 px (kTapBits; OpenCV uses 1/32), the
// weights are integers, the taps are summed in int32 and rounded once. No float conversion per tap,
// and integers round the same on every compiler, so CPU and CUDA agree without care for FMA.
// interpolate.hpp keeps the float filters for --exact (the bytes of earlier releases).
#include <stdint.h>

#include "alinify/core/hd.hpp"
#include "alinify/warp/interpolate.hpp"
#include "alinify/warp/lattice.hpp"

namespace alinify::warp {

constexpr int kTapBits = 8;  // sub-pixel steps of 1/256 px: rounding moves a sample by at most 1/512 px
constexpr int32_t kTapOne = 1 << kTapBits;
constexpr int kCubicBits = 14;  // Keys weights in 1/16384: at most 3/32768 off each, summing exactly to one

// Keys cubic convolution (a = -0.5) at t = f / 256, exactly: 2 * 256^3 * w is an integer polynomial
// in f; rounded to kCubicBits, the last weight takes what makes the sum exactly one.
ALINIFY_HD inline void cubic_weights_fixed(int32_t f, int32_t w[4]) {
  const int64_t t = f, t2 = t * t, t3 = t2 * t, one = kTapOne, one2 = one * one;
  constexpr int shift = 3 * kTapBits + 1 - kCubicBits;  // from 2^25 down to 2^14
  constexpr int64_t half = int64_t{1} << (shift - 1);
  w[0] = static_cast<int32_t>((-t3 + 2 * one * t2 - one2 * t + half) >> shift);
  w[1] = static_cast<int32_t>((3 * t3 - 5 * one * t2 + 2 * one2 * one + half) >> shift);
  w[2] = static_cast<int32_t>((-3 * t3 + 4 * one * t2 + one2 * t + half) >> shift);
  w[3] = (1 << kCubicBits) - w[0] - w[1] - w[2];
}

ALINIFY_HD inline uint8_t clamp_byte(int32_t v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// The filters over a tap accessor (ClampedTaps or DirectTaps of interpolate.hpp); fx, fy in
// [0, 256) are the position's fraction beyond pixel (ix, iy).
template <class Taps>
ALINIFY_HD inline void filter_rgb_fixed(const Taps& taps, Interp interp, int32_t fx, int32_t fy, uint8_t* out) {
  if (interp == Interp::kBilinear) {
    const uint8_t *p00 = taps(0, 0), *p10 = taps(1, 0), *p01 = taps(0, 1), *p11 = taps(1, 1);
    for (int c = 0; c < 3; ++c) {
      const int32_t top = p00[c] * kTapOne + fx * (p10[c] - p00[c]);
      const int32_t bot = p01[c] * kTapOne + fx * (p11[c] - p01[c]);
      out[c] = static_cast<uint8_t>((top * kTapOne + fy * (bot - top) + (1 << (2 * kTapBits - 1))) >> (2 * kTapBits));
    }
    return;
  }
  int32_t wx[4], wy[4];
  cubic_weights_fixed(fx, wx);
  cubic_weights_fixed(fy, wy);
  // Rows in 1/2^14 grey, brought to 1/2^8 before the vertical pass so that the sum fits int32
  // (255 * 1.14 * 2^8 * 1.14 * 2^14 < 2^31; 1.14 is the largest sum of |weights|).
  constexpr int kRowShift = kCubicBits - 8;
  int32_t acc[3] = {0, 0, 0};
  for (int j = 0; j < 4; ++j) {
    int32_t row[3] = {0, 0, 0};
    for (int i = 0; i < 4; ++i) {
      const uint8_t* p = taps(i - 1, j - 1);
      row[0] += wx[i] * p[0];
      row[1] += wx[i] * p[1];
      row[2] += wx[i] * p[2];
    }
    for (int c = 0; c < 3; ++c) acc[c] += wy[j] * ((row[c] + (1 << (kRowShift - 1))) >> kRowShift);
  }
  constexpr int kOutShift = 8 + kCubicBits;
  for (int c = 0; c < 3; ++c) out[c] = clamp_byte((acc[c] + (1 << (kOutShift - 1))) >> kOutShift);
}

// Where the scan has data, in fixed point: inside it or within half a pixel of its edge.
ALINIFY_HD inline bool inside_scan_fixed(const SourceView& s, FixedPoint q) {
  const int64_t half = kFracOne / 2;
  return q.x >= -half && q.y >= -half && q.x <= s.scan_w * kFracOne - half && q.y <= s.scan_h * kFracOne - half;
}

// A scan position's whole pixel and 1/256 fraction (rounded to nearest): the taps' origin and the
// filters' weights. One rounding for the scalar filter below, CUDA and the CPU's SIMD rows.
struct TapPosition {
  int64_t ix, iy;
  int32_t fx, fy;
};
ALINIFY_HD inline TapPosition tap_position(FixedPoint q) {
  constexpr int kDrop = kFracBits - kTapBits;
  const int64_t rx = (q.x + (int64_t{1} << (kDrop - 1))) >> kDrop, ry = (q.y + (int64_t{1} << (kDrop - 1))) >> kDrop;
  return TapPosition{rx >> kTapBits, ry >> kTapBits, static_cast<int32_t>(rx & (kTapOne - 1)),
                     static_cast<int32_t>(ry & (kTapOne - 1))};
}

// Writes the RGB sample at scan position q (fixed point) to out[0..2]: sample_rgb's rules (fill
// outside, edge replication, direct taps where the footprint is inside) with integer filters.
ALINIFY_HD inline void sample_rgb_fixed(const SourceView& s, FixedPoint q, Interp interp, Rgb fill, uint8_t* out) {
  if (!inside_scan_fixed(s, q)) {
    put_rgb(out, fill);
    return;
  }
  if (interp == Interp::kNearest) {
    const uint8_t* p = pixel_at(s, (q.x + kFracOne / 2) >> kFracBits, (q.y + kFracOne / 2) >> kFracBits);
    put_rgb(out, Rgb{p[0], p[1], p[2]});
    return;
  }
  const TapPosition t = tap_position(q);
  if (footprint_inside(s, t.ix, t.iy, interp))
    filter_rgb_fixed(DirectTaps{s.data + (t.iy - s.y0) * s.stride + (t.ix - s.x0) * 3, s.stride}, interp, t.fx, t.fy,
                     out);
  else
    filter_rgb_fixed(ClampedTaps{s, t.ix, t.iy}, interp, t.fx, t.fy, out);
}

}  // namespace alinify::warp
