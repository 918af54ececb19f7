// Registration error against a synthetic truth, with bounded memory: a linear histogram at 1e-4 px
// up to kLinearCap px and a log-scale histogram (1% bins) beyond; mean and max are exact.
#include "alinify/job/evaluate.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "alinify/core/error.hpp"

namespace alinify::job {

namespace {

constexpr double kBin = 1e-4;
constexpr double kLinearCap = 64.0;
constexpr int64_t kLinearBins = static_cast<int64_t>(kLinearCap / kBin);  // 640000
constexpr double kLogRatio = 1.01;
constexpr int64_t kLogBins = 2200;  // 64 * 1.01^2200 ~ 3e11 px: far beyond any meaningful error

struct Histogram {
  std::vector<std::atomic<uint64_t>> counts;
  Histogram() : counts(kLinearBins + kLogBins) {}

  static int64_t bin_of(double e) {
    if (e < kLinearCap) return std::min<int64_t>(static_cast<int64_t>(e / kBin), kLinearBins - 1);
    const int64_t k = static_cast<int64_t>(std::log(e / kLinearCap) / std::log(kLogRatio));
    return kLinearBins + std::clamp<int64_t>(k, 0, kLogBins - 1);
  }
  static double centre_of(int64_t b) {
    if (b < kLinearBins) return (static_cast<double>(b) + 0.5) * kBin;
    const double lo = kLinearCap * std::pow(kLogRatio, static_cast<double>(b - kLinearBins));
    return lo * std::sqrt(kLogRatio);
  }
  // The value at rank `rank` (0-based) in sorted order, to bin resolution.
  double quantile_at(uint64_t rank) const {
    uint64_t seen = 0;
    for (int64_t b = 0; b < static_cast<int64_t>(counts.size()); ++b) {
      seen += counts[b].load(std::memory_order_relaxed);
      if (seen > rank) return centre_of(b);
    }
    return centre_of(static_cast<int64_t>(counts.size()) - 1);
  }
};

}  // namespace

std::string EvalResult::to_json_text() const {
  nlohmann::json j;
  j["points"] = points;
  j["mean"] = mean;
  j["median"] = median;
  j["p95"] = p95;
  j["max"] = max;
  j["max_at"] = {max_at.x, max_at.y};
  return j.dump();
}

EvalResult evaluate(const transform::Transform& t, const synth::Truth& truth, int step) {
  if (step < 1) fail_usage("evaluate: step must be at least 1 pixel");
  if (truth.design.width <= 0 || truth.design.height <= 0 || truth.scan.width <= 0 || truth.scan.height <= 0)
    fail_input("truth", "design and scan sizes must be positive");
  const transform::TransformView view = t.view();
  const int64_t nx = (truth.design.width + step - 1) / step;
  const int64_t ny = (truth.design.height + step - 1) / step;
  const double xmax = truth.scan.width - 0.5, ymax = truth.scan.height - 0.5;

  Histogram hist;
  int64_t points = 0;
  double sum = 0;
  // Each row's largest error and where it is: the worst point is found in row order whatever the
  // threads' schedule (the first of equal ones).
  std::vector<double> row_max(static_cast<size_t>(ny), 0), row_max_x(static_cast<size_t>(ny), 0);
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : points, sum)
  for (int64_t j = 0; j < ny; ++j) {
    const double py = static_cast<double>(j * step);
    double& max = row_max[static_cast<size_t>(j)];
    for (int64_t i = 0; i < nx; ++i) {
      const double px = static_cast<double>(i * step);
      double qx, qy;
      transform::apply_view(view, px, py, &qx, &qy);
      if (!(qx >= -0.5 && qx <= xmax && qy >= -0.5 && qy <= ymax)) continue;  // NaN fails too
      const Vec2 back = truth.scan_to_design(Vec2{qx, qy});
      const double e = std::hypot(back.x - px, back.y - py);
      ++points;
      sum += e;
      if (e > max) {
        max = e;
        row_max_x[static_cast<size_t>(j)] = px;
      }
      hist.counts[Histogram::bin_of(e)].fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (points == 0) fail_input("transform", "no design point maps inside the scan");

  EvalResult r;
  r.points = points;
  r.mean = sum / static_cast<double>(points);
  const size_t worst = static_cast<size_t>(std::max_element(row_max.begin(), row_max.end()) - row_max.begin());
  const double max = row_max[worst];
  r.max = max;
  r.max_at = Vec2{row_max_x[worst], static_cast<double>(static_cast<int64_t>(worst) * step)};
  // Nearest-rank quantiles, to histogram resolution and never above the exact maximum.
  const auto rank = [&](double q) {
    const double k = std::ceil(q * static_cast<double>(points)) - 1;
    return static_cast<uint64_t>(std::clamp(k, 0.0, static_cast<double>(points - 1)));
  };
  r.median = std::min(hist.quantile_at(rank(0.5)), max);
  r.p95 = std::min(hist.quantile_at(rank(0.95)), max);
  return r;
}

}  // namespace alinify::job

namespace alinify::job {

DefectEvalResult evaluate_defects(const std::vector<defects::Defect>& found,
                                  const std::vector<synth::DefectTruth>& truth, double tolerance) {
  DefectEvalResult r;
  r.truth = static_cast<int64_t>(truth.size());
  r.found = static_cast<int64_t>(found.size());
  std::vector<bool> found_matched(found.size(), false);
  double sum = 0;
  std::vector<double> errors;
  for (const synth::DefectTruth& t : truth) {
    const double x0 = static_cast<double>(t.x0) - tolerance, y0 = static_cast<double>(t.y0) - tolerance;
    const double x1 = static_cast<double>(t.x1) + tolerance, y1 = static_cast<double>(t.y1) + tolerance;
    // Every detection overlapping the box is this defect's (a streak broken where it crosses print
    // of nearly its own colour comes out in pieces): their pixels together, area-weighted, locate it,
    // against where it visibly changed the print (the shape's centre for truth files without that).
    double sx = 0, sy = 0, area = 0;
    for (size_t i = 0; i < found.size(); ++i) {
      const defects::Defect& d = found[i];
      if (static_cast<double>(d.x1) < x0 || static_cast<double>(d.x0) > x1 || static_cast<double>(d.y1) < y0 ||
          static_cast<double>(d.y0) > y1)
        continue;
      found_matched[i] = true;
      const double a = static_cast<double>(std::max<int64_t>(d.area, 1));
      sx += a * d.cx;
      sy += a * d.cy;
      area += a;
    }
    if (area == 0) {
      r.missed.push_back(t.id);
      continue;
    }
    const double tx = t.visible_px > 0 ? t.visible_cx : t.cx, ty = t.visible_px > 0 ? t.visible_cy : t.cy;
    const double error = std::hypot(sx / area - tx, sy / area - ty);
    ++r.matched_truth;
    sum += error;
    errors.push_back(error);
    r.centroid_max = std::max(r.centroid_max, error);
  }
  for (size_t i = 0; i < found.size(); ++i)
    if (found_matched[i])
      ++r.matched_found;
    else
      r.spurious.push_back(found[i].id);
  // With nothing to find (or nothing found) the score is perfect on that side.
  r.recall = r.truth ? static_cast<double>(r.matched_truth) / static_cast<double>(r.truth) : 1.0;
  r.precision = r.found ? static_cast<double>(r.matched_found) / static_cast<double>(r.found) : 1.0;
  r.centroid_mean = r.matched_truth ? sum / static_cast<double>(r.matched_truth) : 0.0;
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    const size_t n = errors.size();
    r.centroid_median = n % 2 ? errors[n / 2] : 0.5 * (errors[n / 2 - 1] + errors[n / 2]);
    r.centroid_within_2px =
        static_cast<double>(std::count_if(errors.begin(), errors.end(), [](double e) { return e <= 2.0; })) /
        static_cast<double>(n);
  }
  return r;
}

std::string DefectEvalResult::to_json_text() const {
  nlohmann::json j{{"truth_defects", truth},
                   {"found_defects", found},
                   {"matched_truth", matched_truth},
                   {"matched_found", matched_found},
                   {"recall", recall},
                   {"precision", precision},
                   {"centroid_error_mean_px", centroid_mean},
                   {"centroid_error_max_px", centroid_max},
                   {"centroid_error_median_px", centroid_median},
                   {"centroid_within_2px", centroid_within_2px},
                   {"missed_truth_ids", missed},
                   {"spurious_found_ids", spurious}};
  return j.dump(2);
}

}  // namespace alinify::job
