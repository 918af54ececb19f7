#include "alinify/io/tiled_output.hpp"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <fcntl.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/io/overview_staging.hpp"
#include "alinify/io/tile_codec.hpp"
#include "output_helpers.hpp"

namespace fs = std::filesystem;

namespace alinify::io {
namespace {

std::string compressed_partial(const std::string& final_path) { return final_path + ".partial-compressed"; }

std::string gdal_compress_name(const std::string& c) {
  return c == "zstd" ? "ZSTD" : c == "deflate" ? "DEFLATE" : "NONE";
}

// The COG driver's LEVEL (zstd and deflate alike); with no compression it is ignored.
std::string cog_level(const OutputSpec& spec) {
  const Codec codec = codec_from_name(spec.compress);
  return std::to_string(codec == Codec::kNone ? 6 : checked_level(codec, spec.compress_level));
}

// GDAL's PREDICTOR creation option: 2 horizontal differencing, 1 none.
std::string gdal_predictor(const OutputSpec& spec) {
  return std::to_string(static_cast<int>(predictor_from_name(spec.predictor)));
}

void check_output_folder(const std::string& path) {
  fs::path dir = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_input(path, "output folder " + dir.string() + " does not exist");
  if (access(dir.c_str(), W_OK) != 0) fail_input(path, "output folder " + dir.string() + " is not writable");
}

}  // namespace

std::string partial_path(const std::string& final_path) { return final_path + ".partial"; }

bool compressed_by_ranks(const OutputSpec& spec) { return spec.compress != "none" && !spec.cog; }

void create_tiled_output(const OutputSpec& spec) {
  init_gdal();
  checked_level(codec_from_name(spec.compress), spec.compress_level);  // a usage error for anything else
  check_output_folder(spec.path);
  GDALDriverH drv = GDALGetDriverByName("GTiff");
  char** opts = nullptr;
  opts = CSLSetNameValue(opts, "TILED", "YES");
  opts = CSLSetNameValue(opts, "BLOCKXSIZE", std::to_string(spec.tile).c_str());
  opts = CSLSetNameValue(opts, "BLOCKYSIZE", std::to_string(spec.tile).c_str());
  opts = CSLSetNameValue(opts, "INTERLEAVE", "PIXEL");
  opts = CSLSetNameValue(opts, "BIGTIFF", "YES");
  opts = CSLSetNameValue(opts, "PHOTOMETRIC", spec.bands == 3 ? "RGB" : "MINISBLACK");
  if (spec.bands != 3 && spec.bands != 1) fail_runtime("an output has 1 or 3 bands, not " + std::to_string(spec.bands));
  // The ranks' tile encoder (tile_codec.hpp) takes RGB tiles; a grey output is written laid out.
  if (spec.bands != 3 && compressed_by_ranks(spec)) fail_runtime("a grey output is written uncompressed");
  if (compressed_by_ranks(spec)) {
    // Sparse: no tile is written now; rank 0 appends the ranks' encoded tiles (raw_tiff.hpp). GDAL
    // still writes the tags a reader needs, Compression and Predictor among them.
    opts = CSLSetNameValue(opts, "COMPRESS", gdal_compress_name(spec.compress).c_str());
    opts = CSLSetNameValue(opts, "PREDICTOR", gdal_predictor(spec).c_str());
    opts = CSLSetNameValue(opts, "SPARSE_OK", "TRUE");
  } else {
    // Not sparse: on close GDAL assigns every tile its offset (the file is extended, not written).
    opts = CSLSetNameValue(opts, "SPARSE_OK", "FALSE");
  }
  const std::string tmp = partial_path(spec.path);
  CPLErrorReset();
  GDALDatasetH ds = GDALCreate(drv, tmp.c_str(), static_cast<int>(spec.size.width), static_cast<int>(spec.size.height),
                               spec.bands, GDT_Byte, opts);
  CSLDestroy(opts);
  if (!ds) fail_runtime("cannot create " + tmp + ": " + CPLGetLastErrorMsg());
  if (spec.georef.has_geotransform) GDALSetGeoTransform(ds, const_cast<double*>(spec.georef.geotransform.data()));
  if (!spec.georef.projection.empty()) GDALSetProjection(ds, spec.georef.projection.c_str());
  GDALClose(ds);
}

LaidOutTileWriter::LaidOutTileWriter(const OutputSpec& spec) : spec_(spec) {
  init_gdal();
  const std::string tmp = partial_path(spec.path);
  tiles_x_ = (spec.size.width + spec.tile - 1) / spec.tile;
  tiles_y_ = (spec.size.height + spec.tile - 1) / spec.tile;
  {
    GDALDatasetH ds = GDALOpen(tmp.c_str(), GA_ReadOnly);
    if (!ds) fail_runtime("cannot open the laid-out output " + tmp + ": " + CPLGetLastErrorMsg());
    GDALRasterBandH band = GDALGetRasterBand(ds, 1);
    offsets_.resize(static_cast<size_t>(tiles_x_ * tiles_y_));
    for (int64_t ty = 0; ty < tiles_y_; ++ty)
      for (int64_t tx = 0; tx < tiles_x_; ++tx) {
        std::string key = "BLOCK_OFFSET_" + std::to_string(tx) + "_" + std::to_string(ty);
        const char* v = GDALGetMetadataItem(band, key.c_str(), "TIFF");
        if (!v) {
          GDALClose(ds);
          fail_runtime(tmp + ": tile " + std::to_string(tx) + "," + std::to_string(ty) + " has no offset");
        }
        offsets_[ty * tiles_x_ + tx] = std::strtoull(v, nullptr, 10);
      }
    GDALClose(ds);
  }
  fd_ = ::open(tmp.c_str(), O_WRONLY);
  if (fd_ < 0) fail_runtime("cannot open " + tmp + " for writing: " + std::strerror(errno));
  tile_buf_.resize(static_cast<size_t>(spec.tile) * spec.tile * spec.bands);
}

LaidOutTileWriter::~LaidOutTileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void LaidOutTileWriter::write_strip(int64_t y0, int64_t rows, const uint8_t* rgb, size_t stride) {
  const int t = spec_.tile;
  if (y0 % t != 0) fail_runtime("strip start " + std::to_string(y0) + " is not tile-aligned");
  if (rows % t != 0 && y0 + rows != spec_.size.height) fail_runtime("strip rows are not tile-aligned");
  const int64_t end = std::min(y0 + rows, spec_.size.height);
  for (int64_t ty = y0 / t; ty * t < y0 + rows; ++ty) {
    for (int64_t tx = 0; tx < tiles_x_; ++tx) {
      copy_tile(rgb, stride, y0, end, tx, ty, t, spec_.size.width, tile_buf_.data(), spec_.bands);
      pwrite_all(fd_, tile_buf_.data(), tile_buf_.size(), offsets_[ty * tiles_x_ + tx], partial_path(spec_.path));
    }
  }
}

std::vector<int> overview_factors(Size size, int tile) {
  std::vector<int> f;
  for (int k = 2; (std::max(size.width, size.height) + k / 2 - 1) / (k / 2) > tile && k <= (1 << 20); k *= 2)
    f.push_back(k);
  return f;
}

namespace {

void build_overviews(const std::string& path, const OutputSpec& spec) {
  std::vector<int> factors = overview_factors(spec.size, spec.tile);
  if (factors.empty()) return;
  const char* open_options[] = {"NUM_THREADS=ALL_CPUS", nullptr};
  // The overview tiles at the level of the full-resolution ones.
  const OverviewEncodingLevel level(spec);
  GDALDatasetH ds = GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE, nullptr, open_options, nullptr);
  if (!ds) fail_runtime("cannot open " + path + " to add overviews: " + CPLGetLastErrorMsg());
  CPLErrorReset();
  // The spec's resampling (AVERAGE for the scan: the mean colour of the fabric a viewer pixel covers).
  CPLErr e = GDALBuildOverviews(ds, spec.overview_resampling.c_str(), static_cast<int>(factors.size()), factors.data(),
                                0, nullptr, nullptr, nullptr);
  GDALClose(ds);
  if (e != CE_None) fail_runtime("building overviews of " + path + " failed: " + CPLGetLastErrorMsg());
}

// One GDALTranslate pass from src to dst with creation options; dst is removed on failure.
void translate(const std::string& src_path, const std::string& dst_path, const std::vector<std::string>& argv,
               const std::string& what) {
  char** args = nullptr;
  for (const std::string& a : argv) args = CSLAddString(args, a.c_str());
  GDALTranslateOptions* o = GDALTranslateOptionsNew(args, nullptr);
  CSLDestroy(args);
  GDALDatasetH src = GDALOpen(src_path.c_str(), GA_ReadOnly);
  int usage_error = 0;
  GDALDatasetH dst = src ? GDALTranslate(dst_path.c_str(), src, o, &usage_error) : nullptr;
  GDALTranslateOptionsFree(o);
  if (src) GDALClose(src);
  if (!dst) {
    std::error_code ec;
    fs::remove(dst_path, ec);
    fail_runtime(what + " " + src_path + " failed: " + CPLGetLastErrorMsg());
  }
  GDALClose(dst);
}

}  // namespace

