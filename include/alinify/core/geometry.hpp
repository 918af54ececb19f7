#pragma once
#include <algorithm>
#include <cstdint>

#include "alinify/core/hd.hpp"

namespace alinify {

struct Size {
  int64_t width = 0;
  int64_t height = 0;
  int64_t pixels() const { return width * height; }
  bool operator==(const Size& o) const { return width == o.width && height == o.height; }
};

// A pixel rectangle [x0, x0+width) x [y0, y0+height) in full-resolution pixel indices.
struct Window {
  int64_t x0 = 0, y0 = 0, width = 0, height = 0;
  bool empty() const { return width <= 0 || height <= 0; }
  int64_t x1() const { return x0 + width; }
  int64_t y1() const { return y0 + height; }
  bool operator==(const Window& o) const { return x0 == o.x0 && y0 == o.y0 && width == o.width && height == o.height; }
  Window clipped(Size s) const {
    int64_t a = std::max<int64_t>(x0, 0), b = std::max<int64_t>(y0, 0);
    int64_t c = std::min<int64_t>(x1(), s.width), d = std::min<int64_t>(y1(), s.height);
    return Window{a, b, std::max<int64_t>(c - a, 0), std::max<int64_t>(d - b, 0)};
  }
};

struct Vec2 {
  double x = 0, y = 0;
};

}  // namespace alinify
