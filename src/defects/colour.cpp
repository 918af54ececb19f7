#include "alinify/defects/colour.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "alinify/core/vector_clones.hpp"

namespace alinify::defects {
namespace {

constexpr double kPi = 3.14159265358979323846;

// D65 white in XYZ for sRGB's matrix (Y = 1).
constexpr double kXn = 0.95047, kYn = 1.0, kZn = 1.08883;

double linear_exact(double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); }

// The sRGB decoding on a 1/16-level table, interpolated linearly: the defect map converts millions
// of colours a strip, and std::pow was most of its time. The curve is smooth, so the table is
// within 1e-6 of the formula.
constexpr int kSteps = 16;
const std::array<double, 255 * kSteps + 2>& linear_table() {
  static const std::array<double, 255 * kSteps + 2> table = [] {
    std::array<double, 255 * kSteps + 2> t{};
    for (size_t i = 0; i < t.size(); ++i) t[i] = linear_exact(std::min(1.0, static_cast<double>(i) / (255.0 * kSteps)));
    return t;
  }();
  return table;
}

double linear(double v255) {
  const double p = std::clamp(v255, 0.0, 255.0) * kSteps;
  const auto i = static_cast<size_t>(p);
  const double f = p - static_cast<double>(i);
  const auto& t = linear_table();
  return t[i] + f * (t[i + 1] - t[i]);
}

double lab_f(double t) {
  constexpr double d = 6.0 / 29.0;
  return t > d * d * d ? cube_root(t) : t / (3 * d * d) + 4.0 / 29.0;
}

double degrees(double rad) { return rad * 180.0 / kPi; }
double radians(double deg) { return deg * kPi / 180.0; }

}  // namespace

namespace {

// The cube root of t > 0: a first guess from the exponent bits (the bits divided by 3 plus a
// constant; within about 5 %), then two Halley steps, each cubing the relative error. Bits is the
// unsigned integer of Real's size, kGuess the constant for that format (double: about 1e-13 after
// the second step; float: float precision, FreeBSD's cbrtf constant). Bit casts and a division by 3
// that GCC vectorises, unlike cbrt and cbrtf.
template <typename Real, typename Bits, Bits kGuess>
inline Real halley_cube_root(Real t) {
  Bits bits;
  std::memcpy(&bits, &t, sizeof bits);
  bits = bits / 3 + kGuess;
  Real y;
  std::memcpy(&y, &bits, sizeof y);
  for (int k = 0; k < 2; ++k) {
    const Real y3 = y * y * y;
    y *= (y3 + 2 * t) / (2 * y3 + t);
  }
  return y;
}

}  // namespace

double cube_root(double t) { return halley_cube_root<double, uint64_t, 0x2A9F7893782DA1CEull>(t); }

Lab srgb_to_lab(double r, double g, double b) {
  const double rl = linear(r), gl = linear(g), bl = linear(b);
  const double x = 0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl;
  const double y = 0.2126729 * rl + 0.7151522 * gl + 0.0721750 * bl;
  const double z = 0.0193339 * rl + 0.1191920 * gl + 0.9503041 * bl;
  const double fx = lab_f(x / kXn), fy = lab_f(y / kYn), fz = lab_f(z / kZn);
  return Lab{116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)};
}

double delta_e76(const Lab& x, const Lab& y) {
  const double dl = x.L - y.L, da = x.a - y.a, db = x.b - y.b;
  return std::sqrt(dl * dl + da * da + db * db);
}

std::vector<float> linear_light_of_sums(int32_t parts) {
  std::vector<float> t(static_cast<size_t>(255 * parts + 1));
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(linear(static_cast<double>(i) / parts));
  return t;
}

namespace {

inline float lab_f_float(float t) {
  constexpr float d = 6.0f / 29.0f;
  // Both sides computed, one kept: a select, not a branch, in the vectorised loop.
  // Both sides computed and one kept by a bit mask: with a conditional, GCC moves the cube root into
  // a branch (its divisions may trap, -ftrapping-math) and the loop stays scalar. The comparison is
  // on the bits: t >= 0, so they order as the values.
  const float c = halley_cube_root<float, uint32_t, 709958130u>(t), l = t * (1.0f / (3 * d * d)) + 4.0f / 29.0f;
  const uint32_t keep_c = std::bit_cast<int32_t>(t) > std::bit_cast<int32_t>(d * d * d) ? ~0u : 0u;
  return std::bit_cast<float>((std::bit_cast<uint32_t>(c) & keep_c) | (std::bit_cast<uint32_t>(l) & ~keep_c));
}

struct LabF {
  float L, a, b;
};

inline LabF lab_of_linear(float r, float g, float b) {
  const float x = 0.4124564f * r + 0.3575761f * g + 0.1804375f * b;
  const float y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
  const float z = 0.0193339f * r + 0.1191920f * g + 0.9503041f * b;
  const float fx = lab_f_float(x * static_cast<float>(1 / kXn)), fy = lab_f_float(y * static_cast<float>(1 / kYn)),
              fz = lab_f_float(z * static_cast<float>(1 / kZn));
  return LabF{116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)};
}

