// The CPU warp's row sampler (cpu_rows.hpp). The SIMD filters are written with SSE4.1 intrinsics in
// functions compiled for that target alone and chosen at run time (__builtin_cpu_supports), so the
// binary still runs on the x86-64 baseline. Why intrinsics and not the compiler's vectoriser: the
// vector runs across one pixel's taps and channels (a gather of 4 x 12 bytes at a position that
// changes from pixel to pixel), which no vectoriser finds in the scalar loops.
#include "alinify/warp/cpu_rows.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ALINIFY_SSE41_TAPS 1
#include <immintrin.h>
#endif

namespace alinify::warp {

namespace {

// The Keys weights of every sub-pixel step, once (cubic_weights_fixed's values, tabulated).
struct CubicTable {
  std::array<std::array<int32_t, 4>, kTapOne> w;
  CubicTable() {
    for (int32_t f = 0; f < kTapOne; ++f) cubic_weights_fixed(f, w[static_cast<size_t>(f)].data());
  }
};
const CubicTable& cubic_table() {
  static const CubicTable table;
  return table;
}

#ifdef ALINIFY_SSE41_TAPS

// 12 and 6 bytes from p into the low bytes of a vector, read in register-sized pieces (no read past
// them: the last pixels of a window; no copy through memory: a 16-byte load of bytes just stored
// in pieces waits for the stores to retire).
__attribute__((target("sse4.1"))) inline __m128i load_12(const uint8_t* p) {
  int32_t tail;
  std::memcpy(&tail, p + 8, 4);
  return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_cvtsi32_si128(tail));
}
__attribute__((target("sse4.1"))) inline __m128i load_6(const uint8_t* p) {
  int32_t head;
  uint16_t tail;
  std::memcpy(&head, p, 4);
  std::memcpy(&tail, p + 4, 2);
  return _mm_insert_epi16(_mm_cvtsi32_si128(head), tail, 2);
}

// Three int32 lanes clamped to 0..255 and stored as 3 bytes.
__attribute__((target("sse4.1"))) inline void store_rgb(__m128i v, uint8_t* out) {
  const __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(v, v), _mm_setzero_si128());
  const int32_t word = _mm_cvtsi128_si32(bytes);
  std::memcpy(out, &word, 3);
}

// Bilinear: filter_rgb_fixed's top = p00 * (256 - fx) + p10 * fx (its p00 * 256 + fx * (p10 - p00),
// the same integer), bottom likewise, then (top * (256 - fy) + bottom * fy + 2^15) >> 16.
__attribute__((target("sse4.1"))) void bilinear_sse41(const uint8_t* p, int64_t stride, int32_t fx, int32_t fy,
                                                      uint8_t* out) {
  // Bytes R0 G0 B0 R1 G1 B1 -> int16 pairs (R0, R1), (G0, G1), (B0, B1).
  const __m128i pairs = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m128i wx =
      _mm_setr_epi16(static_cast<int16_t>(kTapOne - fx), static_cast<int16_t>(fx), static_cast<int16_t>(kTapOne - fx),
                     static_cast<int16_t>(fx), static_cast<int16_t>(kTapOne - fx), static_cast<int16_t>(fx), 0, 0);
  const __m128i top = _mm_madd_epi16(_mm_shuffle_epi8(load_6(p), pairs), wx);
  const __m128i bot = _mm_madd_epi16(_mm_shuffle_epi8(load_6(p + stride), pairs), wx);
  __m128i v =
      _mm_add_epi32(_mm_mullo_epi32(top, _mm_set1_epi32(kTapOne - fy)), _mm_mullo_epi32(bot, _mm_set1_epi32(fy)));
  v = _mm_srai_epi32(_mm_add_epi32(v, _mm_set1_epi32(1 << (2 * kTapBits - 1))), 2 * kTapBits);
  store_rgb(v, out);
}

