// Coarse global alignment (see coarse_align.hpp and docs/registration.md): masked FFT NCC over a
// set of rotations, several peaks per rotation, the best distinct candidates refined on the full
// overlap, and a confidence from the best against the best *different* placement.
#include "alinify/reg/coarse_align.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/reg/fabric_box.hpp"

namespace alinify::reg::coarse {

namespace {

constexpr double kPi = 3.14159265358979323846;

int next_pow2(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

float bilinear(const Image& im, double x, double y) {
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const int x1 = std::min(x0 + 1, im.width - 1), y1 = std::min(y0 + 1, im.height - 1);
  const double fx = x - x0, fy = y - y0;
  const int xa = std::max(x0, 0), ya = std::max(y0, 0);
  const double a = im.at(xa, ya), b = im.at(x1, ya), c = im.at(xa, y1), d = im.at(x1, y1);
  return static_cast<float>((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy);
}

// Linear part of a placement.
void linear(double angle_deg, double scale, double m[4]) {
  const double a = angle_deg * kPi / 180.0, c = std::cos(a) * scale, s = std::sin(a) * scale;
  m[0] = c;
  m[1] = -s;
  m[2] = s;
  m[3] = c;
}

// Coarse translation tau (scan coarse = A * design coarse + tau) <-> full-resolution t.
// q = A p + t with p = F u + c, q = F v + c  =>  tau = (A c + t - c) / F.
void full_from_coarse(const double m[4], double tau_x, double tau_y, int F, double* tx, double* ty) {
  const double c = (F - 1) / 2.0;
  *tx = F * tau_x + c - (m[0] * c + m[1] * c);
  *ty = F * tau_y + c - (m[2] * c + m[3] * c);
}
void coarse_from_full(const double m[4], double tx, double ty, int F, double* tau_x, double* tau_y) {
  const double c = (F - 1) / 2.0;
  *tau_x = (m[0] * c + m[1] * c + tx - c) / F;
  *tau_y = (m[2] * c + m[3] * c + ty - c) / F;
}

// A 0/1 mask as a black-and-white PGM.
void write_mask_pgm(const std::string& path, const std::vector<uint8_t>& mask, int w, int h) {
  std::vector<char> grey(mask.size());
  for (size_t k = 0; k < mask.size(); ++k) grey[k] = static_cast<char>(mask[k] ? 255 : 0);
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << w << " " << h << "\n255\n";
  out.write(grey.data(), static_cast<std::streamsize>(grey.size()));
}

// The score map of the best rotation as a colour picture: grey = score (black: no valid overlap),
// a red cross on the best peak, yellow crosses on the other peaks kept at that rotation (the
// neighbouring repeats the confidence weighs against).
void write_score_map(const std::string& path, const std::vector<float>& v, int w, int h,
                     const std::vector<Peak>& peaks) {
  float lo = 1e30f, hi = -1e30f;
  for (float x : v)
    if (x > -0.99f) lo = std::min(lo, x), hi = std::max(hi, x);
  if (hi <= lo) hi = lo + 1;
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (size_t k = 0; k < v.size(); ++k) {
    const double t = v[k] <= -0.99f ? 0.0 : 0.15 + 0.85 * (v[k] - lo) / (hi - lo);
    rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = static_cast<uint8_t>(std::lround(std::clamp(t, 0.0, 1.0) * 255));
  }
  for (size_t n = peaks.size(); n-- > 0;) {  // the best last, on top
    const uint8_t colour[3] = {255, static_cast<uint8_t>(n == 0 ? 0 : 220), 0};
    for (int d = -4; d <= 4; ++d)
      for (auto [x, y] : {std::pair{peaks[n].sx + d, peaks[n].sy}, std::pair{peaks[n].sx, peaks[n].sy + d}})
        if (x >= 0 && y >= 0 && x < w && y < h)
          for (int c = 0; c < 3; ++c) rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = colour[c];
  }
  std::ofstream out(path, std::ios::binary);
  out << "P6\n" << w << " " << h << "\n255\n";
  out.write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
}

}  // namespace

// ---- images ----

namespace {
Image downsample_raw(const float* px, int w, int h, int factor, int g) {
  if (g < 1) fail_runtime("coarse downsample factor must be >= 1");
  Image out;
  out.width = std::max(1, w / g);
  out.height = std::max(1, h / g);
  out.factor = factor * g;
  out.px.assign(static_cast<size_t>(out.width) * out.height, 0.f);
  for (int j = 0; j < out.height; ++j)
    for (int i = 0; i < out.width; ++i) {
      double s = 0;
      int n = 0;
      for (int b = 0; b < g && j * g + b < h; ++b)
        for (int a = 0; a < g && i * g + a < w; ++a, ++n) s += px[static_cast<size_t>(j * g + b) * w + (i * g + a)];
      out.px[static_cast<size_t>(j) * out.width + i] = static_cast<float>(n ? s / n : 0);
    }
  return out;
}
}  // namespace

// Reads the registration image in place: no copy of it is made.
Image downsample(const io::GreyImage& image, int g) {
  return downsample_raw(image.pixels.data(), static_cast<int>(image.size.width), static_cast<int>(image.size.height),
                        image.factor, g);
}

Image downsample(const Image& in, int g) {
  if (g == 1) return in;
  return downsample_raw(in.px.data(), in.width, in.height, in.factor, g);
}

int factor_for(int64_t width, int64_t height, int target) {
  const int64_t m = std::max(width, height);
  return static_cast<int>(std::max<int64_t>(1, (m + target - 1) / target));
}

// ---- FFT ----

namespace {
struct FftPlan {
  int n = 0;
  std::vector<int> rev;
  std::vector<Complex> tw;  // exp(-2 pi i k / n), k < n/2
};
const FftPlan& plan_for(int n) {
  static thread_local std::vector<FftPlan> plans;
  for (const auto& p : plans)
    if (p.n == n) return p;
  FftPlan p;
  p.n = n;
  p.rev.resize(n);
  int bits = 0;
  while ((1 << bits) < n) ++bits;
  for (int i = 0; i < n; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b)
      if (i & (1 << b)) r |= 1 << (bits - 1 - b);
    p.rev[i] = r;
  }
  p.tw.resize(std::max(1, n / 2));
  for (int k = 0; k < n / 2; ++k) p.tw[k] = std::polar(1.0, -2 * kPi * k / n);
  plans.push_back(std::move(p));
  return plans.back();
}
}  // namespace

void fft1d(Complex* a, int n, bool inverse) {
  const FftPlan& p = plan_for(n);
  for (int i = 0; i < n; ++i)
    if (i < p.rev[i]) std::swap(a[i], a[p.rev[i]]);
  for (int len = 2; len <= n; len <<= 1) {
    const int half = len / 2, stride = n / len;
    for (int i = 0; i < n; i += len)
      for (int k = 0; k < half; ++k) {
        const Complex w = inverse ? std::conj(p.tw[k * stride]) : p.tw[k * stride];
        const Complex u = a[i + k], v = a[i + k + half] * w;
        a[i + k] = u + v;
        a[i + k + half] = u - v;
      }
  }
}

void fft2d(std::vector<Complex>& d, int w, int h, bool inverse) {
  for (int y = 0; y < h; ++y) fft1d(d.data() + static_cast<size_t>(y) * w, w, inverse);
  std::vector<Complex> col(h);
  for (int x = 0; x < w; ++x) {
    for (int y = 0; y < h; ++y) col[y] = d[static_cast<size_t>(y) * w + x];
    fft1d(col.data(), h, inverse);
    for (int y = 0; y < h; ++y) d[static_cast<size_t>(y) * w + x] = col[y];
  }
  if (inverse) {
    const double s = 1.0 / (static_cast<double>(w) * h);
    for (auto& v : d) v *= s;
  }
}

namespace {

// Two real images packed as a + i b -> their two spectra.
void unpack(const std::vector<Complex>& z, int w, int h, std::vector<Complex>& A, std::vector<Complex>& B) {
  A.resize(z.size());
  B.resize(z.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t k = static_cast<size_t>(y) * w + x;
      const size_t nk = static_cast<size_t>((h - y) % h) * w + (w - x) % w;
      const Complex zk = z[k], zn = std::conj(z[nk]);
      A[k] = (zk + zn) * 0.5;
      B[k] = (zk - zn) * Complex(0, -0.5);
    }
}

}  // namespace

ImageSpectra image_spectra(const Image& image, const std::vector<float>& mask, int pad_w, int pad_h) {
  ImageSpectra s;
  s.pad_w = pad_w;
  s.pad_h = pad_h;
  s.iw = image.width;
  s.ih = image.height;
  std::vector<Complex> z(static_cast<size_t>(pad_w) * pad_h), mz(z.size());
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const float m = mask[static_cast<size_t>(y) * image.width + x];
      const double f = image.at(x, y) * m;
      z[static_cast<size_t>(y) * pad_w + x] = Complex(f, f * image.at(x, y));
      mz[static_cast<size_t>(y) * pad_w + x] = m;
    }
  fft2d(z, pad_w, pad_h, false);
  fft2d(mz, pad_w, pad_h, false);
  unpack(z, pad_w, pad_h, s.f1, s.f2);
  s.m = std::move(mz);
  return s;
}

CorrelationMap masked_ncc(const ImageSpectra& is, const Image& t, const std::vector<float>& tmask) {
  const int W = is.pad_w, H = is.pad_h;
  if (is.iw + t.width - 1 > W || is.ih + t.height - 1 > H) fail_runtime("coarse NCC: padding too small");
  // The template's spectra are computed exactly as the image's, on the same padded grid.
  const ImageSpectra ts = image_spectra(t, tmask, W, H);
  const std::vector<Complex>& F1 = is.f1;
  const std::vector<Complex>& F2 = is.f2;
  const std::vector<Complex>& M = is.m;
  const std::vector<Complex>& T1 = ts.f1;
  const std::vector<Complex>& T2 = ts.f2;
  const std::vector<Complex>& tm = ts.m;
  const size_t n_bins = static_cast<size_t>(W) * H;
  // Six correlations, packed two per inverse FFT.
  std::vector<Complex> a(n_bins), b(n_bins), c(n_bins);
  const Complex I(0, 1);
  for (size_t k = 0; k < n_bins; ++k) {
    const Complex ctm = std::conj(tm[k]), ct1 = std::conj(T1[k]), ct2 = std::conj(T2[k]);
    a[k] = ctm * M[k] + I * (ctm * F1[k]);     // N, Sf
    b[k] = ctm * F2[k] + I * (ct1 * M[k]);     // Sf2, St
    c[k] = ct2 * M[k] + I * (ct1 * F1[k]);     // St2, Sft
  }
  fft2d(a, W, H, true);
  fft2d(b, W, H, true);
  fft2d(c, W, H, true);
  CorrelationMap r;
  r.min_sx = -(t.width - 1);
  r.min_sy = -(t.height - 1);
  r.width = is.iw + t.width - 1;
  r.height = is.ih + t.height - 1;
  r.ncc.assign(static_cast<size_t>(r.width) * r.height, -1.f);
  r.overlap.assign(r.ncc.size(), 0.f);
  for (int j = 0; j < r.height; ++j)
    for (int i = 0; i < r.width; ++i) {
      const int sx = i + r.min_sx, sy = j + r.min_sy;
      const size_t k = static_cast<size_t>((sy + H) % H) * W + (sx + W) % W;
      const double n = a[k].real();
      const size_t o = static_cast<size_t>(j) * r.width + i;
      r.overlap[o] = static_cast<float>(std::max(0.0, n));
      if (n < 16) continue;
      const double sf = a[k].imag(), sf2 = b[k].real(), st = b[k].imag(), st2 = c[k].real(), sft = c[k].imag();
      const double vf = sf2 - sf * sf / n, vt = st2 - st * st / n;
      if (vf <= 1e-6 * n || vt <= 1e-6 * n) continue;
      r.ncc[o] = static_cast<float>(std::clamp((sft - sf * st / n) / std::sqrt(vf * vt), -1.0, 1.0));
    }
  return r;
}

// ---- peaks ----

std::vector<Peak> find_peaks(const std::vector<float>& v, int w, int h, int r, int n, float floor) {
  std::vector<Peak> out;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float c = v[static_cast<size_t>(y) * w + x];
      if (!(c > floor)) continue;
      bool is_max = true;
      for (int dy = -r; dy <= r && is_max; ++dy)
        for (int dx = -r; dx <= r; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if ((dx == 0 && dy == 0) || xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const float o = v[static_cast<size_t>(yy) * w + xx];
          // Ties: the first in scan order wins.
          if (o > c || (o == c && (dy < 0 || (dy == 0 && dx < 0)))) {
            is_max = false;
            break;
          }
        }
      if (is_max) out.push_back(Peak{x, y, c});
    }
  std::sort(out.begin(), out.end(), [](const Peak& a, const Peak& b) { return a.score > b.score; });
  if (static_cast<int>(out.size()) > n) out.resize(n);
  return out;
}

// ---- placements ----

transform::Affine Placement::affine() const {
  transform::Affine a;
  linear(angle_deg, scale, a.m);
  a.offset[0] = tx;
  a.offset[1] = ty;
  return a;
}

std::string describe(const Placement& p) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "[rotation %.2f deg, scale %.3f, shift (%.1f, %.1f) px]", p.angle_deg, p.scale, p.tx,
                p.ty);
  return buf;
}

