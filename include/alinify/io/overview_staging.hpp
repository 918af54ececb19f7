#pragma once
// Overviews of the rank-compressed output from the warp's own pass (issue 17 item 3). GDAL's
// overview pass after the warp decoded every full-resolution tile and encoded the overview tiles
// through libtiff on rank 0: about 2.3 s at 283 MP, most of it GDAL's regeneration and encoding
// (docs/performance-analysis.md, "Overviews from the same pass"). Here every rank halves its own
// strips into a raw staging file beside the output (`x2_staging_path`, pwrite at the rows' place:
// outputs are on a file system every rank sees). Rank 0 then places the levels GDAL lays out
// (GDALBuildOverviews with NONE): the x2 level's tiles encoded by the ranks' tile encoder and placed
// raw, and while it reads them, the x4 level halved from them into a temporary file, and so on while
// a level's sides are even; the levels after the first odd side GDAL computes from that level
// (GDALRegenerateOverviewsMultiBand: a few MB).
//
// A halved pixel is the mean of its 2x2 block rounded half up, which is GDAL's AVERAGE when both
// sides are even, and GDAL makes each level from the one before, so the overviews are GDAL's own
// to the byte (e2e test against GDAL's overviews of the uncompressed output). With an odd side
// GDAL's source windows are not aligned 2x2 blocks (its ratio is side / ceil(side / 2)), so a
// strip cannot make its x2 rows alone: such outputs keep GDAL's pass over the written tiles. At
// 283 MP compressed the overviews went from about 2.3 s to 0.7 s (docs/performance-analysis.md).
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/io/tiled_output.hpp"

namespace alinify::io {

// True when the ranks stage the x2 level of `spec`'s output: compressed by the ranks (not a COG),
// with overviews, RGB, even width, height and tile, and at least one overview level. Uncompressed
// outputs keep GDAL's pass: staged, the 283 MP output's overviews took 1.1-1.3 s more than none
// against 0.9 s by GDAL (the staging's writes add to a pass bound by writing, not by encoding).
bool overviews_from_x2(const OutputSpec& spec);
std::string x2_staging_path(const OutputSpec& spec);

// Rows [0, rows) of a `width`-pixel RGB strip (rows and width even) halved into `out`
// (rows / 2 rows of width / 2 pixels, packed).
void halve_rgb(const uint8_t* rgb, size_t stride, int64_t width, int64_t rows, std::vector<uint8_t>& out);

// Every rank: writes the x2 rows of its strips into the staging file.
class X2Staging {
 public:
  explicit X2Staging(const OutputSpec& spec);
  ~X2Staging();
  X2Staging(const X2Staging&) = delete;
  X2Staging& operator=(const X2Staging&) = delete;
  // Output rows [y0, y0 + rows), y0 and rows even.
  void write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride);
  // Before the rank tells rank 0 it is done: the rows are then in the file for rank 0 to read.
  void close();

 private:
  std::string path_;
  int64_t width_ = 0;
  int fd_ = -1;
  std::vector<uint8_t> half_;
};

// Rank 0, on the temporary output `tiff_path` once its full-resolution tiles are placed: the
// overview levels from the staged x2 pixels (see above). The staging file is left for the caller.
void write_overviews_from_x2(const std::string& tiff_path, const OutputSpec& spec);

}  // namespace alinify::io