// Bicubic: per tap row, the 12 bytes of pixels -1..2 as int16 pairs of neighbouring taps per channel,
// multiplied and added in pairs: the row's sums in 1/2^14 grey exactly as the scalar loop adds them;
// then filter_rgb_fixed's roundings (to 1/2^8 before the vertical pass, once at the end).
__attribute__((target("sse4.1"))) void bicubic_sse41(const uint8_t* p, int64_t stride, const int32_t* wx,
                                                     const int32_t* wy, uint8_t* out) {
  // Bytes of pixels -1, 0 -> (R-1, R0), (G-1, G0), (B-1, B0); of pixels 1, 2 -> (R1, R2), ...
  const __m128i near = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m128i far = _mm_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  const auto w16 = [](int32_t v) { return static_cast<int16_t>(v); };
  const __m128i w01 = _mm_setr_epi16(w16(wx[0]), w16(wx[1]), w16(wx[0]), w16(wx[1]), w16(wx[0]), w16(wx[1]), 0, 0);
  const __m128i w23 = _mm_setr_epi16(w16(wx[2]), w16(wx[3]), w16(wx[2]), w16(wx[3]), w16(wx[2]), w16(wx[3]), 0, 0);
  constexpr int kRowShift = kCubicBits - 8, kOutShift = 8 + kCubicBits;
  const __m128i row_half = _mm_set1_epi32(1 << (kRowShift - 1));
  __m128i acc = _mm_setzero_si128();
  const uint8_t* r = p - stride - 3;  // tap (-1, -1)
  for (int j = 0; j < 4; ++j, r += stride) {
    const __m128i taps = load_12(r);
    const __m128i row = _mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(taps, near), w01),
                                      _mm_madd_epi16(_mm_shuffle_epi8(taps, far), w23));
    const __m128i rounded = _mm_srai_epi32(_mm_add_epi32(row, row_half), kRowShift);
    acc = _mm_add_epi32(acc, _mm_mullo_epi32(rounded, _mm_set1_epi32(wy[j])));
  }
  store_rgb(_mm_srai_epi32(_mm_add_epi32(acc, _mm_set1_epi32(1 << (kOutShift - 1))), kOutShift), out);
}

__attribute__((target("sse4.1"))) void sample_row_sse41(const SourceView& s, const FixedPoint* q, int64_t width,
                                                        Interp interp, Rgb fill, uint8_t* row) {
  const CubicTable& cubic = cubic_table();
  for (int64_t i = 0; i < width; ++i) {
    uint8_t* out = row + i * 3;
    if (!inside_scan_fixed(s, q[i])) {
      put_rgb(out, fill);
      continue;
    }
    const TapPosition t = tap_position(q[i]);
    if (!footprint_inside(s, t.ix, t.iy, interp)) {
      sample_rgb_fixed(s, q[i], interp, fill, out);
      continue;
    }
    const uint8_t* p = s.data + (t.iy - s.y0) * s.stride + (t.ix - s.x0) * 3;
    if (interp == Interp::kBilinear)
      bilinear_sse41(p, s.stride, t.fx, t.fy, out);
    else
      bicubic_sse41(p, s.stride, cubic.w[static_cast<size_t>(t.fx)].data(), cubic.w[static_cast<size_t>(t.fy)].data(),
                    out);
  }
}

#endif  // ALINIFY_SSE41_TAPS

}  // namespace

bool simd_taps_available() {
#ifdef ALINIFY_SSE41_TAPS
  static const bool yes = __builtin_cpu_supports("sse4.1");
  return yes;
#else
  return false;
#endif
}

void sample_row_fixed_scalar(const SourceView& s, const FixedPoint* q, int64_t width, Interp interp, Rgb fill,
                             uint8_t* row) {
  for (int64_t i = 0; i < width; ++i) sample_rgb_fixed(s, q[i], interp, fill, row + i * 3);
}

void sample_row_fixed(const SourceView& s, const FixedPoint* q, int64_t width, Interp interp, Rgb fill, uint8_t* row) {
#ifdef ALINIFY_SSE41_TAPS
  if (interp != Interp::kNearest && simd_taps_available()) {
    sample_row_sse41(s, q, width, interp, fill, row);
    return;
  }
#endif
  sample_row_fixed_scalar(s, q, width, interp, fill, row);
}

}  // namespace alinify::warp