double placement_distance(const Placement& a, const Placement& b, int64_t w, int64_t h) {
  const transform::Affine A = a.affine(), B = b.affine();
  const double pts[5][2] = {{0, 0}, {double(w - 1), 0}, {0, double(h - 1)}, {double(w - 1), double(h - 1)},
                            {(w - 1) / 2.0, (h - 1) / 2.0}};
  double s = 0;
  for (const auto& p : pts) {
    const double ax = A.m[0] * p[0] + A.m[1] * p[1] + A.offset[0], ay = A.m[2] * p[0] + A.m[3] * p[1] + A.offset[1];
    const double bx = B.m[0] * p[0] + B.m[1] * p[1] + B.offset[0], by = B.m[2] * p[0] + B.m[3] * p[1] + B.offset[1];
    s += std::hypot(ax - bx, ay - by);
  }
  return s / 5;
}

double placement_score(const Image& d, const Image& s, const Placement& p) {
  double m[4];
  linear(p.angle_deg, p.scale, m);
  double tau_x, tau_y;
  coarse_from_full(m, p.tx, p.ty, d.factor, &tau_x, &tau_y);
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  int64_t n = 0, total = 0;
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x) {
      ++total;
      const double vx = m[0] * x + m[1] * y + tau_x, vy = m[2] * x + m[3] * y + tau_y;
      if (vx < 0 || vy < 0 || vx > s.width - 1 || vy > s.height - 1) continue;
      const double a = d.at(x, y), b = bilinear(s, vx, vy);
      sa += a, sb += b, saa += a * a, sbb += b * b, sab += a * b;
      ++n;
    }
  if (n < total / 4 || n < 16) return -1;
  const double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
  if (va <= 1e-9 * n || vb <= 1e-9 * n) return -1;
  const double ncc = (sab - sa * sb / n) / std::sqrt(va * vb);
  return ncc * static_cast<double>(n) / total;
}

