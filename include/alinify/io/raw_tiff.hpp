#pragma once
// Rank 0's half of the rank-compressed output: places tiles that the ranks have already encoded
// (tile_codec.hpp) into the file GDAL laid out, with libtiff's raw-tile API. GDAL writes the
// structure (tags, georeferencing) when it creates the file sparse; libtiff appends each tile's
// bytes and records its offset and size; no pixel is decoded or encoded here.
#include <cstdint>
#include <string>

#include "alinify/io/tile_codec.hpp"

typedef struct tiff TIFF;

namespace alinify::io {

class RawTileFile {
 public:
  // Opens `path` (a tiled TIFF whose compression is already set) for appending tiles to its
  // `directory`-th image (0: the full resolution; GDAL's internal overviews follow it).
  explicit RawTileFile(const std::string& path, int directory = 0);
  ~RawTileFile();  // closes without the final flush check (after a failure)
  RawTileFile(const RawTileFile&) = delete;
  RawTileFile& operator=(const RawTileFile&) = delete;

  // Appends the tiles of one tile row (any order of rows; the file keeps an offset per tile).
  void write_row(const EncodedRow& row);
  // Writes the tile offsets and sizes and closes the file; a runtime error if libtiff cannot.
  void close();
  // The directory's image size in pixels.
  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  // Its Compression and Predictor tags (1 where absent).
  int compression() const { return compression_; }
  int predictor() const { return predictor_; }

 private:
  std::string path_;
  TIFF* tif_ = nullptr;
  int64_t width_ = 0, height_ = 0;
  int compression_ = 1, predictor_ = 1;
  int64_t tiles_x_ = 0, tiles_y_ = 0;
};

}  // namespace alinify::io
