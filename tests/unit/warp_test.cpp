#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/transform/transform.hpp"
#include "alinify/warp/backend.hpp"
#include "alinify/warp/cpu_backend.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;
using namespace alinify::warp;

namespace {

using alinify::test::affine;

struct Image {
  int64_t w, h;
  std::vector<uint8_t> rgb;
  uint8_t at(int64_t x, int64_t y, int c) const { return rgb[(y * w + x) * 3 + c]; }
};

Image random_image(int64_t w, int64_t h, unsigned seed) {
  Image im{w, h, std::vector<uint8_t>(w * h * 3)};
  std::mt19937 rng(seed);
  // Smooth-ish content plus noise so interpolation errors show.
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.rgb[(y * w + x) * 3 + c] =
            static_cast<uint8_t>(127 + 100 * std::sin(0.13 * x + 0.07 * y + c) + (rng() % 21) - 10);
  return im;
}

transform::Transform with_bspline(transform::Transform t) {
  transform::Stage s;
  s.kind = transform::StageKind::kBSpline;
  auto& b = s.bspline;
  b.size[0] = 8;
  b.size[1] = 7;
  b.spacing[0] = b.spacing[1] = 16;
  b.origin[0] = b.origin[1] = -24;
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  for (int i = 0; i < 56; ++i) {
    b.coef_x.push_back(u(rng));
    b.coef_y.push_back(u(rng));
  }
  t.stages.push_back(s);
  return t;
}

// Warps the whole output in one block from the whole scan (no windowing).
std::vector<uint8_t> warp_whole(const transform::Transform& t, const Image& scan, int64_t ow, int64_t oh,
                                Interp interp) {
  CpuBackend be;
  be.set_transform(t);
  std::vector<uint8_t> out(ow * oh * 3);
  SourceView sv{scan.rgb.data(), 0, 0, scan.w, scan.h, scan.w * 3, scan.w, scan.h};
  OutputBlock ob{out.data(), 0, 0, ow, oh, ow * 3};
  WarpSettings s;
  s.interp = interp;
  s.fill = {7, 8, 9};
  be.warp(sv, ob, s);
  return out;
}

// Reference bilinear written independently: double arithmetic straight from the definition.
double reference_bilinear(const Image& im, double x, double y, int c) {
  auto px = [&](int64_t xi, int64_t yi) {
    xi = std::clamp<int64_t>(xi, 0, im.w - 1);
    yi = std::clamp<int64_t>(yi, 0, im.h - 1);
    return static_cast<double>(im.at(xi, yi, c));
  };
  int64_t x0 = static_cast<int64_t>(std::floor(x)), y0 = static_cast<int64_t>(std::floor(y));
  double fx = x - x0, fy = y - y0;
  return (1 - fx) * (1 - fy) * px(x0, y0) + fx * (1 - fy) * px(x0 + 1, y0) + (1 - fx) * fy * px(x0, y0 + 1) +
         fx * fy * px(x0 + 1, y0 + 1);
}

}  // namespace

TEST(Warp, IdentityIsAnExactCopyForEveryInterpolation) {
  Image im = random_image(70, 50, 1);
  for (Interp i : {Interp::kNearest, Interp::kBilinear, Interp::kBicubic})
    EXPECT_EQ(warp_whole(affine(1, 0, 0, 1, 0, 0), im, 70, 50, i), im.rgb) << interp_name(i);
}

TEST(Warp, IntegerShiftMovesPixelsAndFillsOutside) {
  Image im = random_image(40, 30, 2);
  auto out = warp_whole(affine(1, 0, 0, 1, 5, -3), im, 40, 30, Interp::kBicubic);
  for (int64_t y = 0; y < 30; ++y)
    for (int64_t x = 0; x < 40; ++x)
      for (int c = 0; c < 3; ++c) {
        int64_t sx = x + 5, sy = y - 3;
        uint8_t expect = (sx < 40 && sy >= 0) ? im.at(sx, sy, c) : static_cast<uint8_t>(7 + c);
        ASSERT_EQ(out[(y * 40 + x) * 3 + c], expect) << x << "," << y;
      }
}

TEST(Warp, BilinearMatchesAnIndependentReference) {
  Image im = random_image(90, 80, 3);
  auto t = affine(0.97, 0.12, -0.1, 1.03, 3.3, 1.7);
  auto out = warp_whole(t, im, 80, 70, Interp::kBilinear);
  int worst = 0;
  for (int64_t y = 0; y < 70; ++y)
    for (int64_t x = 0; x < 80; ++x) {
      Vec2 q = t.apply({double(x), double(y)});
      if (q.x < 0 || q.y < 0 || q.x > 89 || q.y > 79) continue;
      for (int c = 0; c < 3; ++c) {
        int ref = static_cast<int>(std::lround(reference_bilinear(im, q.x, q.y, c)));
        worst = std::max(worst, std::abs(ref - out[(y * 80 + x) * 3 + c]));
      }
    }
  EXPECT_LE(worst, 1);  // float weights vs double reference: at most one grey level
}

