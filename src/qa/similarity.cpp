#include "alinify/qa/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace alinify::qa {

double normalized_cross_correlation(const float* a, const float* b, size_t n) {
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // Below one grey level of spread there is nothing to correlate (a flat or fill-only tile).
  if (saa < n * 1.0 || sbb < n * 1.0) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

JointHistogram::JointHistogram(int bins) : bins_(std::max(2, bins)), counts_(static_cast<size_t>(bins_) * bins_, 0) {}

void JointHistogram::add(const float* a, const float* b, size_t n) {
  auto bin = [this](float v) { return std::clamp(static_cast<int>(v * bins_ / 256.0f), 0, bins_ - 1); };
  for (size_t i = 0; i < n; ++i) ++counts_[static_cast<size_t>(bin(b[i])) * bins_ + bin(a[i])];
  total_ += n;
}

double JointHistogram::mutual_information() const {
  if (total_ == 0) return 0;
  std::vector<double> pa(bins_, 0), pb(bins_, 0);
  for (int j = 0; j < bins_; ++j)
    for (int i = 0; i < bins_; ++i) {
      const double p = static_cast<double>(counts_[static_cast<size_t>(j) * bins_ + i]) / total_;
      pa[i] += p;
      pb[j] += p;
    }
  double mi = 0;
  for (int j = 0; j < bins_; ++j)
    for (int i = 0; i < bins_; ++i) {
      const double p = static_cast<double>(counts_[static_cast<size_t>(j) * bins_ + i]) / total_;
      if (p > 0) mi += p * std::log2(p / (pa[i] * pb[j]));
    }
  return mi;
}

std::vector<Window> sample_tiles(Size image, int count, int tile) {
  std::vector<Window> out;
  if (image.width <= 0 || image.height <= 0 || count <= 0) return out;
  // At most a third of each side: a tile covering a small image whole has its corners outside a
  // scan shifted or turned by a few px, and "after" would compare nothing (a 300x200 pair aligned
  // to 0.1 px was judged SUSPECT so).
  const int64_t tw = std::min<int64_t>(tile, std::max<int64_t>(1, image.width / 3));
  const int64_t th = std::min<int64_t>(tile, std::max<int64_t>(1, image.height / 3));
  // A grid whose aspect follows the image's: nx * ny ~ count.
  const double aspect = static_cast<double>(image.width) / image.height;
  int nx = std::max(1, static_cast<int>(std::lround(std::sqrt(count * aspect))));
  int ny = std::max(1, (count + nx - 1) / nx);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const int64_t cx = static_cast<int64_t>((i + 0.5) * image.width / nx);
      const int64_t cy = static_cast<int64_t>((j + 0.5) * image.height / ny);
      const int64_t x0 = std::clamp<int64_t>(cx - tw / 2, 0, image.width - tw);
      const int64_t y0 = std::clamp<int64_t>(cy - th / 2, 0, image.height - th);
      out.push_back(Window{x0, y0, tw, th});
    }
  return out;
}

}  // namespace alinify::qa
