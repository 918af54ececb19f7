#include "alinify/qa/pictures.hpp"

#include <algorithm>
#include <cmath>

#include "alinify/core/error.hpp"
#include "alinify/qa/deformation.hpp"

namespace alinify::qa {
namespace {

int preview_side(int64_t full, double scale) { return std::max(1, static_cast<int>(std::lround(full / scale))); }

std::vector<double> standardised_grey(const RgbImage& img, const std::vector<uint8_t>& valid) {
  const size_t n = static_cast<size_t>(img.width) * img.height;
  std::vector<double> g(n);
  double sum = 0, sum2 = 0;
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = img.px.data() + 3 * i;
    g[i] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    if (!valid.empty() && !valid[i]) continue;
    sum += g[i];
    sum2 += g[i] * g[i];
    ++count;
  }
  const double mean = count ? sum / count : 0;
  const double sd = count ? std::sqrt(std::max(1e-6, sum2 / count - mean * mean)) : 1;
  for (double& v : g) v = (v - mean) / sd;
  return g;
}

// Calls band(j0, j1) for the preview rows [j0, j1) of each band of `part` among `parts`: every
// parts-th band of kPreviewBandRows rows of `rows`, from the part-th.
template <class Band>
void for_each_band(int rows, int part, int parts, const Band& band) {
  for (int j0 = part * kPreviewBandRows; j0 < rows; j0 += parts * kPreviewBandRows)
    band(j0, std::min(rows, j0 + kPreviewBandRows));
}

// Averaged read in bands of preview rows: GDAL's resampled read of one huge window can hold a
// large part of it at once; a band's source window is a few hundred full-resolution rows. Each
// band's source rows follow from its own rows alone, so a band reads the same bytes whoever reads
// it: only the bands of `part` are read here.
void read_banded(const io::Raster& r, const Window& w, int out_w, int out_h, uint8_t* dst, int part, int parts) {
  for_each_band(out_h, part, parts, [&](int j0, int j1) {
    const int64_t y0 = w.y0 + w.height * j0 / out_h, y1 = w.y0 + w.height * j1 / out_h;
    r.read_rgb_average(Window{w.x0, y0, w.width, std::max<int64_t>(1, y1 - y0)}, out_w, j1 - j0,
                       dst + static_cast<size_t>(j0) * out_w * 3);
  });
}

// The rows of `img` in the bands of `part`, appended to `out` or copied back from `in`.
void pack_rows(const RgbImage& img, int part, int parts, std::string& out) {
  const size_t row = static_cast<size_t>(img.width) * 3;
  for_each_band(img.height, part, parts, [&](int j0, int j1) {
    out.append(reinterpret_cast<const char*>(img.px.data()) + j0 * row, (j1 - j0) * row);
  });
}

void unpack_rows(RgbImage& img, int part, int parts, const std::string& in, size_t& at) {
  const size_t row = static_cast<size_t>(img.width) * 3;
  for_each_band(img.height, part, parts, [&](int j0, int j1) {
    const size_t bytes = (j1 - j0) * row;
    if (at + bytes > in.size()) fail_runtime("QA previews: a rank sent fewer preview rows than its bands hold");
    std::copy_n(in.data() + at, bytes, reinterpret_cast<char*>(img.px.data()) + j0 * row);
    at += bytes;
  });
}

}  // namespace

