#include "alinify/qa/similarity_sample.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "alinify/qa/similarity.hpp"

namespace alinify::qa {
namespace {

void read_grey(const io::Raster& r, const Window& w, std::vector<uint8_t>& rgb, std::vector<float>& grey) {
  const size_t n = static_cast<size_t>(w.width) * w.height;
  rgb.resize(3 * n);
  grey.resize(n);
  r.read_rgb(w, rgb.data(), static_cast<size_t>(w.width) * 3);
  for (size_t i = 0; i < n; ++i) grey[i] = io::grey_of(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
}

bool maps_inside(const transform::Transform& t, const Window& w, Size scan) {
  for (double y : {0.0, static_cast<double>(w.height - 1)})
    for (double x : {0.0, static_cast<double>(w.width - 1)}) {
      const Vec2 q = t.apply({w.x0 + x, w.y0 + y});
      if (!(q.x >= 0 && q.y >= 0 && q.x <= scan.width - 1 && q.y <= scan.height - 1)) return false;
    }
  return true;
}

struct Accumulator {
  JointHistogram hist;
  double ncc_sum = 0;
  int ncc_tiles = 0, tiles = 0;
  explicit Accumulator(int bins) : hist(bins) {}
  void add(const std::vector<float>& a, const std::vector<float>& b) {
    ++tiles;
    hist.add(a.data(), b.data(), a.size());
    const double c = normalized_cross_correlation(a.data(), b.data(), a.size());
    if (std::isfinite(c)) {
      ncc_sum += c;
      ++ncc_tiles;
    }
  }
  SimilarityMeasure result() const {
    SimilarityMeasure m;
    m.tiles = tiles;
    m.ncc = ncc_tiles ? ncc_sum / ncc_tiles : std::numeric_limits<double>::quiet_NaN();
    m.mi = hist.mutual_information();
    return m;
  }
};

}  // namespace

SimilarityReport measure_similarity(const io::Raster& design, const io::Raster& scan, const io::Raster& aligned,
                                    const transform::Transform& t, int tiles, int tile, int bins) {
  SimilarityReport r;
  r.bins = bins;
  const std::vector<Window> sample = sample_tiles(design.size(), tiles, tile);
  r.tiles_sampled = static_cast<int>(sample.size());
  r.tile_size = sample.empty() ? 0 : static_cast<int>(std::max(sample[0].width, sample[0].height));
  Accumulator before(bins), after(bins);
  std::vector<uint8_t> rgb;
  std::vector<float> d, other;
  for (const Window& w : sample) {
    read_grey(design, w, rgb, d);
    if (w.clipped(scan.size()) == w) {
      read_grey(scan, w, rgb, other);
      before.add(d, other);
    }
    if (maps_inside(t, w, scan.size())) {
      read_grey(aligned, w, rgb, other);
      after.add(d, other);
    }
  }
  r.before = before.result();
  r.after = after.result();
  return r;
}

}  // namespace alinify::qa
