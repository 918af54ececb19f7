#include "alinify/io/decimate.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"

namespace alinify::io {

GreyImage decimate_grey(const Raster& raster, int factor, int rows_per_read) {
  if (factor < 1) fail_runtime("decimation factor must be >= 1");
  GreyImage img;
  img.factor = factor;
  img.size = Size{raster.size().width / factor, raster.size().height / factor};
  if (img.size.width < 1 || img.size.height < 1)
    fail_input(raster.info().path, "too small to decimate by " + std::to_string(factor));
  img.pixels.resize(static_cast<size_t>(img.size.pixels()));
  for (int64_t y = 0; y < img.size.height; y += rows_per_read) {
    int64_t rows = std::min<int64_t>(rows_per_read, img.size.height - y);
    Window w{0, y * factor, img.size.width * factor, rows * factor};
    raster.read_grey_average(w, static_cast<int>(img.size.width), static_cast<int>(rows),
                             img.pixels.data() + y * img.size.width);
    cancel::throw_if_requested();
  }
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