namespace {

// Hill climbing on (angle, scale, tx, ty) of the full-overlap score, steps halving.
Placement refine(const Image& d, const Image& s, Placement p, double angle_step) {
  const int F = d.factor;
  double da = angle_step / 2, dt = F * 1.0, ds = 0.01;
  p.score = placement_score(d, s, p);
  for (int it = 0; it < 100 && (da > 0.03 || dt > 0.2 * F); ++it) {
    bool moved = false;
    for (int dim = 0; dim < 4; ++dim)
      for (int sign : {-1, 1}) {
        Placement q = p;
        if (dim == 0) q.angle_deg += sign * da;
        if (dim == 1) q.tx += sign * dt;
        if (dim == 2) q.ty += sign * dt;
        if (dim == 3) q.scale = std::clamp(q.scale + sign * ds, 0.9, 1.1);
        q.score = placement_score(d, s, q);
        if (q.score > p.score + 1e-7) {
          p = q;
          moved = true;
        }
      }
    if (!moved) da /= 2, dt /= 2, ds /= 2;
  }
  return p;
}

}  // namespace

namespace {

// Zero mean, unit variance (for the numerics of the correlations).
Image normalised(const Image& im) {
  Image out = im;
  double s = 0, ss = 0;
  for (float v : im.px) s += v, ss += double(v) * v;
  const double n = static_cast<double>(im.px.size()), mean = s / n;
  const double sd = std::sqrt(std::max(ss / n - mean * mean, 1e-12));
  for (float& v : out.px) v = static_cast<float>((v - mean) / sd);
  return out;
}

struct SearchOutput {
  std::vector<Placement> cands;  // the kept peaks of every rotation, full-resolution placements
  int fft_w = 0, fft_h = 0;
  // With keep_map: the score map of the rotation with the best peak, and that rotation's peaks.
  std::vector<float> map;
  int map_w = 0, map_h = 0;
  std::vector<Peak> map_peaks;
};

// The FFT search: for each angle the design d, turned, is a masked template whose NCC with the
// scan s is computed at every shift; up to peaks_per_rotation local maxima of NCC x (fraction of
// the design inside the scan) become candidates. d and s are normalised and share one factor.
SearchOutput search_placements(const Image& d, const Image& s, const std::vector<double>& angles,
                               int peaks_per_rotation, bool keep_map) {
  const int SF = d.factor;
  SearchOutput out;
  // The turned design's bounding box (template size and origin) for one angle.
  auto box = [&](double angle, double m[4], double* bx, double* by, int* tw, int* th) {
    linear(angle, 1.0, m);
    double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
    for (double cx : {-0.5, d.width - 0.5})
      for (double cy : {-0.5, d.height - 0.5}) {
        const double X = m[0] * cx + m[1] * cy, Y = m[2] * cx + m[3] * cy;
        x0 = std::min(x0, X), x1 = std::max(x1, X), y0 = std::min(y0, Y), y1 = std::max(y1, Y);
      }
    *bx = std::floor(x0);
    *by = std::floor(y0);
    *tw = static_cast<int>(std::ceil(x1) - *bx) + 1;
    *th = static_cast<int>(std::ceil(y1) - *by) + 1;
  };
  // One padding for all angles: the largest template.
  int max_tw = 0, max_th = 0;
  for (double a : angles) {
    double m[4], bx, by;
    int tw, th;
    box(a, m, &bx, &by, &tw, &th);
    max_tw = std::max(max_tw, tw), max_th = std::max(max_th, th);
  }
  const int W = next_pow2(s.width + max_tw - 1), H = next_pow2(s.height + max_th - 1);
  out.fft_w = W, out.fft_h = H;
  const std::vector<float> smask(s.px.size(), 1.f);
  const ImageSpectra spectra = image_spectra(s, smask, W, H);
  double best_map_score = -2;
  for (double a : angles) {
    double m[4], bx, by;
    int tw, th;
    box(a, m, &bx, &by, &tw, &th);
    Image t;
    t.width = tw;
    t.height = th;
    t.factor = SF;
    t.px.assign(static_cast<size_t>(tw) * th, 0.f);
    std::vector<float> tmask(t.px.size(), 0.f);
    size_t tcount = 0;
    // u = A^-1 z (A is a rotation: inverse = transpose)
    for (int j = 0; j < th; ++j)
      for (int i = 0; i < tw; ++i) {
        const double zx = bx + i, zy = by + j;
        const double ux = m[0] * zx + m[2] * zy, uy = m[1] * zx + m[3] * zy;
        if (ux < 0 || uy < 0 || ux > d.width - 1 || uy > d.height - 1) continue;
        t.px[static_cast<size_t>(j) * tw + i] = bilinear(d, ux, uy);
        tmask[static_cast<size_t>(j) * tw + i] = 1.f;
        ++tcount;
      }
    CorrelationMap cm = masked_ncc(spectra, t, tmask);
    // Score: NCC x fraction of the design inside the scan (a placement that pushes the fabric
    // off the canvas would otherwise win on a small, periodic overlap).
    std::vector<float> score(cm.ncc.size(), -1.f);
    for (size_t k = 0; k < score.size(); ++k) {
      const double frac = cm.overlap[k] / static_cast<double>(tcount);
      if (frac >= 0.25 && cm.ncc[k] > -1.f) score[k] = static_cast<float>(cm.ncc[k] * std::min(1.0, frac));
    }
    const std::vector<Peak> peaks = find_peaks(score, cm.width, cm.height, 2, peaks_per_rotation, -0.5f);
    for (const Peak& pk : peaks) {
      const double tau_x = pk.sx + cm.min_sx - bx, tau_y = pk.sy + cm.min_sy - by;
      Placement p;
      p.angle_deg = a;
      full_from_coarse(m, tau_x, tau_y, SF, &p.tx, &p.ty);
      p.score = pk.score;
      out.cands.push_back(p);
      if (keep_map && pk.score > best_map_score) {
        best_map_score = pk.score;
        out.map = score;
        out.map_w = cm.width;
        out.map_h = cm.height;
        out.map_peaks = peaks;
      }
    }
  }
  return out;
}

}  // namespace

