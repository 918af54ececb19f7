#pragma once
// Similarity of two grey images sampled at full resolution: normalised cross-correlation (tile by
// tile, so that slow lighting changes across a scan do not count) and mutual information (one
// joint histogram over every sampled pixel). Pure functions: no I/O.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "alinify/core/geometry.hpp"

namespace alinify::qa {

// Pearson correlation of a and b over n pixels; NaN when either is flat (no texture to compare).
double normalized_cross_correlation(const float* a, const float* b, size_t n);

// Joint histogram of two grey images in 0..255, `bins` bins per axis.
class JointHistogram {
 public:
  explicit JointHistogram(int bins = 32);
  void add(const float* a, const float* b, size_t n);
  // Mutual information in bits (0 for independent images, up to log2(bins)).
  double mutual_information() const;
  uint64_t samples() const { return total_; }

 private:
  int bins_;
  std::vector<uint64_t> counts_;  // bins x bins, a's bin fastest
  uint64_t total_ = 0;
};

// `count` tiles of `tile` x `tile` pixels (at most a third of each side) on a regular grid spread over
// the whole image, centred in their grid cells. Deterministic, so before and after see the same tiles.
std::vector<Window> sample_tiles(Size image, int count, int tile);

}  // namespace alinify::qa
