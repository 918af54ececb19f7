#include "defect_crops.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "alinify/core/error.hpp"
#include "alinify/defects/report.hpp"
#include "alinify/qa/image.hpp"

namespace alinify::job::detail {
namespace {

constexpr int kCropMarginPx = 16;  // design pixels around the defect's box
constexpr int kMinCropPx = 48;     // a 6 px blot still shows its surroundings
constexpr int kMinPanelPx = 120;   // small crops are enlarged (nearest) to at least this
constexpr int kGapPx = 4;

struct Rect {
  int64_t x0 = 0, y0 = 0, w = 0, h = 0;
};

// The displayed window: the box and a margin, square where the image allows, inside the image.
Rect crop_window(const defects::Defect& d, Size image) {
  const int64_t side = std::max<int64_t>(std::max(d.x1 - d.x0 + 1, d.y1 - d.y0 + 1) + 2 * kCropMarginPx, kMinCropPx);
  Rect r;
  r.w = std::min(side, image.width);
  r.h = std::min(side, image.height);
  r.x0 = std::clamp<int64_t>((d.x0 + d.x1 + 1) / 2 - r.w / 2, 0, image.width - r.w);
  r.y0 = std::clamp<int64_t>((d.y0 + d.y1 + 1) / 2 - r.h / 2, 0, image.height - r.h);
  return r;
}

// One panel of (w / f) x (h / f) cells, each cell f x f design pixels, drawn `up` times larger.
struct PanelScale {
  int f = 1, up = 1, pw = 0, ph = 0;  // pw, ph: the panel's size in picture pixels
};

PanelScale panel_scale(const Rect& win) {
  PanelScale s;
  const int64_t side = std::max(win.w, win.h);
  s.f = static_cast<int>((side + kCropPanelPx - 1) / kCropPanelPx);
  const int64_t cells = (side + s.f - 1) / s.f;
  s.up = std::max<int>(1, static_cast<int>(kMinPanelPx / cells));
  s.pw = static_cast<int>((win.w + s.f - 1) / s.f) * s.up;
  s.ph = static_cast<int>((win.h + s.f - 1) / s.f) * s.up;
  return s;
}

// Draws panel `k` (0, 1, 2 from the left) of `pic` from a per-cell colour function.
template <class CellColour>
void draw_panel(qa::RgbImage& pic, int k, const Rect& win, const PanelScale& s, CellColour colour) {
  const int left = k * (s.pw + kGapPx);
  for (int cy = 0; cy * s.up < s.ph; ++cy)
    for (int cx = 0; cx * s.up < s.pw; ++cx) {
      const int64_t x0 = static_cast<int64_t>(cx) * s.f, y0 = static_cast<int64_t>(cy) * s.f;
      const int64_t x1 = std::min<int64_t>(x0 + s.f, win.w), y1 = std::min<int64_t>(y0 + s.f, win.h);
      uint8_t rgb[3];
      colour(x0, y0, x1, y1, rgb);
      for (int dy = 0; dy < s.up; ++dy)
        for (int dx = 0; dx < s.up; ++dx) pic.set(left + cx * s.up + dx, cy * s.up + dy, rgb);
    }
}

// The defect's box, one pixel outside it, on panel k.
void outline(qa::RgbImage& pic, int k, const Rect& win, const PanelScale& s, const defects::Defect& d) {
  const uint8_t magenta[3] = {255, 0, 255};
  const int left = k * (s.pw + kGapPx);
  const int x0 = static_cast<int>((d.x0 - win.x0) / s.f) * s.up - 1,
            x1 = static_cast<int>((d.x1 - win.x0) / s.f + 1) * s.up;
  const int y0 = static_cast<int>((d.y0 - win.y0) / s.f) * s.up - 1,
            y1 = static_cast<int>((d.y1 - win.y0) / s.f + 1) * s.up;
  for (int x = std::max(x0, 0); x <= std::min(x1, s.pw - 1); ++x) {
    pic.set(left + x, y0, magenta);
    pic.set(left + x, y1, magenta);
  }
  for (int y = std::max(y0, 0); y <= std::min(y1, s.ph - 1); ++y) {
    if (x0 >= 0) pic.set(left + x0, y, magenta);
    if (x1 < s.pw) pic.set(left + x1, y, magenta);
  }
}

nlohmann::json write_crop(const defects::Defect& d, const CropSource& src, const std::string& path) {
  const Size image = src.design->size();
  const Rect win = crop_window(d, image);
  const defects::DefectOptions& o = src.options;
  WindowPixels pixels;
  const WindowDelta delta = delta_e_of_window(win.x0, win.y0, win.w, win.h, src, &pixels);
  const std::vector<float>& de = delta.de;
  const std::vector<uint8_t>& design = pixels.design;
  const std::vector<uint8_t>& aligned = pixels.aligned;
  const int64_t rw = delta.width;

  const PanelScale s = panel_scale(win);
  qa::RgbImage pic(3 * s.pw + 2 * kGapPx, s.ph, 255);
  const int64_t ox = win.x0 - delta.x0, oy = win.y0 - pixels.y0;  // the window inside what was read
  const auto mean_of = [&](const std::vector<uint8_t>& rgb) {
    return [&, ptr = &rgb](int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t out[3]) {
      for (int c = 0; c < 3; ++c) {
        int64_t sum = 0;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t x = x0; x < x1; ++x) sum += (*ptr)[static_cast<size_t>(((oy + y) * rw + ox + x) * 3 + c)];
        out[c] = static_cast<uint8_t>((sum + (x1 - x0) * (y1 - y0) / 2) / ((x1 - x0) * (y1 - y0)));
      }
    };
  };
  draw_panel(pic, 0, win, s, mean_of(design));
  draw_panel(pic, 1, win, s, mean_of(aligned));
  // Delta E from 0 to 3 x --defect-high on the heat scale; the largest in each cell.
  const double top = 3 * o.high;
  draw_panel(pic, 2, win, s, [&](int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t out[3]) {
    float m = 0;
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) m = std::max(m, de[static_cast<size_t>(y * rw + ox + x)]);
    qa::heat_colour(std::min(1.0, m / top), out);
  });
  outline(pic, 2, win, s, d);
  qa::write_png(pic, path);
  return {{"id", d.id},
          {"file", std::filesystem::path(path).filename().string()},
          {"kind", defects::kind_name(d.kind)},
          {"area", d.area},
          {"max_de", d.max_de},
          {"box", {d.x0, d.y0, d.x1, d.y1}},
          {"window", {win.x0, win.y0, win.w, win.h}},
          {"picture_px_per_design_px", static_cast<double>(s.up) / s.f},
          {"delta_e_scale_max", top}};
}

}  // namespace