Previews read_previews(const io::Raster& design, const io::Raster& scan, const io::Raster& aligned, int max_side,
                       int part, int parts) {
  Previews p;
  const Size d = design.size(), s = scan.size();
  p.design_scale = std::max(1.0, static_cast<double>(std::max(d.width, d.height)) / max_side);
  const int w = preview_side(d.width, p.design_scale), h = preview_side(d.height, p.design_scale);
  const Window whole{0, 0, d.width, d.height};
  p.design = RgbImage(w, h);
  read_banded(design, whole, w, h, p.design.px.data(), part, parts);
  p.aligned = RgbImage(w, h);
  read_banded(aligned, whole, w, h, p.aligned.px.data(), part, parts);

  p.scan_scale = std::max(1.0, static_cast<double>(std::max(s.width, s.height)) / max_side);
  p.scan = RgbImage(preview_side(s.width, p.scan_scale), preview_side(s.height, p.scan_scale));
  read_banded(scan, Window{0, 0, s.width, s.height}, p.scan.width, p.scan.height, p.scan.px.data(), part, parts);

  // The scan unmoved on the design grid: the part both cover, read into its place in the preview.
  // A scan of the design's size is that preview already (the same read, byte for byte): one pass
  // over the full-resolution scan instead of two (about a second at 283 MP).
  if (s.width == d.width && s.height == d.height) {
    p.scan_as_is = p.scan;
    p.scan_as_is_valid.assign(static_cast<size_t>(w) * h, 1);
    return p;
  }
  p.scan_as_is = RgbImage(w, h, 128);
  p.scan_as_is_valid.assign(static_cast<size_t>(w) * h, 0);
  const Window common = whole.clipped(s);
  const int cw = std::min(w, preview_side(common.width, p.design_scale));
  const int ch = std::min(h, preview_side(common.height, p.design_scale));
  if (!common.empty()) {
    // Rows of the bands read here only: the others come from the ranks that read them
    // (unpack_bands), and the fill below the covered part is the same on every rank.
    RgbImage covered(cw, ch);
    read_banded(scan, common, cw, ch, covered.px.data(), part, parts);
    for_each_band(ch, part, parts, [&](int j0, int j1) {
      for (int y = j0; y < j1; ++y)
        for (int x = 0; x < cw; ++x) p.scan_as_is.set(x, y, covered.at(x, y));
    });
    for (int y = 0; y < ch; ++y)
      for (int x = 0; x < cw; ++x) p.scan_as_is_valid[static_cast<size_t>(y) * w + x] = 1;
  }
  return p;
}

std::string pack_bands(const Previews& p, int part, int parts) {
  std::string out;
  for (const RgbImage* img : {&p.design, &p.aligned, &p.scan, &p.scan_as_is}) pack_rows(*img, part, parts, out);
  return out;
}

void unpack_bands(Previews& p, const std::string& bytes, int part, int parts) {
  size_t at = 0;
  for (RgbImage* img : {&p.design, &p.aligned, &p.scan, &p.scan_as_is}) unpack_rows(*img, part, parts, bytes, at);
  if (at != bytes.size()) fail_runtime("QA previews: a rank sent more preview rows than its bands hold");
}

RgbImage checkerboard(const RgbImage& a, const RgbImage& b, int cells) {
  RgbImage out(a.width, a.height);
  const int cell = std::max(1, std::max(a.width, a.height) / std::max(1, cells));
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) out.set(x, y, ((x / cell + y / cell) % 2 ? b : a).at(x, y));
  return out;
}

RgbImage difference_heatmap(const RgbImage& a, const RgbImage& b, const std::vector<uint8_t>& valid) {
  const std::vector<double> ga = standardised_grey(a, valid), gb = standardised_grey(b, valid);
  RgbImage out(a.width, a.height, 128);
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      const size_t i = static_cast<size_t>(y) * a.width + x;
      if (!valid.empty() && !valid[i]) continue;
      uint8_t c[3];
      heat_colour(std::abs(ga[i] - gb[i]) / 3.0, c);
      out.set(x, y, c);
    }
  return out;
}

DeformationPicture deformation_map(const transform::Transform& t, Size design, int width, int height) {
  const transform::Transform affine = t.affine_part();
  std::vector<double> mag(static_cast<size_t>(width) * height);
  const double sx = static_cast<double>(design.width) / width, sy = static_cast<double>(design.height) / height;
  DeformationPicture pic;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      // The design pixel at the centre of this preview pixel.
      const Vec2 p{(x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5};
      const double m = local_deformation(t, affine, p);
      mag[static_cast<size_t>(y) * width + x] = m;
      pic.max_value = std::max(pic.max_value, m);
    }
  constexpr int kGap = 8, kBar = 24;
  pic.image = RgbImage(width + kGap + kBar, height, 255);
  const double top = pic.max_value > 0 ? pic.max_value : 1;
  uint8_t c[3];
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      heat_colour(mag[static_cast<size_t>(y) * width + x] / top, c);
      pic.image.set(x, y, c);
    }
    heat_colour(1.0 - static_cast<double>(y) / std::max(1, height - 1), c);  // the bar: max at the top
    for (int x = width + kGap; x < width + kGap + kBar; ++x) pic.image.set(x, y, c);
  }
  return pic;
}

