#include "alinify/defects/colour_model.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "alinify/core/error.hpp"

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

// Solves (A + R) x = b + R prior, R = 1e-7 diag(A): a design with few colours leaves the 3x3
// matrix underdetermined, and a pull towards the identity, tiny against each parameter's own
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

}  // namespace

double ColourModel::gain_at(double x, double y) const {
  double phi[5];
  basis(*this, x, y, phi);
  double g = 1;
  for (int k = 0; k < 5; ++k) g += gain[k] * phi[k];
  return g;
}

void ColourModel::apply(double x, double y, const float design[3], double out[3]) const {
  const double g = gain_at(x, y);
  for (int c = 0; c < 3; ++c)
    out[c] = g * (m[3 * c] * design[0] + m[3 * c + 1] * design[1] + m[3 * c + 2] * design[2]) + offset[c];
}

ColourModel fit_colour_model(const std::vector<Sample>& s, Size image, const FitOptions& options) {
  ColourModel model;
  model.image = image;
  model.samples = static_cast<int64_t>(s.size());
  if (s.size() < 16) return model;
  const size_t n = s.size();
  std::vector<double> w(n, 1.0), g(n, 1.0), r(n, 0.0);
  std::vector<std::array<double, 5>> phi(n);
  for (size_t i = 0; i < n; ++i) basis(model, s[i].x, s[i].y, phi[i].data());
  double cutoff = 0;
  for (int it = 0; it < options.iterations; ++it) {
    // M and offset with g fixed: per channel, scan_c = sum_k M_ck (g d_k) + o_c.
    Eigen::Matrix4d a = Eigen::Matrix4d::Zero();
    Eigen::Matrix<double, 4, 3> b = Eigen::Matrix<double, 4, 3>::Zero();
    for (size_t i = 0; i < n; ++i) {
      if (w[i] <= 0) continue;
      const Eigen::Vector4d f(g[i] * s[i].design[0], g[i] * s[i].design[1], g[i] * s[i].design[2], 1.0);
      a.noalias() += w[i] * f * f.transpose();
      for (int c = 0; c < 3; ++c) b.col(c) += w[i] * s[i].scan[c] * f;
    }
    for (int c = 0; c < 3; ++c) {
      Eigen::Vector4d prior = Eigen::Vector4d::Zero();
      prior[c] = 1;
      const Eigen::Vector4d x = solve_ridge<4>(a, b.col(c), prior);
      for (int k = 0; k < 3; ++k) model.m[3 * c + k] = x[k];
      model.offset[c] = x[3];
    }
    // The gain with M fixed: scan - o - Md = (c . phi) Md, three rows per sample.
    if (options.gain_field) {
      Eigen::Matrix<double, 5, 5> ga = Eigen::Matrix<double, 5, 5>::Zero();
      Eigen::Matrix<double, 5, 1> gb = Eigen::Matrix<double, 5, 1>::Zero();
      for (size_t i = 0; i < n; ++i) {
        if (w[i] <= 0) continue;
        for (int c = 0; c < 3; ++c) {
          const double md = model.m[3 * c] * s[i].design[0] + model.m[3 * c + 1] * s[i].design[1] +
                            model.m[3 * c + 2] * s[i].design[2];
          Eigen::Matrix<double, 5, 1> f;
          for (int k = 0; k < 5; ++k) f[k] = phi[i][k] * md;
          ga.noalias() += w[i] * f * f.transpose();
          gb += w[i] * (s[i].scan[c] - model.offset[c] - md) * f;
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
      double p[3];
      model.apply(s[i].x, s[i].y, s[i].design.data(), p);
      r[i] = std::sqrt((p[0] - s[i].scan[0]) * (p[0] - s[i].scan[0]) + (p[1] - s[i].scan[1]) * (p[1] - s[i].scan[1]) +
                       (p[2] - s[i].scan[2]) * (p[2] - s[i].scan[2]));
    }
    cutoff = 3 * median_of(r) + 2;
    for (size_t i = 0; i < n; ++i) {
      const double q = r[i] / cutoff;
      w[i] = q < 1 ? (1 - q * q) * (1 - q * q) : 0;
    }
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

std::string ColourModel::to_json_text() const {
  nlohmann::json j{{"matrix", m},
                   {"offset", offset},
                   {"gain", gain},
                   {"image", {image.width, image.height}},
                   {"residual_median", residual_median},
                   {"residual_rms", residual_rms},
                   {"inlier_fraction", inlier_fraction},
                   {"samples", samples}};
  return j.dump();
}

ColourModel ColourModel::from_json_text(const std::string& text) {
  ColourModel c;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    c.m = j.at("matrix").get<std::array<double, 9>>();
    c.offset = j.at("offset").get<std::array<double, 3>>();
    c.gain = j.at("gain").get<std::array<double, 5>>();
    c.image = Size{j.at("image").at(0).get<int64_t>(), j.at("image").at(1).get<int64_t>()};
    c.residual_median = j.at("residual_median").get<double>();
    c.residual_rms = j.at("residual_rms").get<double>();
    c.inlier_fraction = j.at("inlier_fraction").get<double>();
    c.samples = j.at("samples").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail_runtime(std::string("colour model: malformed message: ") + e.what());
  }
  return c;
}

}  // namespace alinify::defects
