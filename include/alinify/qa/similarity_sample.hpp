#pragma once
// Design-vs-scan similarity before and after alignment, at full resolution, on a sample of tiles
// spread over the design: "before" compares the design with the scan unmoved (same pixel
// indices), "after" with the aligned output. Memory: one tile of each image at a time.
#include "alinify/io/raster.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::qa {

struct SimilarityMeasure {
  double ncc = 0;  // mean over the tiles that have texture in both images (NaN when none)
  double mi = 0;   // bits, one joint histogram over every sampled pixel
  int tiles = 0;   // tiles measured
};

struct SimilarityReport {
  int tile_size = 0, tiles_sampled = 0, bins = 0;
  SimilarityMeasure before, after;
};

// "after" uses only tiles whose corners the transform maps inside the scan (elsewhere the output
// is fill); "before" only tiles that lie inside the scan.
SimilarityReport measure_similarity(const io::Raster& design, const io::Raster& scan, const io::Raster& aligned,
                                    const transform::Transform& t, int tiles = 36, int tile = 256, int bins = 32);

}  // namespace alinify::qa