CoarseResult estimate_placement(const Image& design, const Image& scan, const CoarseOptions& o) {
  const double t_start = now_seconds();
  if (design.factor != scan.factor) fail_runtime("coarse alignment: design and scan factors differ");
  const int F = design.factor;
  CoarseResult res;

  // Angles: the small set within max_rotation, times the quarter turns.
  double step = o.angle_step_deg;
  if (step <= 0) {
    const double half = 0.25 * std::max(design.width, design.height);
    step = std::clamp(2.0 / half * 180.0 / kPi, 0.25, 2.0);  // ~1 px at the template edge (half a step)
  }
  std::vector<double> angles;
  const int n_small = static_cast<int>(std::ceil(o.max_rotation_deg / step - 1e-9));
  const double small_step = n_small > 0 ? o.max_rotation_deg / n_small : 0;
  for (int q = 0; q < (o.quarter_turns ? 4 : 1); ++q)
    for (int k = -n_small; k <= n_small; ++k) angles.push_back(q * 90.0 + k * small_step);

  // Search on images halved once more (FFT sizes a quarter), refine on the given ones.
  const bool halve = design.width >= 96 && scan.width >= 96;
  const int SF = halve ? 2 * F : F;  // search factor
  SearchOutput search;
  if (o.use_search)
    search = search_placements(normalised(halve ? downsample(design, 2) : design),
                               normalised(halve ? downsample(scan, 2) : scan), angles, o.peaks_per_rotation,
                               !o.debug_dir.empty());
  const Image d_fine = normalised(design), s_fine = normalised(scan);
  std::vector<Placement>& cands = search.cands;
  res.candidates = static_cast<int>(cands.size());
  const double t_search = now_seconds() - t_start;
  std::sort(cands.begin(), cands.end(), [](const Placement& a, const Placement& b) { return a.score > b.score; });

  // Distinct placements: farther apart than a few coarse pixels (a neighbouring repeat is many).
  const int64_t dw = static_cast<int64_t>(design.width) * F, dh = static_cast<int64_t>(design.height) * F;
  const double sep = 3.0 * SF;
  auto distinct_from = [&](const Placement& p, const std::vector<Placement>& set) {
    for (const Placement& q : set)
      if (placement_distance(p, q, dw, dh) < sep) return false;
    return true;
  };
  std::vector<Placement> chosen;
  for (const Placement& p : cands) {
    if (distinct_from(p, chosen)) chosen.push_back(p);
    if (static_cast<int>(chosen.size()) >= o.refine) break;
  }

  // The fabric's box: its placements compete with the search's on the same full-overlap score.
  FabricBox fabric;
  std::vector<Placement> box_cands;
  if (o.use_box) {
    fabric = find_fabric_box(scan);
    box_cands = box_placements(fabric, F, static_cast<double>(dw), static_cast<double>(dh), o);
    if (!fabric.found) {
      res.box_note = fabric.why_not;
    } else if (box_cands.empty()) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "the fabric's box (%.0f x %.0f px, turned %.1f deg) does not match the design (%lld x %lld px)%s",
                    fabric.length * F, fabric.breadth * F, fabric.angle_deg, static_cast<long long>(dw),
                    static_cast<long long>(dh),
                    fabric.touches_edge                                  ? ": the fabric runs off the edge of the scan"
                    : std::abs(fabric.angle_deg) > o.max_rotation_deg + 1 ? ": turned beyond --max-rotation"
                                                                          : "");
      res.box_note = buf;
    }
    for (const Placement& p : box_cands)
      if (distinct_from(p, chosen)) chosen.push_back(p);
  }

  std::vector<Placement> refined;
  for (const Placement& p : chosen) refined.push_back(refine(d_fine, s_fine, p, small_step > 0 ? small_step : 1.0));
  std::sort(refined.begin(), refined.end(), [](const Placement& a, const Placement& b) { return a.score > b.score; });
  spdlog::debug("coarse: {} angles, FFT {}x{}, search {:.3f} s, box {}, refinement of {} candidates {:.3f} s",
                o.use_search ? angles.size() : 0, search.fft_w, search.fft_h, t_search,
                fabric.found ? "found" : (o.use_box ? fabric.why_not : "off"), chosen.size(),
                now_seconds() - t_start - t_search);
  if (!o.debug_dir.empty() && !fabric.mask.empty()) {
    std::filesystem::create_directories(o.debug_dir);
    write_mask_pgm((std::filesystem::path(o.debug_dir) / "fabric_mask.pgm").string(), fabric.mask, scan.width,
                   scan.height);
  }
  if (refined.empty()) {
    res.rejected = true;
    res.reason = o.use_search ? "no placement of the design found in the scan"
                              : "--init box: no usable fabric box (" + res.box_note + ")";
    res.seconds = now_seconds() - t_start;
    return res;
  }
  res.best = refined[0];
  for (size_t k = 1; k < refined.size(); ++k)
    if (placement_distance(refined[k], res.best, dw, dh) >= sep) {
      res.runner_up = refined[k];
      res.has_runner_up = true;
      break;
    }
  const double s1 = res.best.score, s2 = res.has_runner_up ? std::max(res.runner_up.score, 0.0) : 0.0;
  res.confidence = s1 > 0 ? (s1 - s2) / s1 : 0;
  if (!box_cands.empty()) {
    res.box_distance = 1e300;
    for (const Placement& p : box_cands) res.box_distance = std::min(res.box_distance, placement_distance(res.best, p, dw, dh));
    // The box is good to a couple of coarse pixels (blurred edges); a neighbouring repeat is many.
    const bool agrees = res.box_distance <= 5.0 * F;
    res.box_state = agrees ? "agrees" : "disagrees";
    if (o.use_search) res.confidence += agrees ? o.box_weight : -o.box_weight;
  }
  char buf[512];
  if (s1 < o.min_score) {
    res.rejected = true;
    std::snprintf(buf, sizeof buf,
                  "the design was not found in the scan: best placement %s scores %.3f, below %.2f (another design, "
                  "or no fabric?)",
                  describe(res.best).c_str(), s1, o.min_score);
    res.reason = buf;
  } else if (res.confidence < o.min_margin) {
    res.ambiguous = true;
    std::snprintf(buf, sizeof buf,
                  "ambiguous placement: best %s score %.3f vs runner-up %s score %.3f (confidence %.3f < %.3f; "
                  "fabric box: %s)",
                  describe(res.best).c_str(), s1, describe(res.runner_up).c_str(), s2, res.confidence, o.min_margin,
                  res.box_state.c_str());
    res.reason = buf;
  }
  if (!o.debug_dir.empty()) {
    std::filesystem::create_directories(o.debug_dir);
    if (!search.map.empty())
      write_score_map((std::filesystem::path(o.debug_dir) / "score_map.ppm").string(), search.map, search.map_w,
                      search.map_h, search.map_peaks);
    std::ofstream out(std::filesystem::path(o.debug_dir) / "candidates.txt");
    out << "# rank angle_deg scale tx ty score (refined, full resolution px)\n";
    for (size_t k = 0; k < refined.size(); ++k)
      out << k << " " << refined[k].angle_deg << " " << refined[k].scale << " " << refined[k].tx << " "
          << refined[k].ty << " " << refined[k].score << "\n";
  }
  res.seconds = now_seconds() - t_start;
  return res;
}

}  // namespace alinify::reg::coarse
