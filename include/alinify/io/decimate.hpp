#pragma once
// The registration images: grey, averaged down by an integer factor f, read by strips.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/io/raster.hpp"

namespace alinify::io {

struct GreyImage {
  Size size;       // decimated size: floor(full / factor)
  int factor = 1;  // pixel (i, j) averages full-res pixels [f*i, f*i+f) x [f*j, f*j+f)
  std::vector<float> pixels;
};

// The one buffer sized by the image in this project, and it is the decimated one:
// (W/f) x (H/f) floats. Reads at most `rows_per_read` decimated rows at a time (fewer where their
// full-resolution rows would pass 16 MiB): bytes averaged here (alpha composited over white by
// read_rgb), or GDAL's average where the file has overviews and no alpha.
GreyImage decimate_grey(const Raster& raster, int factor, int rows_per_read = 64);

// floor(size / factor); a bad-input error naming the file when that is empty.
Size decimated_size(const Raster& raster, int factor);
// Decimated rows [y0, y0 + rows) into dst (rows x decimated width floats): one rank's share of
// decimate_grey, the same bytes whatever the split (job/decimate_ranks.hpp gathers the shares).
void decimate_grey_rows(const Raster& raster, int factor, int64_t y0, int64_t rows, float* dst, int rows_per_read = 64);

// MetaImage (.mhd + .raw) with ElementSpacing f and Offset (f-1)/2: elastix's physical
// coordinates are then full-resolution pixel coordinates (docs/elastix_contract.md).
void write_metaimage(const std::string& mhd_path, const GreyImage& image);

}  // namespace alinify::io