RgbImage residual_map(const ResidualGrid& grid, const std::vector<float>& values, double top_px, int max_side) {
  const int cell = std::max(1, max_side / std::max(1, std::max(grid.cols, grid.rows)));
  const int width = grid.cols * cell, height = grid.rows * cell;
  constexpr int kGap = 8, kBar = 24;
  RgbImage out(width + kGap + kBar, height, 255);
  const double top = top_px > 0 ? top_px : 1;
  const uint8_t grey[3] = {128, 128, 128};
  uint8_t c[3];
  for (int j = 0; j < grid.rows; ++j)
    for (int i = 0; i < grid.cols; ++i) {
      const float v = values[static_cast<size_t>(j) * grid.cols + i];
      if (std::isfinite(v)) heat_colour(std::min(1.0, v / top), c);
      for (int y = j * cell; y < (j + 1) * cell; ++y)
        for (int x = i * cell; x < (i + 1) * cell; ++x) out.set(x, y, std::isfinite(v) ? c : grey);
    }
  for (int y = 0; y < height; ++y) {
    heat_colour(1.0 - static_cast<double>(y) / std::max(1, height - 1), c);  // the bar: top_px at the top
    for (int x = width + kGap; x < width + kGap + kBar; ++x) out.set(x, y, c);
  }
  return out;
}

RgbImage warped_grid(const Previews& p, const transform::Transform& t, Size design, int lines) {
  RgbImage out = p.scan;
  for (uint8_t& v : out.px) v = static_cast<uint8_t>(v / 3 + 40);  // dim, so the lines stand out
  const double spacing = static_cast<double>(std::max(design.width, design.height)) / std::max(1, lines);
  const double step = std::max(0.5, p.scan_scale / 2);  // about two samples per preview pixel
  const uint8_t line[3] = {255, 210, 0}, border[3] = {255, 60, 60};
  auto plot = [&](double x, double y, const uint8_t* c) {
    const Vec2 q = t.apply({x, y});
    const int px = static_cast<int>(std::floor((q.x + 0.5) / p.scan_scale));
    const int py = static_cast<int>(std::floor((q.y + 0.5) / p.scan_scale));
    // Two pixels wide: the report shows the picture scaled down, where one-pixel lines break up.
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) out.set(px + dx, py + dy, c);
  };
  const double w = design.width - 1.0, h = design.height - 1.0;
  for (double x = 0; x <= w + 1e-9; x += spacing)
    for (double y = 0; y <= h; y += step) plot(x, y, x == 0 ? border : line);
  for (double y = 0; y <= h + 1e-9; y += spacing)
    for (double x = 0; x <= w; x += step) plot(x, y, y == 0 ? border : line);
  for (double y = 0; y <= h; y += step) plot(w, y, border);
  for (double x = 0; x <= w; x += step) plot(x, h, border);
  return out;
}

RgbImage thumbnail(const RgbImage& image, int max_side) {
  const double s = std::max(1.0, static_cast<double>(std::max(image.width, image.height)) / max_side);
  const int w = std::max(1, static_cast<int>(image.width / s)), h = std::max(1, static_cast<int>(image.height / s));
  RgbImage out(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      // Box average over the source pixels this one covers.
      const int x0 = static_cast<int>(x * s), x1 = std::max(x0 + 1, static_cast<int>((x + 1) * s));
      const int y0 = static_cast<int>(y * s), y1 = std::max(y0 + 1, static_cast<int>((y + 1) * s));
      int sum[3] = {0, 0, 0}, n = 0;
      for (int yy = y0; yy < std::min(y1, image.height); ++yy)
        for (int xx = x0; xx < std::min(x1, image.width); ++xx, ++n)
          for (int c = 0; c < 3; ++c) sum[c] += image.at(xx, yy)[c];
      uint8_t v[3];
      for (int c = 0; c < 3; ++c) v[c] = static_cast<uint8_t>(n ? sum[c] / n : 0);
      out.set(x, y, v);
    }
  return out;
}

}  // namespace alinify::qa
