#include "alinify/io/raster.hpp"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <gdal_utils.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <vector>

#include "alinify/core/error.hpp"
#include "tiff_blocks.hpp"

namespace alinify::io {
namespace {

std::string last_gdal_error() {
  const char* m = CPLGetLastErrorMsg();
  return m && *m ? std::string(m) : std::string("unknown GDAL error");
}

// Plain image formats only by default: a VRT (or another "virtual" format) can read any file the
// process can read, run pixel functions, or reach the network, so it must be asked for.
std::vector<std::string>& allowed_list() {
  static std::vector<std::string> list(kDefaultDrivers.begin(), kDefaultDrivers.end());
  return list;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace

void set_allowed_drivers(const std::string& comma_list) {
  init_gdal();
  std::vector<std::string> list;
  std::stringstream ss(comma_list);
  for (std::string name; std::getline(ss, name, ',');) {
    if (name.empty()) continue;
    if (!GDALGetDriverByName(name.c_str()))
      fail_usage("--gdal-drivers: '" + name + "' is not a GDAL driver of this installation (gdalinfo --formats)");
    list.push_back(name);
  }
  if (list.empty()) fail_usage("--gdal-drivers: the list is empty");
  allowed_list() = list;
}

const std::vector<std::string>& allowed_drivers() { return allowed_list(); }

void init_gdal(uint64_t cache_bytes) {
  static std::once_flag once;
  std::call_once(once, [&] {
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    // libjpeg reports a file cut short ("Premature end of JPEG file") as a warning and fills the
    // rest grey: GDAL then reads a truncated JPEG without an error. As an error, the read fails
    // and names the file.
    CPLSetConfigOption("GDAL_ERROR_ON_LIBJPEG_WARNING", "TRUE");
    GDALSetCacheMax64(static_cast<GIntBig>(cache_bytes));
  });
}

Raster::Raster(Raster&& o) noexcept
    : info_(std::move(o.info_)), ds_(o.ds_), file_(o.file_), blocks_(std::move(o.blocks_)) {
  o.ds_ = nullptr;
  o.file_ = nullptr;
}
Raster& Raster::operator=(Raster&& o) noexcept {
  if (this != &o) {
    close();
    info_ = std::move(o.info_);
    ds_ = o.ds_;
    file_ = o.file_;
    o.ds_ = nullptr;
    o.file_ = nullptr;
    blocks_ = std::move(o.blocks_);
  }
  return *this;
}
Raster::~Raster() { close(); }

void Raster::close() {
  if (ds_) GDALClose(ds_);
  if (file_) GDALClose(file_);
  ds_ = file_ = nullptr;
}

// A band of colour-table indices read as what they stand for: GDAL's own expansion (gdal_translate
// -expand, as an in-memory VRT over the open file), so that every read, averaged ones included,
// sees the colours and not the indices. An index image averaged or compared as grey is noise: a
// 256-colour design was "not found in the scan" (score 0.17) before.
void Raster::expand_palette() {
  GDALRasterBandH band = GDALGetRasterBand(ds_, 1);
  GDALColorTableH table = GDALGetRasterColorTable(band);
  if (!table || GDALGetRasterColorInterpretation(band) != GCI_PaletteIndex) return;
  const GDALPaletteInterp kind = GDALGetPaletteInterpretation(table);
  if (kind != GPI_RGB && kind != GPI_Gray)
    fail_input(info_.path, std::string("has a ") + GDALGetPaletteInterpretationName(kind) +
                               " colour table; RGB or grey colour tables expected");
  // A table with transparent entries (an indexed PNG's tRNS) is expanded with its alpha, which
  // read_rgb then composites over white as for any RGBA file.
  bool transparent = false;
  for (int i = 0; i < GDALGetColorEntryCount(table); ++i) transparent |= GDALGetColorEntry(table, i)->c4 < 255;
  read_through_vrt({"-expand", kind == GPI_Gray ? "gray"
                               : transparent    ? "rgba"
                                                : "rgb"},
                   "its colour table could not be expanded");
  info_.bands = GDALGetRasterCount(ds_);
  info_.palette = true;
  info_.alpha = info_.bands == 4;
}

// 16-bit samples read as 8-bit by GDAL's own scaling (gdal_translate -ot Byte -scale, as an
// in-memory VRT over the open file), so that every read, averaged ones included, sees 8-bit
// levels: the warp, the comparison and the output are 8-bit. Scaled by the bits the samples use,
// not by 65535: a 12-bit camera's values (0..4095) read over the full 16-bit range would leave 16
// levels.
void Raster::scale_to_8bit() {
  if (file_) fail_input(info_.path, "has a 16-bit colour table; 8-bit colour tables expected");
  const int colour_bands = info_.alpha ? info_.bands - 1 : info_.bands;
  int bits = 0;
  if (const char* nbits = GDALGetMetadataItem(GDALGetRasterBand(ds_, 1), "NBITS", "IMAGE_STRUCTURE"))
    bits = std::atoi(nbits);
  if (bits < 8 || bits > 16) {
    double top = 0;
    for (int b = 1; b <= colour_bands; ++b) {
      double min_max[2] = {0, 0};
      CPLErrorReset();
      // Approximate: GDAL samples the blocks (or reads an overview), not the whole image.
      if (GDALComputeRasterMinMax(GDALGetRasterBand(ds_, b), TRUE, min_max) != CE_None)
        fail_input(info_.path, "its 16-bit values could not be read: " + last_gdal_error());
      top = std::max(top, min_max[1]);
    }
    bits = 8;
    while (bits < 16 && top > (1 << bits) - 1) ++bits;
  }
  info_.source_bits = 16;
  info_.depth_max = (1 << bits) - 1;
  std::vector<std::string> args = {"-ot", "Byte"};
  for (int b = 1; b <= info_.bands; ++b) {
    const bool alpha = info_.alpha && b == info_.bands;  // alpha uses the whole range
    args.insert(args.end(),
                {"-scale_" + std::to_string(b), "0", std::to_string(alpha ? 65535 : info_.depth_max), "0", "255"});
  }
  read_through_vrt(args, "its 16-bit samples could not be scaled to 8 bits");
}

// Every read from here on goes through gdal_translate's in-memory VRT of the open file (`args`
// after -of VRT); the file stays open beneath it. The VRT has no overviews of its own.
void Raster::read_through_vrt(std::vector<std::string> args, const std::string& failure) {
  args.insert(args.begin(), {"-of", "VRT"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  GDALTranslateOptions* options = GDALTranslateOptionsNew(argv.data(), nullptr);
  CPLErrorReset();
  GDALDatasetH vrt = GDALTranslate("", ds_, options, nullptr);
  GDALTranslateOptionsFree(options);
  if (!vrt) fail_input(info_.path, failure + ": " + last_gdal_error());
  file_ = ds_;
  ds_ = vrt;
  info_.overviews = 0;
}

std::string describe_depth(const RasterInfo& info) {
  if (info.source_bits == 8) return "";
  int bits = 0;
  while ((1 << bits) - 1 < info.depth_max) ++bits;
  return info.path + ": 16-bit samples read as 8-bit, v x 255 / " + std::to_string(info.depth_max) +
         " (the values use " + std::to_string(bits) + " bits)";
}

Raster Raster::open(const std::string& path) {
  init_gdal();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail_input(path, "no such file");
  if (std::filesystem::is_directory(path, ec)) fail_input(path, "is a directory, not a raster");
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0)
    fail_input(path, "is empty (0 bytes), not a raster");
  std::vector<const char*> allowed;
  for (const auto& d : allowed_list()) allowed.push_back(d.c_str());
  allowed.push_back(nullptr);
  CPLErrorReset();
  GDALDatasetH ds = GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, allowed.data(), nullptr, nullptr);
  if (!ds) {
    const std::string why = last_gdal_error();
    // Name the format when GDAL knows it but it is not allowed: the operator can then decide. A
    // file of an allowed format that GDAL cannot open (a header cut short) is not that case.
    GDALDriverH any = GDALIdentifyDriverEx(path.c_str(), GDAL_OF_RASTER, nullptr, nullptr);
    const std::vector<std::string>& list = allowed_list();
    if (any && std::find(list.begin(), list.end(), GDALGetDriverShortName(any)) != list.end())
      fail_input(path, "is a " + std::string(GDALGetDriverShortName(any)) +
                           " file GDAL cannot open: truncated or corrupt (" + why + ")");
    if (any)
      fail_input(path, std::string("is a ") + GDALGetDriverShortName(any) + " file; that GDAL driver is not allowed " +
                           "(allowed: " + joined(allowed_list()) + "; --gdal-drivers changes the list)");
    fail_input(path, "not a readable raster (" + why + ")");
  }
  Raster r;
  r.ds_ = ds;
  r.info_.path = path;
  r.info_.size = Size{GDALGetRasterXSize(ds), GDALGetRasterYSize(ds)};
  r.info_.bands = GDALGetRasterCount(ds);
  // Sizes come from the file's header: check them before any buffer is sized by them.
  if (r.info_.size.width > kMaxRasterSide || r.info_.size.height > kMaxRasterSide ||
      r.info_.size.pixels() > kMaxRasterPixels)
    fail_input(path, "claims " + std::to_string(r.info_.size.width) + "x" + std::to_string(r.info_.size.height) +
                         " pixels, over the limit of " + std::to_string(kMaxRasterSide) + " per side and " +
                         std::to_string(kMaxRasterPixels) + " in all (a corrupt header?)");
  if (r.info_.bands < 1 || r.info_.bands > 4)
    fail_input(path, "has " + std::to_string(r.info_.bands) +
                         " bands; RGB (3), RGBA (4), grey (1) or grey and alpha (2) expected");
  const bool last_is_alpha = GDALGetRasterColorInterpretation(GDALGetRasterBand(ds, r.info_.bands)) == GCI_AlphaBand;
  if (r.info_.bands == 2 && !last_is_alpha)
    fail_input(path,
               "has 2 bands and the second is not alpha; RGB (3), RGBA (4), grey (1) or grey and alpha (2) "
               "expected");
  r.info_.alpha = (r.info_.bands == 2 || r.info_.bands == 4) && last_is_alpha;
  const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, 1));
  for (int b = 1; b <= r.info_.bands; ++b) {
    GDALDataType t = GDALGetRasterDataType(GDALGetRasterBand(ds, b));
    if ((t != GDT_Byte && t != GDT_UInt16) || t != type)
      fail_input(path, std::string("band ") + std::to_string(b) + " is " + GDALGetDataTypeName(t) +
                           "; 8-bit (Byte) or 16-bit (UInt16) bands, all of one type, expected (gdal_translate "
                           "-ot Byte -scale makes a copy)");
  }
  r.info_.overviews = GDALGetOverviewCount(GDALGetRasterBand(ds, 1));
  if (r.info_.bands == 1) r.expand_palette();
  if (GDALGetRasterDataType(GDALGetRasterBand(r.ds_, 1)) == GDT_UInt16) r.scale_to_8bit();
  double gt[6];
  if (GDALGetGeoTransform(ds, gt) == CE_None) {
    r.info_.has_geotransform = true;
    for (int i = 0; i < 6; ++i) r.info_.geotransform[i] = gt[i];
  }
  const char* wkt = GDALGetProjectionRef(ds);
  r.info_.projection = wkt ? wkt : "";
  const std::string driver = GDALGetDriverShortName(GDALGetDatasetDriver(ds));
  const char* compression = GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE");
  const std::string codec = compression ? compression : "";
  const char* lossless = GDALGetMetadataItem(ds, "COMPRESSION_REVERSIBILITY", "IMAGE_STRUCTURE");
  if (driver == "JPEG" || codec == "JPEG" || codec == "YCbCr JPEG")
    r.info_.lossy = "JPEG";
  else if ((driver == "WEBP" || codec == "WEBP") && !(lossless && std::string(lossless) == "LOSSLESS"))
    r.info_.lossy = "WEBP";
  if ((driver == "GTiff" || driver == "COG") && r.info_.bands >= 3)
    r.blocks_ = detail::TiffBlocks::open_if_plain(path, r.info_.size, r.info_.alpha);
  return r;
}

RasterInfo probe_raster(const std::string& path) { return Raster::open(path).info(); }

void Raster::read_rgb(const Window& w, uint8_t* dst, size_t stride) const {
  if (w.empty()) return;
  if (blocks_) return blocks_->read_rgb(w, dst, stride);
  const int nb = info_.bands <= 2 ? 1 : 3;
  int band_map[3] = {1, 2, 3};
  CPLErrorReset();
  // One call for the three bands, written pixel-interleaved straight into the caller's buffer.
  CPLErr e =
      GDALDatasetRasterIO(ds_, GF_Read, static_cast<int>(w.x0), static_cast<int>(w.y0), static_cast<int>(w.width),
                          static_cast<int>(w.height), dst, static_cast<int>(w.width), static_cast<int>(w.height),
                          GDT_Byte, nb, band_map, 3, static_cast<GSpacing>(stride), 1);
  if (e != CE_None)
    fail_input(info_.path, "read of window " + std::to_string(w.x0) + "," + std::to_string(w.y0) + " " +
                               std::to_string(w.width) + "x" + std::to_string(w.height) +
                               " failed (truncated or corrupt file?): " + last_gdal_error());
  if (nb == 1) {
    for (int64_t y = 0; y < w.height; ++y) {
      uint8_t* row = dst + y * stride;
      for (int64_t x = 0; x < w.width; ++x) row[3 * x + 1] = row[3 * x + 2] = row[3 * x];
    }
  }
  if (info_.alpha) composite_alpha(w, dst, stride);
}

// One band more read per window (a third of the RGB's bytes, the window's own size: callers read
// strips and blocks), then each channel blended in place.
void Raster::composite_alpha(const Window& w, uint8_t* dst, size_t stride) const {
  std::vector<uint8_t> alpha(static_cast<size_t>(w.width) * w.height);
  CPLErrorReset();
  CPLErr e = GDALRasterIO(GDALGetRasterBand(ds_, info_.bands), GF_Read, static_cast<int>(w.x0), static_cast<int>(w.y0),
                          static_cast<int>(w.width), static_cast<int>(w.height), alpha.data(),
                          static_cast<int>(w.width), static_cast<int>(w.height), GDT_Byte, 0, 0);
  if (e != CE_None)
    fail_input(info_.path, "read of the alpha band at " + std::to_string(w.x0) + "," + std::to_string(w.y0) +
                               " failed (truncated or corrupt file?): " + last_gdal_error());
  for (int64_t y = 0; y < w.height; ++y) {
    uint8_t* row = dst + y * stride;
    const uint8_t* a = alpha.data() + y * w.width;
    for (int64_t x = 0; x < w.width; ++x)
      for (int c = 0; c < 3; ++c) row[3 * x + c] = composite_over_white(row[3 * x + c], a[x]);
  }
}

// What an averaged read reads from, and the window there. A colour-table file's expanding VRT
// averages the indices and looks the average up (a 2 x 2 box of two inks read 89.9 for a grey of
// 107.4 in the unit test), and GDAL's average of a file with alpha leaves the transparent pixels
// out instead of compositing them, so such a window is read at full resolution by read_rgb (the
// colours expanded, alpha composited) into an in-memory dataset and averaged from there by the
// same GDAL resampler. The callers' windows are bands of a few hundred rows (QA previews).
struct Raster::AveragingSource {
  GDALDatasetH ds = nullptr;
  Window w;
  bool owned = false;
  AveragingSource(const Raster& r, const Window& win) : ds(r.ds_), w(win) {
    if (!r.info_.palette && !r.info_.alpha) return;
    const int nb = 3;
    std::vector<uint8_t> px(static_cast<size_t>(win.width) * win.height * 3);
    r.read_rgb(win, px.data(), static_cast<size_t>(win.width) * 3);
    ds = GDALCreate(GDALGetDriverByName("MEM"), "", static_cast<int>(win.width), static_cast<int>(win.height), nb,
                    GDT_Byte, nullptr);
    if (!ds) fail_runtime("no memory for an averaged read of " + r.info_.path);
    owned = true;
    int band_map[3] = {1, 2, 3};
    if (GDALDatasetRasterIO(ds, GF_Write, 0, 0, static_cast<int>(win.width), static_cast<int>(win.height), px.data(),
                            static_cast<int>(win.width), static_cast<int>(win.height), GDT_Byte, nb, band_map, 3,
                            static_cast<GSpacing>(win.width) * 3, 1) != CE_None) {
      GDALClose(ds);
      fail_runtime("an averaged read of " + r.info_.path + " could not copy its window: " + last_gdal_error());
    }
    w = Window{0, 0, win.width, win.height};
  }
  ~AveragingSource() {
    if (owned) GDALClose(ds);
  }
  AveragingSource(const AveragingSource&) = delete;
  AveragingSource& operator=(const AveragingSource&) = delete;
};

void Raster::read_grey_average(const Window& w, int out_w, int out_h, float* dst) const {
  const int nb = info_.bands <= 2 ? 1 : 3;  // grey and alpha: the composited copy's first band
  std::vector<float> rgb(static_cast<size_t>(out_w) * out_h * nb);
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  extra.eResampleAlg = GRIORA_Average;
  int band_map[3] = {1, 2, 3};
  const AveragingSource src(*this, w);
  CPLErrorReset();
  CPLErr e = GDALDatasetRasterIOEx(src.ds, GF_Read, static_cast<int>(src.w.x0), static_cast<int>(src.w.y0),
                                   static_cast<int>(src.w.width), static_cast<int>(src.w.height), rgb.data(), out_w,
                                   out_h, GDT_Float32, nb, band_map, static_cast<GSpacing>(nb * sizeof(float)),
                                   static_cast<GSpacing>(nb * sizeof(float)) * out_w, sizeof(float), &extra);
  if (e != CE_None) fail_input(info_.path, "decimated read failed (truncated or corrupt file?): " + last_gdal_error());
  const size_t n = static_cast<size_t>(out_w) * out_h;
  if (nb == 1) {
    std::copy(rgb.begin(), rgb.end(), dst);
    return;
  }
  for (size_t i = 0; i < n; ++i) dst[i] = grey_of(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
}

void Raster::read_rgb_average(const Window& w, int out_w, int out_h, uint8_t* dst) const {
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  extra.eResampleAlg = GRIORA_Average;
  // A grey file is read three times into R, G and B (a grey one with alpha is read from its RGB copy).
  int band_map[3] = {1, info_.bands == 1 ? 1 : 2, info_.bands == 1 ? 1 : 3};
  const AveragingSource src(*this, w);
  CPLErrorReset();
  CPLErr e = GDALDatasetRasterIOEx(src.ds, GF_Read, static_cast<int>(src.w.x0), static_cast<int>(src.w.y0),
                                   static_cast<int>(src.w.width), static_cast<int>(src.w.height), dst, out_w, out_h,
                                   GDT_Byte, 3, band_map, 3, static_cast<GSpacing>(3) * out_w, 1, &extra);
  if (e != CE_None) fail_input(info_.path, "preview read failed (truncated or corrupt file?): " + last_gdal_error());
}

}  // namespace alinify::io
