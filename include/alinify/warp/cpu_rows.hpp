#pragma once
// One output row of the CPU's lattice warp: sample_rgb_fixed (fixed_taps.hpp) at each of the row's
// scan positions. Where the CPU has SSE4.1, bilinear and bicubic pixels whose footprint lies inside
// the window are filtered with 128-bit integer SIMD (the taps of a row are 12 contiguous bytes:
// one shuffle puts them in channel pairs, one multiply-add per pair of taps): the same integer
// sums and roundings, so the same bytes as the scalar filter and as CUDA (a unit test holds them
// equal). Elsewhere, and for nearest, the scalar filter.
#include <cstdint>

#include "alinify/warp/fixed_taps.hpp"

namespace alinify::warp {

// Writes width pixels (RGB) to row from their scan positions q.
void sample_row_fixed(const SourceView& s, const FixedPoint* q, int64_t width, Interp interp, Rgb fill, uint8_t* row);

// The same, scalar only (the reference the test compares with).
void sample_row_fixed_scalar(const SourceView& s, const FixedPoint* q, int64_t width, Interp interp, Rgb fill,
                             uint8_t* row);

// Whether sample_row_fixed takes the SIMD path on this CPU.
bool simd_taps_available();

}  // namespace alinify::warp
