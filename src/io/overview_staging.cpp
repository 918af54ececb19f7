#include "alinify/io/overview_staging.hpp"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <fcntl.h>
#include <gdal.h>
#include <gdal_priv.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/raw_tiff.hpp"
#include "alinify/io/tile_codec.hpp"
#include "output_helpers.hpp"

namespace alinify::io {
namespace {

// A file of packed RGB rows: one overview level's pixels. A temporary one (a level after x2) is
// removed with the object, after its use or a failure.
class LevelFile {
 public:
  LevelFile(std::string path, bool temporary) : path_(std::move(path)), temporary_(temporary) {
    fd_ = ::open(path_.c_str(), temporary ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0644);
    if (fd_ < 0) fail_runtime("cannot open " + path_ + ": " + std::strerror(errno));
  }
  ~LevelFile() {
    ::close(fd_);
    if (temporary_) ::unlink(path_.c_str());
  }
  LevelFile(const LevelFile&) = delete;
  LevelFile& operator=(const LevelFile&) = delete;
  void read(uint8_t* data, size_t n, uint64_t at) const { pread_all(fd_, data, n, at, path_); }
  void write(const uint8_t* data, size_t n, uint64_t at) const { pwrite_all(fd_, data, n, at, path_); }

 private:
  std::string path_;
  bool temporary_;
  int fd_ = -1;
};

// Places overview level `directory` (1: x2) from the packed pixels in `pixels`: its tiles encoded by
// the ranks' encoder, placed raw in the directory GDAL laid out with the output's compression and
// predictor. With `next`, the level after it is halved into that file on the way (both sides even).
void place_level(const std::string& tiff_path, const OutputSpec& spec, int directory, Size size,
                 const LevelFile& pixels, const LevelFile* next) {
  const int t = spec.tile;
  const Codec codec = codec_from_name(spec.compress);
  const Predictor predictor = predictor_from_name(spec.predictor);
  RawTileFile file(tiff_path, directory);
  if (file.width() != size.width || file.height() != size.height)
    fail_runtime(tiff_path + ": its overview " + std::to_string(directory) + " is " + std::to_string(file.width()) +
                 "x" + std::to_string(file.height()) + ", not " + std::to_string(size.width) + "x" +
                 std::to_string(size.height));
  if (file.compression() != tiff_compression_tag(codec) || file.predictor() != static_cast<int>(predictor))
    fail_runtime(tiff_path + ": overview " + std::to_string(directory) + " is laid out with compression " +
                 std::to_string(file.compression()) + " and predictor " + std::to_string(file.predictor()) +
                 ", the output's tiles are " + std::to_string(tiff_compression_tag(codec)) + " and " +
                 std::to_string(static_cast<int>(predictor)));
  TileEncoder encoder(codec, spec.compress_level, predictor);
  const size_t stride = static_cast<size_t>(size.width) * 3;
  std::vector<uint8_t> rows(stride * static_cast<size_t>(t)), tile_buf, half;
  for (int64_t ty = 0; ty * t < size.height; ++ty) {
    const int64_t y0 = ty * t, end = std::min<int64_t>(y0 + t, size.height);
    pixels.read(rows.data(), stride * static_cast<size_t>(end - y0), static_cast<uint64_t>(y0) * stride);
    file.write_row(encode_tile_row(encoder, rows.data(), stride, y0, end, ty, t, size.width, tile_buf));
    if (next) {  // tile rows are even (the tile is), and so is the last one (the height is)
      halve_rgb(rows.data(), stride, size.width, end - y0, half);
      next->write(half.data(), half.size(), static_cast<uint64_t>(y0 / 2) * static_cast<uint64_t>(size.width / 2) * 3);
    }
  }
  file.close();
}

// The levels GDAL laid out, from the staged x2 pixels: each level whose parent has even sides is
// the parent halved, as GDAL's AVERAGE makes it, placed here; the first level after one with an odd
// side, and those after it, GDAL computes from that level (returns its directory; `levels` + 1 when
// every level was placed here).
int place_even_levels(const std::string& tiff_path, const OutputSpec& spec, int levels) {
  Size size{spec.size.width / 2, spec.size.height / 2};
  auto pixels = std::make_unique<LevelFile>(x2_staging_path(spec), false);  // the caller's
  for (int directory = 1;; ++directory) {
    const bool halve = directory < levels && size.width % 2 == 0 && size.height % 2 == 0;
    std::unique_ptr<LevelFile> next;
    if (halve) next = std::make_unique<LevelFile>(x2_staging_path(spec) + "." + std::to_string(directory + 1), true);
    place_level(tiff_path, spec, directory, size, *pixels, next.get());
    if (!halve) return directory + 1;
    pixels = std::move(next);
    size = {size.width / 2, size.height / 2};
  }
}

// Overview directories [first, last] (1: x2), GDAL's, computed from directory first - 1 (read back
// through GDAL: the file's pixel-interleaved tiles).
void regenerate_levels(const std::string& tiff_path, const OutputSpec& spec, int first, int last) {
  const char* const threads[] = {"NUM_THREADS=ALL_CPUS", nullptr};
  CPLErrorReset();
  GDALDatasetH ds = GDALOpenEx(tiff_path.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE, nullptr, threads, nullptr);
  if (!ds) fail_runtime("cannot open " + tiff_path + " to add overviews: " + CPLGetLastErrorMsg());
  const OverviewEncodingLevel level(spec);
  GDALRasterBand* sources[3];
  std::vector<GDALRasterBand*> targets[3];
  GDALRasterBand* const* target_lists[3];
  bool complete = true;
  for (int b = 0; b < 3; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
    // Overview k - 1 of GDAL's list is directory k.
    sources[b] = GDALRasterBand::FromHandle(GDALGetOverview(band, first - 2));
    complete = complete && sources[b] != nullptr;
    for (int k = first; k <= last; ++k) {
      targets[b].push_back(GDALRasterBand::FromHandle(GDALGetOverview(band, k - 1)));
      complete = complete && targets[b].back() != nullptr;
    }
    target_lists[b] = targets[b].data();
  }
  const CPLErr e = complete
                       ? GDALRegenerateOverviewsMultiBand(3, sources, last - first + 1, target_lists,
                                                          spec.overview_resampling.c_str(), nullptr, nullptr, nullptr)
                       : CE_Failure;
  GDALClose(ds);
  if (e != CE_None)
    fail_runtime("building the smaller overviews of " + tiff_path + " failed: " +
                 (complete ? std::string(CPLGetLastErrorMsg()) : std::string("an overview level is missing")));
}

}  // namespace

bool overviews_from_x2(const OutputSpec& spec) {
  return compressed_by_ranks(spec) && spec.overviews && spec.bands == 3 && spec.size.width % 2 == 0 &&
         spec.size.height % 2 == 0 && spec.tile % 2 == 0 && !overview_factors(spec.size, spec.tile).empty();
}

std::string x2_staging_path(const OutputSpec& spec) { return partial_path(spec.path) + ".x2"; }

void halve_rgb(const uint8_t* rgb, size_t stride, int64_t width, int64_t rows, std::vector<uint8_t>& out) {
  const int64_t w2 = width / 2, r2 = rows / 2;
  out.resize(static_cast<size_t>(w2 * r2 * 3));
  for (int64_t j = 0; j < r2; ++j) {
    const uint8_t* a = rgb + static_cast<size_t>(2 * j) * stride;
    const uint8_t* b = a + stride;
    uint8_t* o = out.data() + static_cast<size_t>(j * w2 * 3);
    for (int64_t p = 0; p < w2; ++p)
      for (int c = 0; c < 3; ++c)
        o[3 * p + c] =
            static_cast<uint8_t>((a[6 * p + c] + a[6 * p + 3 + c] + b[6 * p + c] + b[6 * p + 3 + c] + 2) >> 2);
  }
}

X2Staging::X2Staging(const OutputSpec& spec) : path_(x2_staging_path(spec)), width_(spec.size.width) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd_ < 0) fail_runtime("cannot open " + path_ + " for the overviews: " + std::strerror(errno));
}

