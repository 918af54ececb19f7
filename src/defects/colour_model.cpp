#include "alinify/defects/colour_model.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "alinify/core/error.hpp"
#include "alinify/defects/colour.hpp"

namespace alinify::defects {
namespace {

void basis(const ColourModel& m, double x, double y, double phi[5]) {
  const double u = m.image.width > 1 ? 2 * x / static_cast<double>(m.image.width - 1) - 1 : 0;
  const double v = m.image.height > 1 ? 2 * y / static_cast<double>(m.image.height - 1) - 1 : 0;
  phi[0] = u;
  phi[1] = v;
  phi[2] = u * u;
  phi[3] = u * v;
  phi[4] = v * v;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  return v[mid];
}

// Solves (A + R) x = b + R prior, R = 1e-7 diag(A): a design with few colours leaves the matrix
// underdetermined, and a pull towards the identity (no curve), tiny against each parameter's own
// curvature, keeps it defined without biasing a well-posed fit.
template <int N>
Eigen::Matrix<double, N, 1> solve_ridge(const Eigen::Matrix<double, N, N>& a, const Eigen::Matrix<double, N, 1>& b,
                                        const Eigen::Matrix<double, N, 1>& prior) {
  Eigen::Matrix<double, N, N> ar = a;
  Eigen::Matrix<double, N, 1> br = b;
  for (int k = 0; k < N; ++k) {
    const double ridge = 1e-7 * std::max(a(k, k), 1e-12);
    ar(k, k) += ridge;
    br[k] += ridge * prior[k];
  }
  return ar.ldlt().solve(br);
}

constexpr int kTerms = ColourModel::kToneTerms;
constexpr int kAffineFeatures = 3, kCurvedFeatures = 3 + 3 * kTerms;

// One robust fit on NF design features (its three channels, then with the tone curves each
// channel's tone terms); `r` returns every sample's residual norm. The features are computed once:
// the fit runs on rank 0 while the other ranks wait.
template <int NF>
ColourModel fit_one(const std::vector<Sample>& s, Size image, const FitOptions& options, std::vector<double>& r) {
  using Features = Eigen::Matrix<double, NF, 1>;
  using Row = Eigen::Matrix<double, NF + 1, 1>;
  ColourModel model;
  model.image = image;
  model.samples = static_cast<int64_t>(s.size());
  const size_t n = s.size();
  std::vector<double> w(n, 1.0), g(n, 1.0);
  r.assign(n, 0.0);
  std::vector<std::array<double, 5>> phi(n);
  std::vector<Features, Eigen::aligned_allocator<Features>> feat(n);
  for (size_t i = 0; i < n; ++i) {
    basis(model, s[i].x, s[i].y, phi[i].data());
    for (int j = 0; j < 3; ++j) feat[i][j] = s[i].design[j];
    if constexpr (NF > 3)
      for (int j = 0; j < 3; ++j)
        for (int t = 0; t < kTerms; ++t) feat[i][3 + j * kTerms + t] = ColourModel::tone_term(t, s[i].design[j]);
  }
  Eigen::Matrix<double, 3, NF> p = Eigen::Matrix<double, 3, NF>::Zero();  // M, then the curves
  std::vector<Eigen::Vector3d> md(n);                                     // p * features, per sample
  for (int it = 0; it < options.iterations; ++it) {
    // The matrix, curves and offset with g fixed: per channel, scan_c = sum_k P_ck (g f_k) + o_c.
    Eigen::Matrix<double, NF + 1, NF + 1> a = Eigen::Matrix<double, NF + 1, NF + 1>::Zero();
    Eigen::Matrix<double, NF + 1, 3> b = Eigen::Matrix<double, NF + 1, 3>::Zero();
    for (size_t i = 0; i < n; ++i) {
      if (w[i] <= 0) continue;
      Row f;
      f.template head<NF>() = g[i] * feat[i];
      f[NF] = 1.0;
      a.template selfadjointView<Eigen::Lower>().rankUpdate(f, w[i]);
      const Eigen::Vector3d scan(s[i].scan[0], s[i].scan[1], s[i].scan[2]);
      b.noalias() += (w[i] * f) * scan.transpose();
    }
    a = a.template selfadjointView<Eigen::Lower>();
    for (int c = 0; c < 3; ++c) {
      Row prior = Row::Zero();
      prior[c] = 1;
      const Row x = solve_ridge<NF + 1>(a, b.col(c), prior);
      p.row(c) = x.template head<NF>().transpose();
      model.offset[c] = x[NF];
    }
    for (size_t i = 0; i < n; ++i) md[i] = p * feat[i];
    // The gain with the rest fixed: scan - o - P f = (c . phi) P f, three rows per sample.
    if (options.gain_field) {
      Eigen::Matrix<double, 5, 5> ga = Eigen::Matrix<double, 5, 5>::Zero();
      Eigen::Matrix<double, 5, 1> gb = Eigen::Matrix<double, 5, 1>::Zero();
      for (size_t i = 0; i < n; ++i) {
        if (w[i] <= 0) continue;
        const Eigen::Map<const Eigen::Matrix<double, 5, 1>> ph(phi[i].data());
        for (int c = 0; c < 3; ++c) {
          const Eigen::Matrix<double, 5, 1> gf = ph * md[i][c];
          ga.noalias() += w[i] * gf * gf.transpose();
          gb += w[i] * (s[i].scan[c] - model.offset[c] - md[i][c]) * gf;
        }
      }
      const Eigen::Matrix<double, 5, 1> c = solve_ridge<5>(ga, gb, Eigen::Matrix<double, 5, 1>::Zero());
      for (int k = 0; k < 5; ++k) model.gain[k] = c[k];
      for (size_t i = 0; i < n; ++i) {
        g[i] = 1;
        for (int k = 0; k < 5; ++k) g[i] += model.gain[k] * phi[i][k];
      }
    }
    // Residuals and Tukey's biweight for the next round.
    for (size_t i = 0; i < n; ++i) {
      double e2 = 0;
      for (int c = 0; c < 3; ++c) {
        const double e = g[i] * md[i][c] + model.offset[c] - s[i].scan[c];
        e2 += e * e;
      }
      r[i] = std::sqrt(e2);
    }
    const double cutoff = 3 * median_of(r) + 2;
    for (size_t i = 0; i < n; ++i) {
      const double q = r[i] / cutoff;
      w[i] = q < 1 ? (1 - q * q) * (1 - q * q) : 0;
    }
  }
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < 3; ++k) model.m[3 * c + k] = p(c, k);
    for (int k = 3; k < NF; ++k) model.curve[static_cast<size_t>(3 * kTerms * c + k - 3)] = p(c, k);
  }
  std::vector<double> inliers;
  double sum2 = 0;
  for (size_t i = 0; i < n; ++i)
    if (w[i] > 0) {
      inliers.push_back(r[i]);
      sum2 += r[i] * r[i];
    }
  model.inlier_fraction = static_cast<double>(inliers.size()) / static_cast<double>(n);
  model.residual_rms = inliers.empty() ? 0 : std::sqrt(sum2 / static_cast<double>(inliers.size()));
  model.residual_median = median_of(inliers);
  return model;
}

}  // namespace

