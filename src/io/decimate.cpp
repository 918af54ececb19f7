#include "alinify/io/decimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"

namespace alinify::io {

Size decimated_size(const Raster& raster, int factor) {
  if (factor < 1) fail_runtime("decimation factor must be >= 1");
  const Size size{raster.size().width / factor, raster.size().height / factor};
  if (size.width < 1 || size.height < 1)
    fail_input(raster.info().path, "too small to decimate by " + std::to_string(factor));
  return size;
}

namespace {

// Bytes of full-resolution rows one read may hold: a few strips of a 283 MP scan (f = 5: 59
// decimated rows of 18960 px), never the image.
constexpr size_t kReadBytes = size_t{16} << 20;

// Decimated rows [y, y + n) from the full-resolution RGB rows read into `rgb`: the sum of each
// channel over the f x f square (exact integers), then grey_of.
void average_rows(const uint8_t* rgb, int64_t width, int factor, int64_t n, float* dst) {
  const int64_t full_w = width * factor;
  const double inv = 1.0 / (static_cast<double>(factor) * factor);
  std::vector<uint32_t> sum(static_cast<size_t>(width) * 3);
  for (int64_t j = 0; j < n; ++j) {
    std::fill(sum.begin(), sum.end(), 0u);
    for (int r = 0; r < factor; ++r) {
      const uint8_t* p = rgb + (j * factor + r) * full_w * 3;
      for (int64_t i = 0; i < width; ++i)
        for (int dx = 0; dx < factor; ++dx, p += 3) {
          sum[3 * i] += p[0];
          sum[3 * i + 1] += p[1];
          sum[3 * i + 2] += p[2];
        }
    }
    // Each channel's mean rounded to a byte, as GDAL's average of a Byte file gives it: the
    // registration images stay the bytes they were (fractional means moved elastix enough to
    // take the 283 MP periodic pair's largest error from 1.14 to 2.02 px).
    for (int64_t i = 0; i < width; ++i) {
      const auto mean = [&](int c) { return static_cast<float>(std::floor(sum[3 * i + c] * inv + 0.5)); };
      dst[j * width + i] = grey_of(mean(0), mean(1), mean(2));
    }
  }
}

}  // namespace

void decimate_grey_rows(const Raster& raster, int factor, int64_t y0, int64_t rows, float* dst, int rows_per_read) {
  const Size size = decimated_size(raster, factor);
  // Every decimated pixel averages its own aligned f x f square, so where a read starts never
  // changes a value: any split of the rows gives the same bytes (tested under mpirun).
  // A file without overviews is read as bytes (read_rgb: libtiff's blocks for a plain TIFF) and
  // averaged here, to the same values: both images of the 283 MP pair took 1.39-2.06 s at -np 1
  // and 1.09-1.22 s at -np 2 through GDAL's average resampler, 1.02-2.56 s and 0.63-0.89 s so
  // (three runs each, docs/performance-analysis.md). With overviews GDAL reads the level that
  // fits the factor instead, and with an alpha band GDAL leaves its transparent pixels out.
  // A colour-table file (grey tables too) is read expanded by read_rgb, R = G = B for grey; a file
  // with alpha is read composited over white by read_rgb, its overviews unused (GDAL's are
  // averaged without the transparent pixels).
  const RasterInfo& info = raster.info();
  const bool own = (info.overviews == 0 && (info.bands == 3 || info.palette)) || info.alpha;
  const size_t row_bytes = static_cast<size_t>(size.width) * factor * factor * 3;
  const int per_read =
      own ? static_cast<int>(std::clamp<size_t>(kReadBytes / row_bytes, 1, static_cast<size_t>(rows_per_read)))
          : rows_per_read;
  std::vector<uint8_t> rgb(own ? row_bytes * static_cast<size_t>(per_read) : 0);
  for (int64_t y = y0; y < y0 + rows; y += per_read) {
    const int64_t n = std::min<int64_t>(per_read, y0 + rows - y);
    Window w{0, y * factor, size.width * factor, n * factor};
    if (own) {
      raster.read_rgb(w, rgb.data(), static_cast<size_t>(w.width) * 3);
      average_rows(rgb.data(), size.width, factor, n, dst + (y - y0) * size.width);
    } else {
      raster.read_grey_average(w, static_cast<int>(size.width), static_cast<int>(n), dst + (y - y0) * size.width);
    }
    cancel::throw_if_requested();
  }
}

GreyImage decimate_grey(const Raster& raster, int factor, int rows_per_read) {
  GreyImage img;
  img.factor = factor;
  img.size = decimated_size(raster, factor);
  img.pixels.resize(static_cast<size_t>(img.size.pixels()));
  decimate_grey_rows(raster, factor, 0, img.size.height, img.pixels.data(), rows_per_read);
  return img;
}

void write_metaimage(const std::string& mhd_path, const GreyImage& image) {
  std::filesystem::path mhd(mhd_path);
  std::filesystem::path raw = mhd;
  raw.replace_extension(".raw");
  const double spacing = image.factor;
  const double origin = (image.factor - 1) / 2.0;
  {
    std::ofstream out(mhd_path);
    out << "ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        << "CompressedData = False\nTransformMatrix = 1 0 0 1\n"
        << "Offset = " << origin << " " << origin << "\nCenterOfRotation = 0 0\n"
        << "ElementSpacing = " << spacing << " " << spacing << "\n"
        << "DimSize = " << image.size.width << " " << image.size.height << "\n"
        << "ElementType = MET_FLOAT\nElementDataFile = " << raw.filename().string() << "\n";
    if (!out) fail_runtime("cannot write " + mhd_path);
  }
  std::ofstream out(raw, std::ios::binary);
  out.write(reinterpret_cast<const char*>(image.pixels.data()),
            static_cast<std::streamsize>(image.pixels.size() * sizeof(float)));
  if (!out) fail_runtime("cannot write " + raw.string());
}

}  // namespace alinify::io