ALINIFY_VECTOR_CLONES
void delta_e76_linear_kernel(const float* __restrict r1, const float* __restrict g1, const float* __restrict b1,
                             const float* __restrict r2, const float* __restrict g2, const float* __restrict b2,
                             int64_t n, float* __restrict de, float* __restrict dl) {
  for (int64_t i = 0; i < n; ++i) {
    const LabF p = lab_of_linear(r1[i], g1[i], b1[i]), q = lab_of_linear(r2[i], g2[i], b2[i]);
    const float l = p.L - q.L, a = p.a - q.a, b = p.b - q.b;
    de[i] = l * l + a * a + b * b;  // squared: std::sqrt's errno path would keep the loop scalar
    dl[i] = l;
  }
}

}  // namespace

void delta_e76_linear(const float* const lin[6], int64_t n, float* de, float* dl) {
  delta_e76_linear_kernel(lin[0], lin[1], lin[2], lin[3], lin[4], lin[5], n, de, dl);
  for (int64_t i = 0; i < n; ++i) de[i] = std::sqrt(de[i]);
}

double delta_e2000(const Lab& p, const Lab& q) {
  const double c1 = std::hypot(p.a, p.b), c2 = std::hypot(q.a, q.b);
  const double cbar = 0.5 * (c1 + c2);
  const double cbar7 = std::pow(cbar, 7);
  const double g = 0.5 * (1 - std::sqrt(cbar7 / (cbar7 + std::pow(25.0, 7))));
  const double a1 = (1 + g) * p.a, a2 = (1 + g) * q.a;
  const double c1p = std::hypot(a1, p.b), c2p = std::hypot(a2, q.b);
  // Hue angles in degrees, 0..360; 0 for a colour without chroma (Sharma's eq. 4).
  const auto hue = [](double b, double a) {
    if (a == 0 && b == 0) return 0.0;
    double h = degrees(std::atan2(b, a));
    return h < 0 ? h + 360 : h;
  };
  const double h1 = hue(p.b, a1), h2 = hue(q.b, a2);
  const double dlp = q.L - p.L, dcp = c2p - c1p;
  double dhp = 0;
  if (c1p * c2p != 0) {
    dhp = h2 - h1;
    if (dhp > 180)
      dhp -= 360;
    else if (dhp < -180)
      dhp += 360;
  }
  const double dHp = 2 * std::sqrt(c1p * c2p) * std::sin(radians(dhp / 2));
  const double lbar = 0.5 * (p.L + q.L), cbarp = 0.5 * (c1p + c2p);
  double hbar = h1 + h2;
  if (c1p * c2p != 0) {
    if (std::abs(h1 - h2) <= 180)
      hbar = 0.5 * (h1 + h2);
    else if (h1 + h2 < 360)
      hbar = 0.5 * (h1 + h2 + 360);
    else
      hbar = 0.5 * (h1 + h2 - 360);
  }
  const double t = 1 - 0.17 * std::cos(radians(hbar - 30)) + 0.24 * std::cos(radians(2 * hbar)) +
                   0.32 * std::cos(radians(3 * hbar + 6)) - 0.20 * std::cos(radians(4 * hbar - 63));
  const double dtheta = 30 * std::exp(-std::pow((hbar - 275) / 25, 2));
  const double cbarp7 = std::pow(cbarp, 7);
  const double rc = 2 * std::sqrt(cbarp7 / (cbarp7 + std::pow(25.0, 7)));
  const double l50 = (lbar - 50) * (lbar - 50);
  const double sl = 1 + 0.015 * l50 / std::sqrt(20 + l50);
  const double sc = 1 + 0.045 * cbarp;
  const double sh = 1 + 0.015 * cbarp * t;
  const double rt = -std::sin(radians(2 * dtheta)) * rc;
  const double tl = dlp / sl, tc = dcp / sc, th = dHp / sh;
  return std::sqrt(tl * tl + tc * tc + th * th + rt * tc * th);
}

}  // namespace alinify::defects