WindowDelta delta_e_of_window(int64_t x0, int64_t y0, int64_t w, int64_t h, const CropSource& src,
                              WindowPixels* pixels) {
  const Size image = src.design->size();
  const defects::DefectOptions& o = src.options;
  // The window and the halo the comparison (and, with a fill level, mask_fill) reads around it.
  const int64_t halo = std::max<int64_t>(o.halo(), src.fill >= 0 ? static_cast<int64_t>(src.margin) + 1 : 0);
  const int64_t rx0 = std::max<int64_t>(0, x0 - halo), rx1 = std::min(image.width, x0 + w + halo);
  const int64_t ry0 = std::max<int64_t>(0, y0 - halo), ry1 = std::min(image.height, y0 + h + halo);
  const int64_t rw = rx1 - rx0, rh = ry1 - ry0;
  WindowPixels local;
  WindowPixels& p = pixels ? *pixels : local;
  p.design.resize(static_cast<size_t>(rw * rh * 3));
  p.aligned.resize(p.design.size());
  p.y0 = ry0;
  const Window read{rx0, ry0, rw, rh};
  src.design->read_rgb(read, p.design.data(), static_cast<size_t>(rw) * 3);
  src.aligned->read_rgb(read, p.aligned.data(), static_cast<size_t>(rw) * 3);
  defects::StripPixels px{Size{rw, image.height}, ry0, rh, p.design.data(), p.aligned.data()};
  px.x0 = rx0;
  // The stage's mask on the window's rows and columns.
  std::vector<uint8_t> valid =
      defects::coverage_mask(src.transform->transform, image, src.transform->scan, y0, h, src.margin, rx0, rw);
  if (src.fill >= 0) defects::mask_fill(px, y0, h, src.fill, static_cast<int64_t>(src.margin), valid.data());
  WindowDelta out;
  out.de = defects::delta_map(px, y0, h, *src.model, o, valid.data()).de;
  out.x0 = rx0;
  out.y0 = y0;
  out.width = rw;
  out.height = h;
  return out;
}

nlohmann::json write_defect_crops(const std::vector<defects::Defect>& found, const CropSource& src,
                                  const std::string& folder, int count) {
  std::vector<const defects::Defect*> order;
  for (const defects::Defect& d : found) order.push_back(&d);
  std::sort(order.begin(), order.end(), [](const defects::Defect* a, const defects::Defect* b) {
    return a->area != b->area ? a->area > b->area : a->id < b->id;
  });
  if (static_cast<int>(order.size()) > count) order.resize(static_cast<size_t>(count));
  nlohmann::json crops = nlohmann::json::array();
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail_runtime("cannot create " + folder + ": " + ec.message());
  // A crop left by an earlier run of the same output would be shown beside this run's.
  for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("defect_", 0) == 0 && e.path().extension() == ".png") std::filesystem::remove(e.path(), ec);
  }
  for (const defects::Defect* d : order)
    crops.push_back(write_crop(*d, src, folder + "/defect_" + std::to_string(d->id) + ".png"));
  return crops;
}

}  // namespace alinify::job::detail