bool ColourModel::has_curve() const {
  return std::any_of(curve.begin(), curve.end(), [](double v) { return v != 0; });
}

double ColourModel::tone_term(int t, double d) {
  const double u = std::clamp(d, 0.0, 255.0) / 255.0;
  switch (t) {
    case 0:
      return 255.0 * std::sqrt(u);
    case 1:
      return 255.0 * std::sqrt(u * std::sqrt(u));  // u^0.75
    default:
      return 255.0 * u * u;
  }
}

double ColourModel::gain_at(double x, double y) const {
  double phi[5];
  basis(*this, x, y, phi);
  double g = 1;
  for (int k = 0; k < 5; ++k) g += gain[k] * phi[k];
  return g;
}

void ColourModel::ungained(const float design[3], double out[3]) const {
  const bool curved = has_curve();
  for (int c = 0; c < 3; ++c) {
    out[c] = m[3 * c] * design[0] + m[3 * c + 1] * design[1] + m[3 * c + 2] * design[2];
    if (curved)
      for (int j = 0; j < 3; ++j)
        for (int t = 0; t < kTerms; ++t) out[c] += curve[(3 * c + j) * kTerms + t] * tone_term(t, design[j]);
  }
}

void ColourModel::apply(double x, double y, const float design[3], double out[3]) const {
  const double g = gain_at(x, y);
  ungained(design, out);
  for (int c = 0; c < 3; ++c) out[c] = g * out[c] + offset[c];
}

