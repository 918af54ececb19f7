#include "alinify/io/decimate.hpp"

#include <algorithm>
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

void decimate_grey_rows(const Raster& raster, int factor, int64_t y0, int64_t rows, float* dst, int rows_per_read) {
  const Size size = decimated_size(raster, factor);
  // Every decimated pixel averages its own aligned f x f square, so where a read starts never
  // changes a value: any split of the rows gives the same bytes (tested under mpirun).
  for (int64_t y = y0; y < y0 + rows; y += rows_per_read) {
    const int64_t n = std::min<int64_t>(rows_per_read, y0 + rows - y);
    Window w{0, y * factor, size.width * factor, n * factor};
    raster.read_grey_average(w, static_cast<int>(size.width), static_cast<int>(n), dst + (y - y0) * size.width);
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
