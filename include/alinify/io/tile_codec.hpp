#pragma once
// Compressing the output's tiles where they are made: every rank encodes the tiles of its own
// strips with the compression libraries themselves (zstd, libdeflate), in the byte format a TIFF
// reader expects for that Compression tag, so that rank 0 only has to place the bytes in the file
// (raw_tiff.hpp). One row of tiles travels as one EncodedRow.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"

namespace alinify::io {

enum class Codec { kNone, kDeflate, kZstd };

// none|deflate|zstd; a usage error otherwise (names the --compress option).
Codec codec_from_name(const std::string& name);
// zstd level 1, not GDAL's ZSTD_LEVEL default of 9 nor zstd's own 3: on tiles of the 283 MP bench
// pair's aligned scan after the horizontal predictor, level 1 encoded 4x faster than level 3 and
// 7 % smaller, and level 19 was no smaller (docs/performance-analysis.md, "The predictor").
constexpr int kDefaultZstdLevel = 1;
// The level `0` stands for: zstd 1, deflate 6 (GDAL's ZLEVEL and zlib's default), none 0.
int default_level(Codec codec);
// `level` (0: the default) checked against the codec's range (zstd 1..19, deflate 1..12, as
// libdeflate takes them); a usage error naming --compress-level otherwise. Returns the level used.
int checked_level(Codec codec, int level);
// The TIFF Compression tag value: 1 none, 8 Adobe deflate (a zlib stream), 50000 ZSTD (one zstd frame).
uint16_t tiff_compression_tag(Codec codec);

// TIFF's Predictor tag: 1 none, 2 horizontal differencing (each byte minus the same channel's byte
// one pixel to its left, within a tile row). Scans are smooth from pixel to pixel at the scale of
// the camera's noise, so the differences are small numbers that compress better and faster.
enum class Predictor { kNone = 1, kHorizontal = 2 };
// none|horizontal; a usage error otherwise (names the --predictor option).
Predictor predictor_from_name(const std::string& name);
// One tile row under TIFF predictor 2: dst[i] = src[i] - src[i - bands] (modulo 256; the first
// pixel as it is) over the `valid` bytes that lie in the image, then the zeros that pad the row to
// `row_bytes` differenced the same way. Out of place, so the compiler vectorises it.
void difference_row(const uint8_t* __restrict src, uint8_t* __restrict dst, size_t valid, size_t row_bytes, int bands);

// One tile's compressor; keeps its context between tiles. Not thread-safe (one per rank).
class TileEncoder {
 public:
  // level 0: default_level(codec).
  explicit TileEncoder(Codec codec, int level = 0, Predictor predictor = Predictor::kHorizontal);
  Predictor predictor() const;
  ~TileEncoder();
  TileEncoder(const TileEncoder&) = delete;
  TileEncoder& operator=(const TileEncoder&) = delete;
  // Appends the encoded `bytes` bytes at `data` to `out`; returns the encoded size.
  size_t encode(const uint8_t* data, size_t bytes, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Copies tile (tx, row of the strip) out of a strip buffer whose first row is output row y0,
// padding past the image's right and bottom edges with zeros (as a TIFF tile must be whole);
// `bands` bytes a pixel; with the horizontal predictor, the rows come out differenced.
void copy_tile(const uint8_t* strip, size_t stride, int64_t y0, int64_t strip_end, int64_t tx, int64_t ty, int tile,
               int64_t image_width, uint8_t* tile_buf, int bands = 3, Predictor predictor = Predictor::kNone);

// One row of encoded tiles: tile row `row` of the output, tile sizes left to right, bytes concatenated
// from `bytes[offset]` on (a row taken from a message keeps the message and skips its header).
struct EncodedRow {
  int64_t row = 0;
  std::vector<uint64_t> sizes;
  std::string bytes;
  size_t offset = 0;

  const char* data() const { return bytes.data() + offset; }
  size_t size() const { return bytes.size() - offset; }
  // A message: `prefix` (the sender's own header, if any), row, count, sizes (little-endian
  // uint64), then the bytes; built in one allocation (a row is tens of MB at full size).
  std::string to_message(const std::string& prefix = {}) const;
  // The inverse, reading from `offset` (past the sender's prefix); a runtime error if it is not
  // one. The row keeps the message's bytes where they are (rank 0 places the other ranks' rows
  // straight from the message: a copy of every byte they send, and its page faults, saved).
  static EncodedRow from_message(std::string&& message, size_t offset = 0);
};

// Encodes every tile of output tile row `ty` (the encoder's predictor applied first) from a strip buffer (rows [y0,
// strip_end) of the output).
EncodedRow encode_tile_row(TileEncoder& encoder, const uint8_t* strip, size_t stride, int64_t y0, int64_t strip_end,
                           int64_t ty, int tile, int64_t image_width, std::vector<uint8_t>& tile_buf);

}  // namespace alinify::io
