#include "alinify/qa/image.hpp"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/io/raster.hpp"

namespace alinify::qa {

void write_png(const RgbImage& image, const std::string& path) {
  io::init_gdal();
  GDALDriverH mem = GDALGetDriverByName("MEM");
  GDALDriverH png = GDALGetDriverByName("PNG");
  if (!mem || !png) fail_runtime("GDAL has no MEM or PNG driver: cannot write " + path);
  GDALDatasetH src = GDALCreate(mem, "", image.width, image.height, 3, GDT_Byte, nullptr);
  if (!src) fail_runtime("cannot make an in-memory picture for " + path);
  int bands[3] = {1, 2, 3};
  CPLErr e = GDALDatasetRasterIO(src, GF_Write, 0, 0, image.width, image.height, const_cast<uint8_t*>(image.px.data()),
                                 image.width, image.height, GDT_Byte, 3, bands, 3, 3 * image.width, 1);
  const std::string tmp = files::temporary_name(path);
  CPLErrorReset();
  GDALDatasetH dst = e == CE_None ? GDALCreateCopy(png, tmp.c_str(), src, FALSE, nullptr, nullptr, nullptr) : nullptr;
  GDALClose(src);
  std::error_code ec;
  if (!dst) {
    std::filesystem::remove(tmp, ec);  // a driver may leave a partly written file behind
    fail_runtime("cannot write " + path + ": " + CPLGetLastErrorMsg());
  }
  GDALClose(dst);
  // GDAL leaves a .aux.xml beside a PNG it could not store everything in; a picture needs none.
  std::filesystem::remove(tmp + ".aux.xml", ec);
  files::move_into_place(tmp, path, "cannot rename " + tmp + " to " + path);
}

RgbImage read_png(const std::string& path) {
  io::Raster r = io::Raster::open(path);
  RgbImage img(static_cast<int>(r.size().width), static_cast<int>(r.size().height));
  r.read_rgb(Window{0, 0, r.size().width, r.size().height}, img.px.data(), static_cast<size_t>(img.width) * 3);
  return img;
}

std::string base64(const std::string& bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string png_data_uri(const std::string& path) {
  const std::optional<std::string> bytes = files::try_read_file(path);
  if (!bytes) fail_runtime("cannot read " + path);
  return "data:image/png;base64," + base64(*bytes);
}

void heat_colour(double t, uint8_t rgb[3]) {
  // Piecewise-linear through a few stops of a viridis/inferno-like ramp.
  static const double stops[][3] = {{13, 8, 135}, {0, 120, 170}, {40, 180, 120}, {240, 220, 40}, {255, 255, 230}};
  constexpr int n = 5;
  if (!(t >= 0)) t = 0;  // NaN too
  t = std::min(t, 1.0) * (n - 1);
  const int i = std::min(static_cast<int>(t), n - 2);
  const double f = t - i;
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<uint8_t>(std::lround(stops[i][c] * (1 - f) + stops[i + 1][c] * f));
}

}  // namespace alinify::qa
