#pragma once
// Small in-memory pictures for QA (previews of a few hundred pixels a side, never the full image),
// their PNG encoding through GDAL, and base64 for embedding them in a self-contained HTML page.
#include <cstdint>
#include <string>
#include <vector>

namespace alinify::qa {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> px;  // pixel-interleaved RGB, rows top to bottom
  RgbImage() = default;
  RgbImage(int w, int h, uint8_t fill = 0) : width(w), height(h), px(static_cast<size_t>(w) * h * 3, fill) {}
  uint8_t* at(int x, int y) { return px.data() + (static_cast<size_t>(y) * width + x) * 3; }
  const uint8_t* at(int x, int y) const { return px.data() + (static_cast<size_t>(y) * width + x) * 3; }
  void set(int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = at(x, y);
    p[0] = rgb[0];
    p[1] = rgb[1];
    p[2] = rgb[2];
  }
};

// Writes the image as PNG (GDAL's PNG driver, CreateCopy from a MEM dataset). Throws a runtime
// error naming the path on failure.
void write_png(const RgbImage& image, const std::string& path);
// Reads a PNG (or any GDAL raster) back as RGB; used by tests and the batch index thumbnails.
RgbImage read_png(const std::string& path);

std::string base64(const std::string& bytes);
// "data:image/png;base64,..." of a file, for <img src>.
std::string png_data_uri(const std::string& path);

// A perceptually ordered colour map (dark blue -> teal -> yellow -> white-hot), t in [0, 1].
void heat_colour(double t, uint8_t rgb[3]);

}  // namespace alinify::qa