X2Staging::~X2Staging() {
  if (fd_ >= 0) ::close(fd_);
}

void X2Staging::write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride) {
  if (y0 % 2 != 0 || rows % 2 != 0)
    fail_runtime("x2 overview: strip rows [" + std::to_string(y0) + ", +" + std::to_string(rows) +
                 ") do not start and end on even rows");
  if (fd_ < 0) fail_runtime("x2 overview: " + path_ + " is closed");
  halve_rgb(rgb, stride, width_, rows, half_);
  pwrite_all(fd_, half_.data(), half_.size(), static_cast<uint64_t>(y0 / 2) * static_cast<uint64_t>(width_ / 2) * 3,
             path_);
}

void X2Staging::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail_runtime("closing " + path_ + " failed: " + std::strerror(errno));
}

void write_overviews_from_x2(const std::string& tiff_path, const OutputSpec& spec) {
  const std::vector<int> factors = overview_factors(spec.size, spec.tile);
  const double t0 = now_seconds();
  {
    // GDAL lays the levels out, empty: "NONE" computes nothing.
    CPLErrorReset();
    GDALDatasetH ds = GDALOpenEx(tiff_path.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE, nullptr, nullptr, nullptr);
    if (!ds) fail_runtime("cannot open " + tiff_path + " to add overviews: " + CPLGetLastErrorMsg());
    const CPLErr e =
        GDALBuildOverviews(ds, "NONE", static_cast<int>(factors.size()), factors.data(), 0, nullptr, nullptr, nullptr);
    GDALClose(ds);
    if (e != CE_None) fail_runtime("laying out the overviews of " + tiff_path + " failed: " + CPLGetLastErrorMsg());
  }
  const double t1 = now_seconds();
  const int levels = static_cast<int>(factors.size());
  const int first_by_gdal = place_even_levels(tiff_path, spec, levels);
  const double t2 = now_seconds();
  if (first_by_gdal <= levels) regenerate_levels(tiff_path, spec, first_by_gdal, levels);
  spdlog::debug(
      "overviews from the staged x2 level: laid out in {:.2f} s, {} level(s) placed in {:.2f} s, {} by "
      "GDAL in {:.2f} s",
      t1 - t0, first_by_gdal - 1, t2 - t1, levels - first_by_gdal + 1, now_seconds() - t2);
}

}  // namespace alinify::io