namespace {

// The model's residual norm at every flat sample: their median and count.
void flat_residual(const std::vector<Sample>& s, ColourModel& model) {
  std::vector<double> r;
  for (const Sample& smp : s) {
    if (!smp.flat) continue;
    double out[3], e2 = 0;
    model.apply(smp.x, smp.y, smp.design.data(), out);
    for (int c = 0; c < 3; ++c) e2 += (out[c] - smp.scan[c]) * (out[c] - smp.scan[c]);
    r.push_back(std::sqrt(e2));
  }
  model.flat_samples = static_cast<int64_t>(r.size());
  model.flat_median = median_of(r);
}

// ColourModel::contrast from up to kContrastSamples samples spread over the list (every k-th).
// Along the grey axis (all three channels -+ 4 levels): how lightness differences come out. A
// step of one channel alone measured the chroma a camera keeps too, and a grey camera keeps none
// (its contrast read 0.28, which would have multiplied its noise by 3.6; along grey 0.99).
constexpr size_t kContrastSamples = 20000;
constexpr double kContrastStep = 4;  // levels either side of a design colour

void measure_contrast(const std::vector<Sample>& s, ColourModel& model) {
  std::vector<double> ratio;
  const size_t every = std::max<size_t>(1, s.size() / kContrastSamples);
  for (size_t i = 0; i < s.size(); i += every) {
    const Sample& smp = s[i];
    float lo[3], hi[3];
    for (int c = 0; c < 3; ++c) {
      lo[c] = static_cast<float>(std::max(0.0, smp.design[c] - kContrastStep));
      hi[c] = static_cast<float>(std::min(255.0, smp.design[c] + kContrastStep));
    }
    const double in_design = delta_e76(srgb_to_lab(lo[0], lo[1], lo[2]), srgb_to_lab(hi[0], hi[1], hi[2]));
    if (in_design < 0.5) continue;
    double a[3], b[3];
    model.apply(smp.x, smp.y, lo, a);
    model.apply(smp.x, smp.y, hi, b);
    ratio.push_back(delta_e76(srgb_to_lab(a[0], a[1], a[2]), srgb_to_lab(b[0], b[1], b[2])) / in_design);
  }
  model.contrast = ratio.empty() ? 1.0 : std::clamp(median_of(ratio), 0.25, 4.0);
}

}  // namespace

ColourModel fit_colour_model(const std::vector<Sample>& s, Size image, const FitOptions& options) {
  if (s.size() < 16) {
    ColourModel model;
    model.image = image;
    model.samples = static_cast<int64_t>(s.size());
    return model;
  }
  std::vector<double> r;
  ColourModel affine = fit_one<kAffineFeatures>(s, image, options, r);
  affine.affine_median = median_of(r);
  if (!options.tone_curve) {
    flat_residual(s, affine);
    measure_contrast(s, affine);
    return affine;
  }
  // Both judged by the median residual over every sample: robust to the defects, and blind to
  // which samples each fit counted as inliers.
  ColourModel curved = fit_one<kCurvedFeatures>(s, image, options, r);
  curved.affine_median = affine.affine_median;
  curved.curved_median = median_of(r);
  affine.curved_median = curved.curved_median;
  ColourModel& kept = curved.curved_median < options.curve_keep * affine.affine_median ? curved : affine;
  flat_residual(s, kept);
  measure_contrast(s, kept);
  return kept;
}

std::string ColourModel::to_json_text() const {
  nlohmann::json j{{"matrix", m},
                   {"curve", curve},
                   {"affine_median", affine_median},
                   {"curved_median", curved_median},
                   {"offset", offset},
                   {"gain", gain},
                   {"image", {image.width, image.height}},
                   {"residual_median", residual_median},
                   {"residual_rms", residual_rms},
                   {"inlier_fraction", inlier_fraction},
                   {"samples", samples},
                   {"flat_median", flat_median},
                   {"flat_samples", flat_samples},
                   {"contrast", contrast}};
  return j.dump();
}

ColourModel ColourModel::from_json_text(const std::string& text) {
  ColourModel c;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    c.m = j.at("matrix").get<std::array<double, 9>>();
    c.curve = j.at("curve").get<std::array<double, 9 * kToneTerms>>();
    c.affine_median = j.at("affine_median").get<double>();
    c.curved_median = j.at("curved_median").get<double>();
    c.offset = j.at("offset").get<std::array<double, 3>>();
    c.gain = j.at("gain").get<std::array<double, 5>>();
    c.image = Size{j.at("image").at(0).get<int64_t>(), j.at("image").at(1).get<int64_t>()};
    c.residual_median = j.at("residual_median").get<double>();
    c.residual_rms = j.at("residual_rms").get<double>();
    c.inlier_fraction = j.at("inlier_fraction").get<double>();
    c.samples = j.at("samples").get<int64_t>();
    c.flat_median = j.at("flat_median").get<double>();
    c.flat_samples = j.at("flat_samples").get<int64_t>();
    c.contrast = j.at("contrast").get<double>();
  } catch (const nlohmann::json::exception& e) {
    fail_runtime(std::string("colour model: malformed message: ") + e.what());
  }
  return c;
}

}  // namespace alinify::defects
