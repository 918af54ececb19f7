// The CPU must round exactly as the GPU does, and nvcc runs with --fmad=false: a compiler that
// fused a multiply and an add in the shared math (-march with FMA and no -ffp-contract=off) would
// change some output bytes. This case is one where fusing does change the byte.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "alinify/warp/backend.hpp"
#include "alinify/warp/cpu_backend.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;
using namespace alinify::warp;

namespace {

// Bilinear between grey 1 and grey 11, at a fraction just under 3/4: the exact value is just under
// 8.5. Rounding the product first gives 8.5 (byte 9); a fused multiply-add keeps it under (byte 8).
constexpr float kFraction = 0x1.7ffffep-1f;
constexpr uint8_t kLeft = 1, kRight = 11;

// The filter's arithmetic written out with every product rounded on its own.
uint8_t unfused_reference() {
  volatile float product = kFraction * (static_cast<float>(kRight) - kLeft);
  return clamp_round(kLeft + product);
}

// A 4x2 grey scan whose pixels 1 and 2 of the top row are kLeft and kRight.
std::vector<uint8_t> scan_pixels() {
  std::vector<uint8_t> rgb(4 * 2 * 3, 0);
  for (int c = 0; c < 3; ++c) {
    rgb[1 * 3 + c] = kLeft;
    rgb[2 * 3 + c] = kRight;
  }
  return rgb;
}

}  // namespace

TEST(WarpRounding, TheCaseIsOneWhereFusingChangesTheByte) {
  const float fused = std::fmaf(kFraction, static_cast<float>(kRight) - kLeft, static_cast<float>(kLeft));
  EXPECT_EQ(unfused_reference(), 9);
  EXPECT_EQ(clamp_round(fused), 8);
}

TEST(WarpRounding, SampleRoundsEveryProductOnItsOwn) {
  const std::vector<uint8_t> rgb = scan_pixels();
  const SourceView scan{rgb.data(), 0, 0, 4, 2, 4 * 3, 4, 2};
  uint8_t out[3];
  sample_rgb(scan, 1.0 + kFraction, 0.0, Interp::kBilinear, Rgb{}, out);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(out[c], unfused_reference()) << "channel " << c;
}

TEST(WarpRounding, CpuBackendRoundsEveryProductOnItsOwn) {
  const std::vector<uint8_t> rgb = scan_pixels();
  CpuBackend backend;
  backend.set_transform(test::affine(1, 0, 0, 1, 1.0 + kFraction, 0));
  uint8_t out[3] = {0, 0, 0};
  WarpSettings settings;
  settings.interp = Interp::kBilinear;
  settings.exact = true;  // the float path (--exact); the lattice path's taps are integer (fixed_taps.hpp)
  backend.warp({rgb.data(), 0, 0, 4, 2, 4 * 3, 4, 2}, {out, 0, 0, 1, 1, 3}, settings);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(out[c], unfused_reference()) << "channel " << c;
}
