#include "alinify/io/raw_tiff.hpp"

#include <cpl_error.h>
#include <tiffio.h>

#include "alinify/core/error.hpp"

namespace alinify::io {

RawTileFile::RawTileFile(const std::string& path, int directory) : path_(path) {
  CPLErrorReset();  // GDAL routes libtiff's messages into CPLError once its GTiff driver is loaded
  tif_ = TIFFOpen(path.c_str(), "r+");
  if (!tif_) fail_runtime("cannot open " + path + " to place compressed tiles: " + CPLGetLastErrorMsg());
  if (directory > 0 && !TIFFSetDirectory(tif_, static_cast<tdir_t>(directory))) {
    TIFFClose(tif_);
    tif_ = nullptr;
    fail_runtime(path + " has no image " + std::to_string(directory) + " to place compressed tiles in");
  }
  uint32_t width = 0, height = 0, tw = 0, th = 0;
  if (!TIFFIsTiled(tif_) || !TIFFGetField(tif_, TIFFTAG_IMAGEWIDTH, &width) ||
      !TIFFGetField(tif_, TIFFTAG_IMAGELENGTH, &height) || !TIFFGetField(tif_, TIFFTAG_TILEWIDTH, &tw) ||
      !TIFFGetField(tif_, TIFFTAG_TILELENGTH, &th)) {
    TIFFClose(tif_);
    tif_ = nullptr;
    fail_runtime(path + " is not a tiled TIFF");
  }
  width_ = width;
  height_ = height;
  uint16_t compression = 1, predictor = 1;
  TIFFGetFieldDefaulted(tif_, TIFFTAG_COMPRESSION, &compression);
  // The Predictor tag belongs to the codecs that take it: libtiff has no value for it without one.
  if (compression != COMPRESSION_NONE) TIFFGetFieldDefaulted(tif_, TIFFTAG_PREDICTOR, &predictor);
  compression_ = compression;
  predictor_ = predictor;
  tiles_x_ = (width + tw - 1) / tw;
  tiles_y_ = (height + th - 1) / th;
}

RawTileFile::~RawTileFile() {
  if (tif_) TIFFClose(tif_);
}

void RawTileFile::write_row(const EncodedRow& row) {
  if (row.row < 0 || row.row >= tiles_y_ || static_cast<int64_t>(row.sizes.size()) != tiles_x_ ||
      row.offset > row.bytes.size())
    fail_runtime(path_ + ": tile row " + std::to_string(row.row) + " does not fit the file's tiles");
  size_t at = 0;
  for (int64_t tx = 0; tx < tiles_x_; ++tx) {
    const auto tile = static_cast<uint32_t>(row.row * tiles_x_ + tx);
    const auto n = static_cast<tmsize_t>(row.sizes[tx]);
    // libtiff only reads the buffer; its API takes it non-const.
    void* data = const_cast<char*>(row.data() + at);
    if (TIFFWriteRawTile(tif_, tile, data, n) != n)
      fail_runtime("writing tile " + std::to_string(tile) + " of " + path_ + " failed: " + CPLGetLastErrorMsg());
    at += row.sizes[tx];
  }
}

void RawTileFile::close() {
  CPLErrorReset();
  const bool ok = TIFFFlush(tif_) == 1;
  TIFFClose(tif_);
  tif_ = nullptr;
  if (!ok) fail_runtime("writing the tile index of " + path_ + " failed: " + CPLGetLastErrorMsg());
}

}  // namespace alinify::io
