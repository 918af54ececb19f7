// Block measurement (block_match.hpp): zero-mean windowed FFT cross-correlation, integer peak,
// matrix-DFT upsampling around it, confidence from texture, peak, second peak and two halves.
#include "alinify/reg/block_match.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>

#include "alinify/core/error.hpp"
#include "alinify/reg/coarse_align.hpp"

namespace alinify::reg::block {

namespace {

using coarse::Complex;
using coarse::ComplexVector;

// a * b in plain real arithmetic: std::complex's operator* goes through the library's NaN/Inf
// recovery (__muldc3) unless -ffast-math, which the project does not use; that made the
// upsampling several times slower. The values here are finite by construction.
Complex times(const Complex& a, const Complex& b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

// A rectangle of a block: columns [x0, x0 + w), all rows; its window moved by (ox, oy) px.
struct Part {
  int x0 = 0, w = 0, h = 0;
  int ox = 0, oy = 0;
  Part moved(int x, int y) const { return Part{x0, w, h, x, y}; }
};

// Hann window that never reaches zero (sampled at pixel centres): every pixel counts a little.
// Computed once per thread and length: a block takes up to six windowed parts.
const std::vector<double>& hann(int n) {
  thread_local std::vector<std::vector<double>> cache;
  if (cache.size() <= static_cast<size_t>(n)) cache.resize(static_cast<size_t>(n) + 1);
  std::vector<double>& w = cache[static_cast<size_t>(n)];
  if (w.empty()) {
    w.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) w[static_cast<size_t>(i)] = 0.5 - 0.5 * std::cos(2 * M_PI * (i + 0.5) / n);
  }
  return w;
}

// The window of a part along one axis: w(i - offset) at pixel i of [0, n), 0 where the moved
// window has left the part. The window at (x, y) is along_x[x] * along_y[y]: the same product of
// the same factors a per-pixel lookup makes, without its bounds checks in the inner loop.
void window_along(const std::vector<double>& w, int n, int offset, std::vector<double>& out) {
  out.assign(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < n; ++i) {
    const int k = i - offset;
    if (k >= 0 && k < n) out[static_cast<size_t>(i)] = w[static_cast<size_t>(k)];
  }
}

// The part, minus its windowed mean, times the window; `std_out` gets the windowed standard deviation.
ComplexVector windowed(const Block& b, const Part& part, double* std_out) {
  thread_local std::vector<double> along_x, along_y;
  window_along(hann(part.w), part.w, part.ox, along_x);
  window_along(hann(part.h), part.h, part.oy, along_y);
  double sw = 0, swv = 0, swvv = 0;
  for (int y = 0; y < part.h; ++y) {
    const float* row = &b.px[static_cast<size_t>(y) * b.size + part.x0];
    for (int x = 0; x < part.w; ++x) {
      const double w = along_x[static_cast<size_t>(x)] * along_y[static_cast<size_t>(y)], v = row[x];
      sw += w;
      swv += w * v;
      swvv += w * v * v;
    }
  }
  const double mean = swv / sw;
  if (std_out) *std_out = std::sqrt(std::max(0.0, swvv / sw - mean * mean));
  ComplexVector out(static_cast<size_t>(part.w) * part.h);
  for (int y = 0; y < part.h; ++y) {
    const float* row = &b.px[static_cast<size_t>(y) * b.size + part.x0];
    for (int x = 0; x < part.w; ++x)
      out[static_cast<size_t>(y) * part.w + x] =
          (row[x] - mean) * (along_x[static_cast<size_t>(x)] * along_y[static_cast<size_t>(y)]);
  }
  return out;
}

// The FFT of a windowed part, its windowed energy and (for the design) standard deviation.
struct Spectrum {
  ComplexVector f;
  double energy = 0, texture = 0;
};

Spectrum spectrum_of(const Block& b, const Part& part) {
  Spectrum s;
  s.f = windowed(b, part, &s.texture);
  for (const Complex& v : s.f) s.energy += std::norm(v);
  coarse::fft2d(s.f, part.w, part.h, false);
  return s;
}

// conj(FFT(design)) * FFT(scan), normalised so that its inverse is a correlation in -1..1.
struct Correlation {
  int w = 0, h = 0;
  ComplexVector spectrum;
  std::vector<double> cc;  // circular, cc[(sy mod h) * w + (sx mod w)]
  double at(int sx, int sy) const { return cc[static_cast<size_t>(((sy % h) + h) % h) * w + ((sx % w) + w) % w]; }
};

Correlation correlate(const Spectrum& d, const Spectrum& s, const Part& part) {
  Correlation c;
  c.w = part.w;
  c.h = part.h;
  const double norm = d.energy > 0 && s.energy > 0 ? 1.0 / std::sqrt(d.energy * s.energy) : 0.0;
  c.spectrum.resize(d.f.size());
  for (size_t i = 0; i < d.f.size(); ++i) c.spectrum[i] = times(std::conj(d.f[i]), s.f[i]) * norm;
  ComplexVector inv = c.spectrum;
  coarse::fft2d(inv, part.w, part.h, true);
  c.cc.resize(inv.size());
  for (size_t i = 0; i < inv.size(); ++i) c.cc[i] = inv[i].real();
  return c;
}

// The scan's window moved by the shift found so far: both windows then weigh the same content
// alike, and the pull of the windows toward zero shift (about 0.3 % of the shift with one window
// for both) is left only for the fraction of a pixel still to find. The design's spectrum is kept.
Correlation correlate_moved(const Spectrum& d, const Block& scan, const Part& part, int sx, int sy) {
  return correlate(d, spectrum_of(scan, part.moved(sx, sy)), part);
}

struct IntegerPeak {
  int sx = 0, sy = 0;
  double value = -2, second = -2;
};

bool local_max(const Correlation& c, int sx, int sy) {
  const double v = c.at(sx, sy);
  for (int j = -1; j <= 1; ++j)
    for (int i = -1; i <= 1; ++i)
      if ((i || j) && c.at(sx + i, sy + j) > v) return false;
  return true;
}

// The best shift within `radius` (Chebyshev), and the best other local maximum farther than two
// px from it (the main lobe's own flanks are no second peak).
IntegerPeak integer_peak(const Correlation& c, int radius, int cx = 0, int cy = 0) {
  IntegerPeak p;
  for (int sy = cy - radius; sy <= cy + radius; ++sy)
    for (int sx = cx - radius; sx <= cx + radius; ++sx)
      if (c.at(sx, sy) > p.value) {
        p.value = c.at(sx, sy);
        p.sx = sx;
        p.sy = sy;
      }
  for (int sy = cy - radius; sy <= cy + radius; ++sy)
    for (int sx = cx - radius; sx <= cx + radius; ++sx)
      if (std::max(std::abs(sx - p.sx), std::abs(sy - p.sy)) > 2 && c.at(sx, sy) > p.second && local_max(c, sx, sy))
        p.second = c.at(sx, sy);
  return p;
}

// Signed frequency of bin k of n.
double frequency(int k, int n) { return k <= n / 2 ? k : k - n; }

// Offset of a parabola's vertex through (-1, a), (0, b), (1, c), within half a step.
double vertex(double a, double b, double c) {
  const double den = a - 2 * b + c;
  return den < 0 ? std::clamp(0.5 * (a - c) / den, -0.5, 0.5) : 0.0;
}

// The upsampled grid reaches this far either side of the integer peak (px): the band-limited
// peak lies within half a pixel of the integer maximum, and the parabola below needs one grid
// step beyond it (the reference algorithm evaluates 1.5 px; 2 px cost a third more).
constexpr double kUpsampleReach = 0.75;

// e^{2 pi i f(k) (j - h) / (u n)} for j in [0, 2h], k in [0, n): the part of the matrix DFT's
// kernel that does not depend on the integer peak, computed once per thread and shape (n, u).
const ComplexVector& fractional_kernel(int n, int u, int h) {
  thread_local std::vector<std::pair<std::array<int, 3>, ComplexVector>> cache;
  const std::array<int, 3> key{n, u, h};
  for (const auto& [k, e] : cache)
    if (k == key) return e;
  const int m = 2 * h + 1;
  ComplexVector e(static_cast<size_t>(m) * n);
  for (int j = 0; j < m; ++j)
    for (int k = 0; k < n; ++k)
      e[static_cast<size_t>(j) * n + k] =
          std::polar(1.0, 2 * M_PI * frequency(k, n) * (j - h) / (static_cast<double>(u) * n));
  cache.emplace_back(key, std::move(e));
  return cache.back().second;
}

// The band-limited correlation on a (2h+1)^2 grid of step 1/u centred on (cx, cy), by a separable
// matrix DFT (Guizar-Sicairos, Thurman & Fienup 2008), row-major (y then x).
// The correlation is real, so its spectrum is Hermitian (X[-k] = conj X[k]) and so is the
// kernel: the term of column w - kx is the conjugate of the term of column kx (rows mirrored),
// and the real part of the sum is that of the columns 0..w/2 alone, the ones with a mirror
// counted twice. Half the multiplications of the first, larger pass.
std::vector<double> upsampled_grid(const Correlation& c, double cx, double cy, int u, int h) {
  const int m = 2 * h + 1;
  // e^{2 pi i f(k) (centre + (j - h) / u) / n}, j x k, for k < `columns`, times `weight(k)`.
  const auto kernel = [&](int n, double centre, int columns, const auto& weight) {
    const ComplexVector& frac = fractional_kernel(n, u, h);
    ComplexVector e(static_cast<size_t>(m) * columns);
    for (int k = 0; k < columns; ++k) {
      const Complex whole = std::polar(weight(k), 2 * M_PI * frequency(k, n) * centre / n);
      for (int j = 0; j < m; ++j)
        e[static_cast<size_t>(j) * columns + k] = times(whole, frac[static_cast<size_t>(j) * n + k]);
    }
    return e;
  };
  const int half = c.w / 2 + 1;  // columns 0..w/2
  const auto mirrored = [&](int k) { return k == 0 || 2 * k == c.w ? 1.0 : 2.0; };
  const ComplexVector ex = kernel(c.w, cx, half, mirrored), ey = kernel(c.h, cy, c.h, [](int) { return 1.0; });
  ComplexVector rows(static_cast<size_t>(c.h) * m);  // rows[ky][j]
  for (int ky = 0; ky < c.h; ++ky)
    for (int j = 0; j < m; ++j) {
      Complex acc = 0;
      const Complex* x = &c.spectrum[static_cast<size_t>(ky) * c.w];
      const Complex* e = &ex[static_cast<size_t>(j) * half];
      for (int kx = 0; kx < half; ++kx) acc += times(x[kx], e[kx]);
      rows[static_cast<size_t>(ky) * m + j] = acc;
    }
  std::vector<double> grid(static_cast<size_t>(m) * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) {
      Complex acc = 0;
      for (int ky = 0; ky < c.h; ++ky)
        acc += times(ey[static_cast<size_t>(i) * c.h + ky], rows[static_cast<size_t>(ky) * m + j]);
      grid[static_cast<size_t>(i) * m + j] = acc.real();
    }
  return grid;
}

// Where the maximum of a (2h+1)^2 grid lies, in grid steps from its centre, refined by a parabola
// through its neighbours (none at the grid's edge).
void grid_peak(const std::vector<double>& grid, int h, double* ox, double* oy) {
  const int m = 2 * h + 1;
  size_t best = 0;
  for (size_t k = 1; k < grid.size(); ++k)
    if (grid[k] > grid[best]) best = k;
  const int bi = static_cast<int>(best) / m, bj = static_cast<int>(best) % m;
  const auto g = [&](int i, int j) { return grid[static_cast<size_t>(i) * m + j]; };
  *ox = bj - h + ((bj > 0 && bj < m - 1) ? vertex(g(bi, bj - 1), g(bi, bj), g(bi, bj + 1)) : 0.0);
  *oy = bi - h + ((bi > 0 && bi < m - 1) ? vertex(g(bi - 1, bj), g(bi, bj), g(bi + 1, bj)) : 0.0);
}

// The peak of the band-limited correlation near the integer peak (sx, sy), on a grid of 1/u px.
// Above 1/4 px it is found in two steps: a 1/4 px grid over +-kUpsampleReach, then a 1/u px grid
// over +-1/4 px around the best of those (the first step's maximum is within half of its step of
// the true one); half the products of one 1/u px grid over the whole reach, which was the
// largest cost of a block.
void upsampled_peak(const Correlation& c, int sx, int sy, int u, double* dx, double* dy) {
  constexpr int kCoarse = 4;
  double cx = sx, cy = sy, ox = 0, oy = 0;
  if (u > kCoarse) {
    const int h = static_cast<int>(std::ceil(kUpsampleReach * kCoarse));
    grid_peak(upsampled_grid(c, cx, cy, kCoarse, h), h, &ox, &oy);
    cx += std::round(ox) / kCoarse;
    cy += std::round(oy) / kCoarse;
    const int h2 = (u + kCoarse - 1) / kCoarse;
    grid_peak(upsampled_grid(c, cx, cy, u, h2), h2, &ox, &oy);
  } else {
    const int h = static_cast<int>(std::ceil(kUpsampleReach * u));
    grid_peak(upsampled_grid(c, cx, cy, u, h), h, &ox, &oy);
  }
  *dx = cx + ox / u;
  *dy = cy + oy / u;
}

// One half of the block measured near the whole block's peak: the check that both halves see the
// same shift (a block straddling a fold, a repeat or an edge of the print does not).
void half_shift(const Block& design, const Block& scan, const Part& part, int sx, int sy, double* dx, double* dy) {
  const Correlation c = correlate_moved(spectrum_of(design, part), scan, part, sx, sy);
  const IntegerPeak p = integer_peak(c, 1, sx, sy);
  upsampled_peak(c, p.sx, p.sy, 4, dx, dy);
}

}  // namespace

std::string describe(Verdict v) {
  switch (v) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kFlat:
      return "flat";
    case Verdict::kNoMatch:
      return "no match";
    case Verdict::kAmbiguous:
      return "ambiguous";
    case Verdict::kBeyondRadius:
      return "beyond the search radius";
    case Verdict::kDisagree:
      return "halves disagree";
    case Verdict::kOneDirectional:
      return "one direction only";
  }
  return "?";
}

