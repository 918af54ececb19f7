// The coarse images: averaging down, sampling, normalising (see coarse_align.hpp).
#include <algorithm>
#include <cmath>

#include "alinify/core/error.hpp"
#include "alinify/reg/coarse_align.hpp"
#include "coarse_internal.hpp"

namespace alinify::reg::coarse {

namespace {
Image downsample_pixels(const float* pixels, int width, int height, int factor, int g) {
  if (g < 1) fail_runtime("coarse downsample factor must be >= 1");
  Image out;
  out.width = std::max(1, width / g);
  out.height = std::max(1, height / g);
  out.factor = factor * g;
  out.px.assign(static_cast<size_t>(out.width) * out.height, 0.f);
  for (int j = 0; j < out.height; ++j)
    for (int i = 0; i < out.width; ++i) {
      double sum = 0;
      int count = 0;
      for (int b = 0; b < g && j * g + b < height; ++b)
        for (int a = 0; a < g && i * g + a < width; ++a, ++count)
          sum += pixels[static_cast<size_t>(j * g + b) * width + (i * g + a)];
      out.px[static_cast<size_t>(j) * out.width + i] = static_cast<float>(count ? sum / count : 0);
    }
  return out;
}
}  // namespace

// Reads the registration image in place: no copy of it is made.
Image downsample(const io::GreyImage& image, int g) {
  return downsample_pixels(image.pixels.data(), static_cast<int>(image.size.width), static_cast<int>(image.size.height),
                           image.factor, g);
}

Image resample_rows(const Image& in, int rows) {
  if (rows < 1 || in.height < 1) fail_runtime("coarse resample: rows must be >= 1");
  Image out;
  out.width = in.width;
  out.height = rows;
  out.factor = in.factor;
  out.px.resize(static_cast<size_t>(out.width) * rows);
  const double ratio = static_cast<double>(in.height) / rows;
  for (int j = 0; j < rows; ++j) {
    const double v = std::clamp((j + 0.5) * ratio - 0.5, 0.0, static_cast<double>(in.height - 1));
    const int j0 = static_cast<int>(v), j1 = std::min(j0 + 1, in.height - 1);
    const float f = static_cast<float>(v - j0);
    const float* a = in.px.data() + static_cast<size_t>(j0) * in.width;
    const float* b = in.px.data() + static_cast<size_t>(j1) * in.width;
    float* o = out.px.data() + static_cast<size_t>(j) * out.width;
    for (int i = 0; i < in.width; ++i) o[i] = (1 - f) * a[i] + f * b[i];
  }
  return out;
}

Image mirror_columns(const Image& in) {
  Image out = in;
  for (int y = 0; y < in.height; ++y) {
    float* row = out.px.data() + static_cast<size_t>(y) * in.width;
    std::reverse(row, row + in.width);
  }
  return out;
}

Image downsample(const Image& in, int g) {
  if (g == 1) return in;
  return downsample_pixels(in.px.data(), in.width, in.height, in.factor, g);
}

int factor_for(int64_t width, int64_t height, int target) {
  const int64_t larger = std::max(width, height);
  return static_cast<int>(std::max<int64_t>(1, (larger + target - 1) / target));
}

namespace detail {

float bilinear(const Image& im, double x, double y) {
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const int x1 = std::min(x0 + 1, im.width - 1), y1 = std::min(y0 + 1, im.height - 1);
  const double fx = x - x0, fy = y - y0;
  const int xa = std::max(x0, 0), ya = std::max(y0, 0);
  const double a = im.at(xa, ya), b = im.at(x1, ya), c = im.at(xa, y1), d = im.at(x1, y1);
  return static_cast<float>((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy);
}

Image normalised(const Image& im) {
  Image out = im;
  double sum = 0, sum_squares = 0;
  for (float v : im.px) sum += v, sum_squares += double(v) * v;
  const double n = static_cast<double>(im.px.size()), mean = sum / n;
  const double sd = std::sqrt(std::max(sum_squares / n - mean * mean, 1e-12));
  for (float& v : out.px) v = static_cast<float>((v - mean) / sd);
  return out;
}

}  // namespace detail
}  // namespace alinify::reg::coarse