void finish_output(const OutputSpec& spec) {
  const std::string tmp = partial_path(spec.path);
  std::string ready = tmp;
  const std::string block = std::to_string(spec.tile);
  if (spec.cog) {
    // The COG driver lays out tiles and overviews in the order viewers fetch them; it builds the
    // overviews itself (from a temporary file, streaming), so the GTiff ones are skipped.
    const std::string ctmp = compressed_partial(spec.path);
    translate(
        tmp, ctmp,
        {"-of", "COG", "-co", "BLOCKSIZE=" + block, "-co", "BIGTIFF=YES", "-co", "NUM_THREADS=ALL_CPUS", "-co",
         "COMPRESS=" + gdal_compress_name(spec.compress), "-co", "RESAMPLING=AVERAGE", "-co",
         std::string("OVERVIEWS=") + (spec.overviews ? "AUTO" : "NONE"), "-co", "LEVEL=" + cog_level(spec), "-co",
         std::string("PREDICTOR=") + (predictor_from_name(spec.predictor) == Predictor::kHorizontal ? "YES" : "NO")},
        "writing a Cloud Optimized GeoTIFF from");
    fs::remove(tmp);
    ready = ctmp;
  } else if (spec.overviews && overviews_from_x2(spec)) {
    // Compressed by the ranks, with even sides: from the x2 level the ranks staged (overview_staging.hpp).
    write_overviews_from_x2(tmp, spec);
  } else if (spec.overviews) {
    // Otherwise the overviews are read back from the full-resolution tiles here (rank 0, GDAL
    // encoding the overview tiles with all cores).
    build_overviews(tmp, spec);
  }
  std::error_code ignored, ec;
  fs::remove(x2_staging_path(spec), ignored);
  fs::rename(ready, spec.path, ec);
  if (ec) fail_runtime("cannot rename " + ready + " to " + spec.path + ": " + ec.message());
}

void discard_output(const OutputSpec& spec) {
  std::error_code ec;
  fs::remove(partial_path(spec.path), ec);
  fs::remove(compressed_partial(spec.path), ec);
  fs::remove(x2_staging_path(spec), ec);
}

}  // namespace alinify::io
