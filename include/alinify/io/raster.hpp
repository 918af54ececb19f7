#pragma once
// Reading RGB rasters through GDAL, one window at a time.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"

typedef void* GDALDatasetH;

namespace alinify::io {

namespace detail {
class TiffBlocks;
}

struct RasterInfo {
  std::string path;
  Size size;
  int bands = 0;
  int overviews = 0;
  bool has_geotransform = false;
  std::array<double, 6> geotransform{0, 1, 0, 0, 0, 1};
  std::string projection;
  // The lossy compression the pixels were stored with ("JPEG", "WEBP"), empty for none or a
  // lossless one: JPEG's chroma at half resolution changes every colour edge (docs/defects.md).
  std::string lossy;
  // One band of indices into a colour table, read as the table's RGB (designs are often stored
  // so: a few inks, one byte a pixel).
  bool palette = false;
  // The last band is alpha (RGBA, or grey and alpha): every read composites the pixels over white
  // (composite_over_white), what a transparent part of a design stands for: no ink on the fabric.
  bool alpha = false;
  // A file of 16-bit samples is read as 8-bit through GDAL's scaling (an in-memory VRT over the
  // file): each colour sample v becomes round(v x 255 / depth_max), alpha v x 255 / 65535.
  // depth_max is 2^b - 1 for the b bits the samples use: NBITS when the file says it, otherwise
  // the smallest b >= 8 that holds the largest value GDAL finds in a sample of the blocks (a
  // 12-bit camera's TIFF holds 0..4095 in 16-bit samples). 8 for an 8-bit file (nothing scaled).
  int source_bits = 8;
  int depth_max = 255;
};

// "" for an 8-bit file; for a 16-bit one what it was read as (a line for the job's log).
std::string describe_depth(const RasterInfo& info);

// A pixel of colour c and (unassociated, as PNG and most TIFFs store it) alpha a over white, to
// the nearest level: c where a = 255, 255 where a = 0. A design exported with a transparent
// background mostly holds black under it (alpha 0, RGB 0); read as it is stored, the unprinted
// fabric (white in the scan) was black in the design and the pair was "not found" (score 0.128).
inline uint8_t composite_over_white(uint8_t c, uint8_t a) {
  return static_cast<uint8_t>((c * a + 255 * (255 - a) + 127) / 255);
}

// The largest raster accepted, checked on the header before anything is allocated: 2^18 pixels
// per side and 2^34 pixels in all (a 51 GiB RGB image; the scans are about 2^28).
constexpr int64_t kMaxRasterSide = int64_t(1) << 18;
constexpr int64_t kMaxRasterPixels = int64_t(1) << 34;

// GDAL drivers that may open an input: plain image formats. VRT and the other virtual formats
// (which can read arbitrary files or the network) only when --gdal-drivers names them.
inline constexpr std::array<const char*, 4> kDefaultDrivers{"GTiff", "COG", "PNG", "JPEG"};
// Replaces the list (comma-separated GDAL short names); an unknown name is a usage error.
void set_allowed_drivers(const std::string& comma_list);
const std::vector<std::string>& allowed_drivers();

// Registers GDAL drivers and sets the block cache once; quiet GDAL's own stderr printing
// (its errors become our exceptions instead).
void init_gdal(uint64_t cache_bytes = 64ull << 20);

class Raster {
 public:
  // Opens read-only and validates: a raster, 3 or 4 Byte bands (RGB; a 4th band GDAL calls alpha
  // is composited over white, another 4th band ignored), 1 Byte band (grey, replicated; with an RGB
  // or grey colour table, the table's colours: info().bands is then 3 for an RGB table, 4 for one
  // with transparent entries (alpha composited), 1 for a grey one, and info().palette true) or 2
  // (grey and alpha). Anything else is bad input naming the file.
  static Raster open(const std::string& path);
  Raster(Raster&&) noexcept;
  Raster& operator=(Raster&&) noexcept;
  ~Raster();

  const RasterInfo& info() const { return info_; }
  Size size() const { return info_.size; }

  // Pixel-interleaved RGB of the window (must lie inside the raster) into dst with row stride
  // `stride` bytes. A read failure (truncated file) is bad input naming the file. Plain 8-bit RGB
  // TIFFs are read with libtiff, block by block (the same bytes, a third of GDAL's copies); the
  // rest through GDAL. Not thread-safe (one Raster per thread), as GDAL's datasets are not.
  void read_rgb(const Window& w, uint8_t* dst, size_t stride) const;

  // Whether read_rgb goes through libtiff (a plain RGB TIFF) rather than GDAL.
  bool reads_tiff_blocks() const { return blocks_ != nullptr; }

  // Grey (0.299 R + 0.587 G + 0.114 B) of the window, averaged down to out_w x out_h (GDAL's
  // average resampling; GDAL uses the file's overviews when they fit the ratio).
  void read_grey_average(const Window& w, int out_w, int out_h, float* dst) const;

  // Pixel-interleaved RGB of the window averaged down to out_w x out_h (previews for QA pictures:
  // memory is the small output only; GDAL streams the window through its block cache).
  void read_rgb_average(const Window& w, int out_w, int out_h, uint8_t* dst) const;

 private:
  Raster() = default;
  struct AveragingSource;
  void expand_palette();
  void scale_to_8bit();
  void read_through_vrt(std::vector<std::string> args, const std::string& failure);
  // The alpha band of the window, composited over white into the RGB read_rgb put in dst.
  void composite_alpha(const Window& w, uint8_t* dst, size_t stride) const;
  void close();
  RasterInfo info_;
  GDALDatasetH ds_ = nullptr;
  // The file itself when ds_ is GDAL's in-memory VRT that expands its colour table (else null):
  // closed after ds_, which reads through it.
  GDALDatasetH file_ = nullptr;
  // read_rgb's reader for plain RGB TIFFs (src/io/tiff_blocks.hpp), null for other files.
  std::unique_ptr<detail::TiffBlocks> blocks_;
};

// The project's grey (ITU-R BT.601 luma weights), in float: the registration images, the
// refinement's blocks and the QA's similarity all weigh the channels so; decimate_grey's bytes
// equal GDAL's average only while both use this one expression.
inline float grey_of(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

// Quick validation without keeping the file open (used by every rank before work starts).
RasterInfo probe_raster(const std::string& path);

}  // namespace alinify::io