double isotropy(const Block& b) {
  // Central differences at the interior pixels, weighed by the same Hann window as the
  // correlation: the structure the correlation sees.
  const int n = b.size;
  const std::vector<double>& w = hann(n);
  double sxx = 0, syy = 0, sxy = 0;
  for (int y = 1; y < n - 1; ++y)
    for (int x = 1; x < n - 1; ++x) {
      const double gx = 0.5 * (b.at(x + 1, y) - b.at(x - 1, y)), gy = 0.5 * (b.at(x, y + 1) - b.at(x, y - 1));
      const double k = w[static_cast<size_t>(x)] * w[static_cast<size_t>(y)];
      sxx += k * gx * gx;
      syy += k * gy * gy;
      sxy += k * gx * gy;
    }
  const double half_trace = 0.5 * (sxx + syy);
  const double root = std::sqrt(std::max(0.0, half_trace * half_trace - (sxx * syy - sxy * sxy)));
  return half_trace > 0 ? std::max(0.0, half_trace - root) / (half_trace + root) : 0.0;
}

namespace {

void check_sizes(const Block& design, const Block& scan) {
  const int n = design.size;
  if (n < 16 || scan.size != n || design.px.size() != static_cast<size_t>(n) * n || scan.px.size() != design.px.size())
    fail_runtime("block measurement: the design and scan blocks must be the same square size, at least 16 px");
}

}  // namespace