TEST(Warp, WindowedWarpEqualsWholeImageWarp) {
  // Reading only the source window a block needs must not change a single pixel.
  Image im = random_image(160, 120, 4);
  auto t = with_bspline(affine(0.99, 0.05, -0.04, 1.01, 2.5, -1.5));
  for (Interp interp : {Interp::kBilinear, Interp::kBicubic}) {
    auto whole = warp_whole(t, im, 150, 110, interp);
    CpuBackend be;
    be.set_transform(t);
    std::vector<uint8_t> out(150 * 110 * 3, 0);
    WarpSettings s;
    s.interp = interp;
    s.fill = {7, 8, 9};
    for (int64_t by = 0; by < 110; by += 32)
      for (int64_t bx = 0; bx < 150; bx += 48) {
        Window b{bx, by, std::min<int64_t>(48, 150 - bx), std::min<int64_t>(32, 110 - by)};
        Window src = source_window(t, b, {160, 120}, interp);
        std::vector<uint8_t> win(src.width * src.height * 3);
        for (int64_t y = 0; y < src.height; ++y)
          std::copy_n(&im.rgb[((src.y0 + y) * 160 + src.x0) * 3], src.width * 3, &win[y * src.width * 3]);
        SourceView sv{win.data(), src.x0, src.y0, src.width, src.height, src.width * 3, 160, 120};
        OutputBlock ob{out.data() + (by * 150 + bx) * 3, bx, by, b.width, b.height, 150 * 3};
        be.warp(sv, ob, s);
      }
    EXPECT_EQ(out, whole) << interp_name(interp);
  }
}

// The direct-read path of sample_rgb must give the bytes of the clamped general path everywhere:
// inside, on every edge of the scan and of a window that is smaller than the scan, and outside.
TEST(Warp, DirectTapsEqualClampedTapsInsideAndOnEveryEdge) {
  const Image im = random_image(40, 30, 7);
  const int64_t x0 = 5, y0 = 4, ww = 30, wh = 22;  // a window inside the scan
  std::vector<uint8_t> win(ww * wh * 3);
  for (int64_t y = 0; y < wh; ++y)
    for (int64_t x = 0; x < ww * 3; ++x) win[y * ww * 3 + x] = im.rgb[((y + y0) * im.w) * 3 + x0 * 3 + x];
  const SourceView whole{im.rgb.data(), 0, 0, im.w, im.h, im.w * 3, im.w, im.h};
  const SourceView part{win.data(), x0, y0, ww, wh, ww * 3, im.w, im.h};
  const Rgb fill{1, 2, 3};
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> ux(-2.0, im.w + 1.0), uy(-2.0, im.h + 1.0);
  int64_t direct = 0;
  for (Interp interp : {Interp::kNearest, Interp::kBilinear, Interp::kBicubic})
    for (const SourceView& sv : {whole, part})
      for (int k = 0; k < 20000; ++k) {
        const double x = ux(rng), y = uy(rng);
        uint8_t a[3], b[3];
        sample_rgb(sv, x, y, interp, fill, a);
        sample_rgb_clamped(sv, x, y, interp, fill, b);
        ASSERT_TRUE(a[0] == b[0] && a[1] == b[1] && a[2] == b[2])
            << interp_name(interp) << " at (" << x << ", " << y << ") window x0=" << sv.x0;
        direct += x > sv.x0 + 2 && x < sv.x0 + sv.width - 3 && y > sv.y0 + 2 && y < sv.y0 + sv.height - 3;
      }
  EXPECT_GT(direct, 10000);  // most samples took the direct path: the comparison means something
}

TEST(Warp, SourceWindowIsEmptyWhenTheBlockMapsOutside) {
  auto t = affine(1, 0, 0, 1, 10000, 0);
  EXPECT_TRUE(source_window(t, {0, 0, 64, 64}, {100, 100}, Interp::kBilinear).empty());
}

TEST(Warp, ParsesInterpolationNames) {
  EXPECT_EQ(parse_interp("bicubic"), Interp::kBicubic);
  EXPECT_THROW(parse_interp("lanczos"), alinify::Error);
  EXPECT_EQ(parse_backend("torch"), BackendKind::kTorch);
  EXPECT_THROW(parse_backend("opencl"), alinify::Error);
  BackendRequest r;
  r.kind = BackendKind::kCpu;
  EXPECT_EQ(make_backend(r)->name().rfind("cpu", 0), 0u);
}
