#pragma once
// Windows of a plain 8-bit RGB TIFF read with libtiff, one tile or strip at a time, for
// io::Raster::read_rgb. Why not GDAL's RasterIO for these files: GDAL's GTiff driver splits each
// pixel-interleaved block into one cache block per band and RasterIO interleaves them again, two
// copies of every byte; on the defect stage, which reads the design and the aligned scan back,
// that was a fifth of its time (docs/performance-analysis.md). libtiff decodes a block straight
// into a buffer that holds it as the file does, and rows are copied out of it once; the rows of an
// uncompressed RGB block are read from the file straight into the window (preadv).
#include <sys/uio.h>
#include <tiffio.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "alinify/core/geometry.hpp"

namespace alinify::io::detail {

class TiffBlocks {
 public:
  // The reader of `path` when its first image is one libtiff hands over as the pixels GDAL would
  // read: 8-bit unsigned samples, 3 or 4 of them per pixel (RGB; a 4th composited over white when
  // `alpha`, Raster's RasterInfo::alpha, else dropped), interleaved
  // (PLANARCONFIG_CONTIG), photometric RGB, bytes in the usual bit order, every block written (not
  // sparse), tiles or strips of at most 16 MiB in any compression libtiff decodes;
  // nullptr otherwise (GDAL reads it). `size` is the size GDAL reported.
  static std::unique_ptr<TiffBlocks> open_if_plain(const std::string& path, Size size, bool alpha);
  ~TiffBlocks();
  TiffBlocks(const TiffBlocks&) = delete;
  TiffBlocks& operator=(const TiffBlocks&) = delete;

  // Raster::read_rgb's contract: the window (inside the image) as RGB into dst, row stride `stride`.
  // A block libtiff cannot read (a truncated file) is bad input naming the file.
  void read_rgb(const Window& w, uint8_t* dst, size_t stride);

 private:
  // `samples` and `uncompressed` as open_if_plain read them from the file.
  TiffBlocks(const std::string& path, TIFF* tif, Size size, int samples, bool uncompressed, bool alpha);
  const std::vector<uint8_t>& block(int64_t bx, int64_t by);
  // Rows [y0, y1) of uncompressed block (bx, by) into rows_, read from the file directly: in an
  // uncompressed tile or strip the rows lie one after the other, bw_ x samples_ bytes each (TIFF
  // 6.0, section 15), at the offset libtiff gives (TIFFGetStrileOffset). False when the block's
  // byte count is too short for them (libtiff's reading then reports the problem).
  bool read_rows_raw(int64_t bx, int64_t by, int64_t y0, int64_t y1);
  // The file offset of row y of block `id` (block row `by`), uncompressed; whether the block's byte
  // count covers its rows up to y1.
  uint64_t row_offset(uint32_t id, int64_t by, int64_t y) const;
  bool holds_rows(uint32_t id, int64_t by, int64_t y1) const;
  // preadv of the pieces from offset `at` until all are filled (EINTR and short reads go on); an
  // error or the end of the file is bad input naming the file and block `id`.
  void read_fully(uint32_t id, uint64_t at, iovec* iov, int n);
  // Rows [y0, y1), columns [x0, x1) of uncompressed RGB block (bx, by) read from the file straight
  // into dst (row stride `stride`, dst at pixel (x0, y0)): one preadv() per up to 300 rows, the
  // kernel's copy out of the page cache the only one. The columns of the block outside [x0, x1)
  // land in a scratch row. False when the block's byte count is too short (block() then reports).
  bool scatter_rows(int64_t bx, int64_t by, int64_t x0, int64_t x1, int64_t y0, int64_t y1, uint8_t* dst,
                    size_t stride);

  std::string path_;
  TIFF* tif_;
  Size size_;
  bool tiled_;
  int64_t bw_, bh_, blocks_x_, samples_;
  // The blocks decoded last, most recent first, up to cap_ of them: about two rows of blocks, so
  // that windows moving down the image (strips with a halo, the refinement's blocks) decode each
  // block once.
  std::list<std::pair<int64_t, std::vector<uint8_t>>> lru_;
  std::unordered_map<int64_t, std::list<std::pair<int64_t, std::vector<uint8_t>>>::iterator> where_;
  size_t cap_;
  bool uncompressed_;
  bool alpha_;  // the 4th sample is alpha, composited over white
  std::vector<uint8_t> rows_;
  std::vector<uint8_t> scratch_;  // scatter_rows' columns outside the window
};

}  // namespace alinify::io::detail