Measurement measure_block(const Block& design, const Block& scan, const MatchOptions& o) {
  check_sizes(design, scan);
  return measure_block(
      design, [&scan] { return scan; }, o);
}

Measurement measure_block(const Block& design, const std::function<Block()>& make_scan, const MatchOptions& o) {
  const int n = design.size;
  if (n < 16 || design.px.size() != static_cast<size_t>(n) * n)
    fail_runtime("block measurement: the design block must be square, at least 16 px");
  Measurement m;
  const Part all{0, n, n};
  const Spectrum d = spectrum_of(design, all);
  m.texture = d.texture;
  if (m.texture < o.min_texture) {
    m.verdict = Verdict::kFlat;
    return m;
  }
  m.isotropy = isotropy(design);
  const double full = std::max(o.full_isotropy, 1e-9);
  m.aperture = std::pow(std::min(1.0, m.isotropy / full), 2);
  if (m.isotropy < o.min_isotropy) {
    m.verdict = Verdict::kOneDirectional;  // decided by the design alone, like kFlat
    return m;
  }
  const Block scan = make_scan();
  check_sizes(design, scan);
  const Correlation whole = correlate(d, spectrum_of(scan, all), all);
  const int radius = std::max(1, std::min(static_cast<int>(std::floor(o.max_shift)), n / 4));
  const IntegerPeak p = integer_peak(whole, radius);
  m.peak = p.value;
  m.second = std::max(p.second, 0.0);
  m.dx = p.sx;
  m.dy = p.sy;
  if (std::max(std::abs(p.sx), std::abs(p.sy)) == radius) {
    m.verdict = Verdict::kBeyondRadius;  // the best is the edge of the search: the truth may lie beyond
    return m;
  }
  if (m.peak < o.min_peak) {
    m.verdict = Verdict::kNoMatch;
    return m;
  }
  const double distinct = 1 - m.second / m.peak;
  if (distinct < 0.2) {
    m.verdict = Verdict::kAmbiguous;  // another shift matches almost as well: periodic texture
    return m;
  }
  const Correlation aligned = p.sx || p.sy ? correlate_moved(d, scan, all, p.sx, p.sy) : whole;
  upsampled_peak(aligned, p.sx, p.sy, std::max(1, o.upsample), &m.dx, &m.dy);
  double lx, ly, rx, ry;
  half_shift(design, scan, Part{0, n / 2, n}, p.sx, p.sy, &lx, &ly);
  half_shift(design, scan, Part{n / 2, n - n / 2, n}, p.sx, p.sy, &rx, &ry);
  m.disagreement = std::hypot(lx - rx, ly - ry);
  if (m.disagreement > 2 * o.agreement_px) {
    m.verdict = Verdict::kDisagree;
    return m;
  }
  const double agree = 1 / (1 + std::pow(m.disagreement / o.agreement_px, 2));
  m.confidence = std::clamp(m.peak, 0.0, 1.0) * distinct * agree * m.aperture;
  m.verdict = Verdict::kOk;
  return m;
}

}  // namespace alinify::reg::block
