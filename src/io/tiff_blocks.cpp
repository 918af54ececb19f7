#include "tiff_blocks.hpp"

#include <cpl_error.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "alinify/core/error.hpp"
#include "alinify/io/raster.hpp"

namespace alinify::io::detail {

namespace {

// Per reader (one per file and thread): two block rows of a 18960 px wide image of 256 px tiles
// are 29 MiB.
constexpr size_t kCacheBytes = size_t{32} << 20;
constexpr size_t kMaxBlockBytes = size_t{16} << 20;

template <class T>
bool field(TIFF* tif, ttag_t tag, T& v) {
  return TIFFGetFieldDefaulted(tif, tag, &v) == 1;
}

// A sparse file (GDAL's SPARSE_OK) leaves blocks unwritten, offset and byte count 0: GDAL reads
// them as 0 (or nodata), libtiff would read the file's header as pixels or fail. GDAL reads those.
bool all_blocks_written(TIFF* tif) {
  const uint32_t n = TIFFIsTiled(tif) ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
  for (uint32_t i = 0; i < n; ++i)
    if (TIFFGetStrileByteCount(tif, i) == 0) return false;
  return true;
}

}  // namespace

std::unique_ptr<TiffBlocks> TiffBlocks::open_if_plain(const std::string& path, Size size, bool alpha) {
  // GDAL has opened the file already, so its GTiff driver routes libtiff's warnings (GeoTIFF tags
  // libtiff does not know) and errors into CPLError, which prints nothing (init_gdal).
  TIFF* tif = TIFFOpen(path.c_str(), "rm");  // "m": read with pread, no mapping of the file
  if (!tif) return nullptr;
  uint16_t compression = COMPRESSION_NONE;
  uint32_t width = 0, height = 0;
  uint16_t bits = 0, samples = 0, planar = 0, photometric = 0, format = 0, fill = 0;
  const bool plain = field(tif, TIFFTAG_IMAGEWIDTH, width) && field(tif, TIFFTAG_IMAGELENGTH, height) &&
                     field(tif, TIFFTAG_BITSPERSAMPLE, bits) && field(tif, TIFFTAG_SAMPLESPERPIXEL, samples) &&
                     field(tif, TIFFTAG_PLANARCONFIG, planar) && field(tif, TIFFTAG_PHOTOMETRIC, photometric) &&
                     field(tif, TIFFTAG_SAMPLEFORMAT, format) && width == size.width && height == size.height &&
                     bits == 8 && (samples == 3 || samples == 4) && planar == PLANARCONFIG_CONTIG &&
                     photometric == PHOTOMETRIC_RGB && format == SAMPLEFORMAT_UINT &&
                     // libtiff reverses the bits of every byte of an LSB2MSB file; the raw-row
                     // read below would not.
                     field(tif, TIFFTAG_FILLORDER, fill) && fill == FILLORDER_MSB2LSB &&
                     field(tif, TIFFTAG_COMPRESSION, compression) && TIFFIsCODECConfigured(compression);
  // A block must stay small: a file written as one strip (a compressed one, or one libtiff does
  // not chop) would be the whole image in one buffer; GDAL reads such files in pieces.
  const tmsize_t block_bytes = plain ? (TIFFIsTiled(tif) ? TIFFTileSize(tif) : TIFFStripSize(tif)) : 0;
  if (!plain || block_bytes <= 0 || static_cast<size_t>(block_bytes) > kMaxBlockBytes || !all_blocks_written(tif)) {
    TIFFClose(tif);
    return nullptr;
  }
  return std::unique_ptr<TiffBlocks>(
      new TiffBlocks(path, tif, size, samples, compression == COMPRESSION_NONE, alpha && samples == 4));
}

TiffBlocks::TiffBlocks(const std::string& path, TIFF* tif, Size size, int samples, bool uncompressed, bool alpha)
    : path_(path),
      tif_(tif),
      size_(size),
      tiled_(TIFFIsTiled(tif) != 0),
      samples_(samples),
      uncompressed_(uncompressed),
      alpha_(alpha) {
  if (tiled_) {
    uint32_t tw = 0, th = 0;
    field(tif, TIFFTAG_TILEWIDTH, tw);
    field(tif, TIFFTAG_TILELENGTH, th);
    bw_ = tw;
    bh_ = th;
  } else {
    uint32_t rows = 0;
    field(tif, TIFFTAG_ROWSPERSTRIP, rows);
    bw_ = size.width;
    bh_ = std::clamp<int64_t>(rows, 1, size.height);
  }
  blocks_x_ = (size.width + bw_ - 1) / bw_;
  const size_t block_bytes = static_cast<size_t>(bw_ * bh_ * samples_);
  cap_ = std::min<size_t>(std::max<size_t>(2 * static_cast<size_t>(blocks_x_), 4),
                          std::max<size_t>(kCacheBytes / std::max<size_t>(block_bytes, 1), 4));
}

TiffBlocks::~TiffBlocks() { TIFFClose(tif_); }

const std::vector<uint8_t>& TiffBlocks::block(int64_t bx, int64_t by) {
  const int64_t index = by * blocks_x_ + bx;
  if (auto it = where_.find(index); it != where_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return lru_.front().second;
  }
  std::vector<uint8_t> buf;
  if (lru_.size() >= cap_) {  // reuse the oldest block's memory
    buf = std::move(lru_.back().second);
    where_.erase(lru_.back().first);
    lru_.pop_back();
  }
  buf.resize(static_cast<size_t>(bw_ * bh_ * samples_));
  CPLErrorReset();  // GDAL routes libtiff's messages into CPLError once its GTiff driver is loaded
  const auto n = static_cast<tmsize_t>(buf.size());
  const auto id = static_cast<uint32_t>(index);
  const tmsize_t got =
      tiled_ ? TIFFReadEncodedTile(tif_, id, buf.data(), n) : TIFFReadEncodedStrip(tif_, id, buf.data(), n);
  // A strip holds fewer rows at the bottom of the image; a tile is always whole.
  const int64_t rows = std::min(bh_, size_.height - by * bh_);
  if (got < static_cast<tmsize_t>((tiled_ ? bh_ : rows) * bw_ * samples_)) {
    const char* m = CPLGetLastErrorMsg();
    fail_input(path_, std::string(tiled_ ? "tile " : "strip ") + std::to_string(index) +
                          " cannot be read (truncated or corrupt file?)" + (m && *m ? std::string(": ") + m : ""));
  }
  lru_.emplace_front(index, std::move(buf));
  where_[index] = lru_.begin();
  return lru_.front().second;
}

void TiffBlocks::read_fully(uint32_t id, uint64_t at, iovec* iov, int n) {
  while (n > 0) {
    const ssize_t got = ::preadv(TIFFFileno(tif_), iov, n, static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail_input(path_, "block " + std::to_string(id) + " cannot be read: " + std::strerror(errno));
    if (got == 0) fail_input(path_, "block " + std::to_string(id) + " ends before its rows (truncated file?)");
    at += static_cast<uint64_t>(got);
    // A short read (a signal, the end of the file): on from the first piece not filled.
    for (size_t left = static_cast<size_t>(got); left > 0;) {
      const size_t take = std::min(left, iov->iov_len);
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + take;
      iov->iov_len -= take;
      left -= take;
      if (iov->iov_len == 0) ++iov, --n;
    }
  }
}

uint64_t TiffBlocks::row_offset(uint32_t id, int64_t by, int64_t y) const {
  return TIFFGetStrileOffset(tif_, id) + static_cast<uint64_t>((y - by * bh_) * bw_ * samples_);
}

bool TiffBlocks::holds_rows(uint32_t id, int64_t by, int64_t y1) const {
  return TIFFGetStrileByteCount(tif_, id) >= static_cast<uint64_t>((y1 - by * bh_) * bw_ * samples_);
}

bool TiffBlocks::read_rows_raw(int64_t bx, int64_t by, int64_t y0, int64_t y1) {
  const auto id = static_cast<uint32_t>(by * blocks_x_ + bx);
  if (!holds_rows(id, by, y1)) return false;
  rows_.resize(static_cast<size_t>((y1 - y0) * bw_ * samples_));
  iovec all{rows_.data(), rows_.size()};
  read_fully(id, row_offset(id, by, y0), &all, 1);
  return true;
}

bool TiffBlocks::scatter_rows(int64_t bx, int64_t by, int64_t x0, int64_t x1, int64_t y0, int64_t y1, uint8_t* dst,
                              size_t stride) {
  const auto id = static_cast<uint32_t>(by * blocks_x_ + bx);
  if (!holds_rows(id, by, y1)) return false;
  const size_t row = static_cast<size_t>(bw_ * 3);
  const size_t before = static_cast<size_t>(x0 - bx * bw_) * 3, used = static_cast<size_t>(x1 - x0) * 3;
  const size_t after = row - before - used;
  scratch_.resize(row);
  // Up to 3 pieces a row (before, the window's part, after); IOV_MAX is 1024 on Linux.
  constexpr int64_t kRowsPerCall = 300;
  iovec iov[3 * kRowsPerCall];
  for (int64_t r0 = y0; r0 < y1; r0 += kRowsPerCall) {
    const int64_t r1 = std::min(y1, r0 + kRowsPerCall);
    int n = 0;
    for (int64_t y = r0; y < r1; ++y) {
      if (before) iov[n++] = iovec{scratch_.data(), before};
      iov[n++] = iovec{dst + static_cast<size_t>(y - y0) * stride, used};
      if (after) iov[n++] = iovec{scratch_.data(), after};
    }
    read_fully(id, row_offset(id, by, r0), iov, n);
  }
  return true;
}

void TiffBlocks::read_rgb(const Window& w, uint8_t* dst, size_t stride) {
  if (w.x0 < 0 || w.y0 < 0 || w.width <= 0 || w.height <= 0 || w.x0 + w.width > size_.width ||
      w.y0 + w.height > size_.height)
    fail_runtime(path_ + ": window " + std::to_string(w.x0) + "," + std::to_string(w.y0) + " " +
                 std::to_string(w.width) + "x" + std::to_string(w.height) + " is not inside the image");
  const int64_t bx0 = w.x0 / bw_, bx1 = (w.x0 + w.width - 1) / bw_;
  const int64_t by0 = w.y0 / bh_, by1 = (w.y0 + w.height - 1) / bh_;
  for (int64_t by = by0; by <= by1; ++by)
    for (int64_t bx = bx0; bx <= bx1; ++bx) {
      const int64_t x0 = std::max(w.x0, bx * bw_), x1 = std::min(w.x0 + w.width, (bx + 1) * bw_);
      const int64_t y0 = std::max(w.y0, by * bh_), y1 = std::min(w.y0 + w.height, (by + 1) * bh_);
      uint8_t* at = dst + static_cast<size_t>(y0 - w.y0) * stride + static_cast<size_t>(x0 - w.x0) * 3;
      if (uncompressed_ && samples_ == 3 && scatter_rows(bx, by, x0, x1, y0, y1, at, stride)) continue;
      // A few rows of an uncompressed RGBA block not in the cache: those rows alone (the colour
      // samples of the defect stage take 3 rows of every 256), else the whole block, kept.
      const uint8_t* b = nullptr;
      int64_t first = by * bh_;
      if (uncompressed_ && 4 * (y1 - y0) < bh_ && !where_.count(by * blocks_x_ + bx) && read_rows_raw(bx, by, y0, y1)) {
        b = rows_.data();
        first = y0;
      } else {
        b = block(bx, by).data();
      }
      const size_t n = static_cast<size_t>(x1 - x0);
      for (int64_t y = y0; y < y1; ++y) {
        const uint8_t* src = b + ((y - first) * bw_ + (x0 - bx * bw_)) * samples_;
        uint8_t* out = dst + static_cast<size_t>(y - w.y0) * stride + static_cast<size_t>(x0 - w.x0) * 3;
        if (samples_ == 3) {
          std::memcpy(out, src, n * 3);
        } else if (alpha_) {
          for (size_t i = 0; i < n; ++i)
            for (int c = 0; c < 3; ++c) out[3 * i + c] = composite_over_white(src[4 * i + c], src[4 * i + 3]);
        } else {
          for (size_t i = 0; i < n; ++i) std::memcpy(out + 3 * i, src + samples_ * i, 3);
        }
      }
    }
}

}  // namespace alinify::io::detail
