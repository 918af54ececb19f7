#pragma once
// The output: one tiled RGB BigTIFF GeoTIFF that every rank writes its strips into in parallel.
// Uncompressed (and before a COG conversion), rank 0 lays the file out (GDAL creates an uncompressed
// tiled TIFF whose tiles all have fixed offsets); each rank then writes whole tiles with pwrite at
// those offsets (LaidOutTileWriter), so no two ranks ever touch the same bytes and no rank rewrites
// TIFF directories. Compressed, every rank encodes its own tiles and rank 0 places them
// (tile_codec.hpp, raw_tiff.hpp; the writer that moves them between ranks is in job). The file
// carries a temporary name until it is complete.
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
  int compress_level = 0;         // 0: the codec's default (io/tile_codec.hpp)
  // TIFF's predictor for compressed tiles (tile_codec.hpp); GDAL's overviews and the COG inherit it.
  std::string predictor = "horizontal";  // horizontal|none
  bool overviews = true;                 // internal overviews (x2, x4, ... down to one tile), for viewers
  // GDAL's resampling for the overviews: AVERAGE for the aligned scan (the mean colour of the fabric a
  // viewer pixel covers); RMS for the defect map, where an average would dilute a small defect away.
  std::string overview_resampling = "AVERAGE";
  int bands = 3;      // 3: RGB (the aligned output); 1: grey (the defect map; uncompressed only)
  bool cog = false;   // rewrite as a Cloud Optimized GeoTIFF (GDAL's COG driver) at the end
  RasterInfo georef;  // geotransform and projection copied from the design
};

std::string partial_path(const std::string& final_path);
// True when the ranks compress the tiles themselves (--compress without --cog); the file is then
// created sparse with its compression set, and filled with already encoded tiles.
bool compressed_by_ranks(const OutputSpec& spec);
// Rank 0: checks the output folder, creates the temporary file (laid out, or sparse and compressed).
void create_tiled_output(const OutputSpec& spec);

// Where a finished strip goes: every rank hands each of its strips to one of these.
class TileWriter {
 public:
  virtual ~TileWriter() = default;
  // rows [y0, y0+rows) of the output, pixel-interleaved (spec.bands bytes a pixel) with `stride` bytes per row;
  // y0 must be tile-aligned and rows a multiple of the tile height unless the strip ends the image.
  virtual void write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride) = 0;
};

// Uncompressed tiles written with pwrite at the offsets GDAL laid out.
class LaidOutTileWriter final : public TileWriter {
 public:
  // Every rank: opens the laid-out temporary file for writing tiles.
  explicit LaidOutTileWriter(const OutputSpec& spec);
  ~LaidOutTileWriter() override;
  LaidOutTileWriter(const LaidOutTileWriter&) = delete;
  LaidOutTileWriter& operator=(const LaidOutTileWriter&) = delete;
  void write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride) override;

 private:
  OutputSpec spec_;
  int fd_ = -1;
  int64_t tiles_x_ = 0, tiles_y_ = 0;
  std::vector<uint64_t> offsets_;  // per tile, row-major
  std::vector<uint8_t> tile_buf_;
};

// Rank 0, after every rank has written: overviews (averaged, internal; read back from the written
// tiles), a COG conversion if asked (a streaming GDAL pass), then rename to the final name.
void finish_output(const OutputSpec& spec);
// Removes the temporary file (after a failure anywhere).
void discard_output(const OutputSpec& spec);
// Overview factors 2, 4, ... until the longer side fits in one tile.
std::vector<int> overview_factors(Size size, int tile);

}  // namespace alinify::io
