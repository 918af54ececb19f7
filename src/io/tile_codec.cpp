#include "alinify/io/tile_codec.hpp"

#include <fmt/format.h>
#include <libdeflate.h>
#include <tiff.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "alinify/core/error.hpp"

namespace alinify::io {

int default_level(Codec codec) { return codec == Codec::kZstd ? kDefaultZstdLevel : codec == Codec::kDeflate ? 6 : 0; }

int checked_level(Codec codec, int level) {
  if (level == 0) return default_level(codec);
  const int top = codec == Codec::kZstd ? 19 : codec == Codec::kDeflate ? 12 : 0;
  if (codec == Codec::kNone) fail_usage("--compress-level: there is nothing to compress (--compress none)");
  if (level < 1 || level > top)
    fail_usage(fmt::format("--compress-level: {} is outside 1..{} for {}", level, top,
                           codec == Codec::kZstd ? "zstd" : "deflate"));
  return level;
}

Codec codec_from_name(const std::string& name) {
  if (name == "none") return Codec::kNone;
  if (name == "deflate") return Codec::kDeflate;
  if (name == "zstd") return Codec::kZstd;
  fail_usage("--compress: '" + name + "' is not one of none, deflate, zstd");
}

Predictor predictor_from_name(const std::string& name) {
  if (name == "horizontal") return Predictor::kHorizontal;
  if (name == "none") return Predictor::kNone;
  fail_usage("--predictor: '" + name + "' is not one of horizontal, none");
}

void difference_row(const uint8_t* __restrict src, uint8_t* __restrict dst, size_t valid, size_t row_bytes, int bands) {
  const size_t b = static_cast<size_t>(bands);
  for (size_t i = 0; i < std::min(b, valid); ++i) dst[i] = src[i];
  for (size_t i = b; i < valid; ++i) dst[i] = static_cast<uint8_t>(src[i] - src[i - b]);
  // The padding: zeros, so its first pixel is minus the last one in the image and the rest zero.
  for (size_t i = valid; i < row_bytes; ++i) dst[i] = i < b || i >= valid + b ? 0 : static_cast<uint8_t>(-src[i - b]);
}

uint16_t tiff_compression_tag(Codec codec) {
  switch (codec) {
    case Codec::kDeflate:
      return COMPRESSION_ADOBE_DEFLATE;
    case Codec::kZstd:
      return COMPRESSION_ZSTD;
    case Codec::kNone:
      break;
  }
  return COMPRESSION_NONE;
}

struct TileEncoder::State {
  Codec codec;
  int level = 0;
  Predictor predictor = Predictor::kHorizontal;
  ZSTD_CCtx* zstd = nullptr;
  libdeflate_compressor* deflate = nullptr;
  // Encoded here, then appended: growing `out` by the codec's bound would zero-fill it every tile.
  std::vector<char> scratch;
};

TileEncoder::TileEncoder(Codec codec, int level, Predictor predictor) : state_(std::make_unique<State>()) {
  state_->codec = codec;
  state_->predictor = predictor;
  state_->level = level == 0 ? default_level(codec) : level;
  if (codec == Codec::kZstd) {
    if (!(state_->zstd = ZSTD_createCCtx())) fail_runtime("cannot create a zstd context");
    ZSTD_CCtx_setParameter(state_->zstd, ZSTD_c_compressionLevel, state_->level);
    if (state_->level == 1) {
      // Level 1 with matches of at least 7 bytes and a 4096-entry hash table (zstd's level 1: 6 and
      // 8192). On the predictor's differences of a scan, noise makes short matches rare and costly
      // to look for: tiles of the 283 MP bench output encoded at 763 MB/s instead of 416 MB/s, to
      // 0.516 of their size instead of 0.519 (a scratch encoder over 1024 rows; on the design
      // 3135 against 2827 MB/s, 0.0131 against 0.0134). docs/performance-analysis.md.
      ZSTD_CCtx_setParameter(state_->zstd, ZSTD_c_minMatch, 7);
      ZSTD_CCtx_setParameter(state_->zstd, ZSTD_c_hashLog, 12);
    }
  }
  if (codec == Codec::kDeflate && !(state_->deflate = libdeflate_alloc_compressor(state_->level)))
    fail_runtime("cannot create a deflate compressor");
}

Predictor TileEncoder::predictor() const { return state_->predictor; }

TileEncoder::~TileEncoder() {
  if (state_->zstd) ZSTD_freeCCtx(state_->zstd);
  if (state_->deflate) libdeflate_free_compressor(state_->deflate);
}

size_t TileEncoder::encode(const uint8_t* data, size_t bytes, std::string& out) {
  switch (state_->codec) {
    case Codec::kNone:
      out.append(reinterpret_cast<const char*>(data), bytes);
      return bytes;
    case Codec::kZstd: {
      std::vector<char>& buf = state_->scratch;
      buf.resize(std::max(buf.size(), ZSTD_compressBound(bytes)));
      const size_t n = ZSTD_compress2(state_->zstd, buf.data(), buf.size(), data, bytes);
      if (ZSTD_isError(n)) fail_runtime(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      out.append(buf.data(), n);
      return n;
    }
    case Codec::kDeflate: {
      // TIFF's deflate (tag 8) is a zlib stream: header, deflate data, Adler-32.
      std::vector<char>& buf = state_->scratch;
      buf.resize(std::max(buf.size(), libdeflate_zlib_compress_bound(state_->deflate, bytes)));
      const size_t n = libdeflate_zlib_compress(state_->deflate, data, bytes, buf.data(), buf.size());
      if (n == 0) fail_runtime("deflate compression failed");
      out.append(buf.data(), n);
      return n;
    }
  }
  return 0;
}

void copy_tile(const uint8_t* strip, size_t stride, int64_t y0, int64_t strip_end, int64_t tx, int64_t ty, int tile,
               int64_t image_width, uint8_t* tile_buf, int bands, Predictor predictor) {
  const size_t row_bytes = static_cast<size_t>(tile) * bands;
  std::memset(tile_buf, 0, row_bytes * tile);  // the rows past the image's bottom edge stay zero either way
  const int64_t x0 = tx * tile;
  const int64_t w = std::min<int64_t>(tile, image_width - x0);
  const int64_t h = std::min<int64_t>(tile, strip_end - ty * tile);
  for (int64_t r = 0; r < h; ++r) {
    const uint8_t* src = strip + (ty * tile - y0 + r) * stride + x0 * bands;
    if (predictor == Predictor::kHorizontal)
      difference_row(src, tile_buf + r * row_bytes, static_cast<size_t>(w) * bands, row_bytes, bands);
    else
      std::memcpy(tile_buf + r * row_bytes, src, w * bands);
  }
}

EncodedRow encode_tile_row(TileEncoder& encoder, const uint8_t* strip, size_t stride, int64_t y0, int64_t strip_end,
                           int64_t ty, int tile, int64_t image_width, std::vector<uint8_t>& tile_buf) {
  EncodedRow row;
  row.row = ty;
  tile_buf.resize(static_cast<size_t>(tile) * tile * 3);
  // The raw size: appending never reallocates (pages past the encoded bytes are never touched).
  row.bytes.reserve(tile_buf.size() * static_cast<size_t>((image_width + tile - 1) / tile));
  for (int64_t tx = 0; tx * tile < image_width; ++tx) {
    copy_tile(strip, stride, y0, strip_end, tx, ty, tile, image_width, tile_buf.data(), 3, encoder.predictor());
    row.sizes.push_back(encoder.encode(tile_buf.data(), tile_buf.size(), row.bytes));
  }
  return row;
}

namespace {

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string EncodedRow::to_message(const std::string& prefix) const {
  std::string m;
  m.reserve(prefix.size() + 16 + 8 * sizes.size() + size());
  m += prefix;
  put_u64(m, static_cast<uint64_t>(row));
  put_u64(m, sizes.size());
  for (uint64_t s : sizes) put_u64(m, s);
  m.append(data(), size());
  return m;
}

EncodedRow EncodedRow::from_message(std::string&& message, size_t offset) {
  if (message.size() < offset + 16) fail_runtime("an encoded tile row message is too short");
  const std::string_view m(message.data() + offset, message.size() - offset);
  EncodedRow r;
  r.row = static_cast<int64_t>(get_u64(m, 0));
  const uint64_t n = get_u64(m, 8);
  if (n > (m.size() - 16) / 8) fail_runtime("an encoded tile row message is cut short");
  uint64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    r.sizes.push_back(get_u64(m, 16 + 8 * i));
    total += r.sizes.back();
  }
  const size_t head = 16 + 8 * n;
  if (total != m.size() - head) fail_runtime("an encoded tile row message has the wrong length");
  r.offset = offset + head;
  r.bytes = std::move(message);
  return r;
}

}  // namespace alinify::io
