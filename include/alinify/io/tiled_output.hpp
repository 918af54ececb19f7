#pragma once
// The output: one tiled RGB BigTIFF GeoTIFF that every rank writes its strips into in parallel.
// Rank 0 lays the file out (GDAL creates an uncompressed tiled TIFF whose tiles all have fixed
// offsets); each rank then writes whole tiles with pwrite at those offsets, so no two ranks ever
// touch the same bytes and no rank rewrites TIFF directories. Compression, when asked, is a final
// pass on rank 0. The file carries a temporary name until it is complete.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/io/raster.hpp"

namespace alinify::io {

struct OutputSpec {
  std::string path;  // final name
  Size size;
  int tile = 256;
  std::string compress = "none";  // none|deflate|zstd
  bool overviews = true;          // internal overviews (x2, x4, ... down to one tile), for viewers
  bool cog = false;               // rewrite as a Cloud Optimized GeoTIFF (GDAL's COG driver) at the end
  RasterInfo georef;              // geotransform and projection copied from the design
};

std::string partial_path(const std::string& final_path);
// Rank 0: checks the output folder, creates the laid-out temporary file.
void create_tiled_output(const OutputSpec& spec);

class TileWriter {
 public:
  // Every rank: opens the laid-out temporary file for writing tiles.
  explicit TileWriter(const OutputSpec& spec);
  ~TileWriter();
  TileWriter(const TileWriter&) = delete;
  TileWriter& operator=(const TileWriter&) = delete;
  // rows [y0, y0+rows) of the output, pixel-interleaved RGB with `stride` bytes per row;
  // y0 must be tile-aligned and rows a multiple of the tile height unless the strip ends the image.
  void write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride);

 private:
  OutputSpec spec_;
  int fd_ = -1;
  int64_t tiles_x_ = 0, tiles_y_ = 0;
  std::vector<uint64_t> offsets_;  // per tile, row-major
  std::vector<uint8_t> tile_buf_;
};

// Rank 0, after every rank has written: overviews (averaged, internal), compress or convert to a
// COG if asked (streaming GDAL passes), then rename to the final name.
void finish_output(const OutputSpec& spec);
// Removes the temporary file (after a failure anywhere).
void discard_output(const OutputSpec& spec);
// Overview factors 2, 4, ... until the longer side fits in one tile.
std::vector<int> overview_factors(Size size, int tile);

}  // namespace alinify::io
