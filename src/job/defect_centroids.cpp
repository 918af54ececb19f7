#include "defect_centroids.hpp"

#include <algorithm>

#include "alinify/core/error.hpp"
#include "alinify/defects/centroid.hpp"
#include "alinify/par/records.hpp"

namespace alinify::job::detail {
namespace {

struct Box {
  int64_t x0, y0, x1, y1;
};

struct Centre {
  int64_t index;
  double x, y;
};

}  // namespace

std::string defect_boxes_message(const std::vector<defects::Defect>& found) {
  std::vector<Box> boxes;
  boxes.reserve(found.size());
  for (const defects::Defect& d : found) boxes.push_back(Box{d.x0, d.y0, d.x1, d.y1});
  return par::bytes_of(boxes);
}

std::string extent_centroids_share(const std::string& message, int part, int parts, const CropSource& src) {
  const std::vector<Box> boxes = par::records_of<Box>(message, "defects: malformed defect box message");
  const Size image = src.design->size();
  const int64_t m = defects::extent_margin(src.options);
  std::vector<Centre> out;
  for (size_t i = static_cast<size_t>(part); i < boxes.size(); i += static_cast<size_t>(parts)) {
    const Box& b = boxes[i];
    if ((b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1) > defects::kExtentMaxBoxPixels) continue;
    const int64_t x0 = std::max<int64_t>(0, b.x0 - m), x1 = std::min(image.width, b.x1 + m + 1);
    const int64_t y0 = std::max<int64_t>(0, b.y0 - m), y1 = std::min(image.height, b.y1 + m + 1);
    const WindowDelta w = delta_e_of_window(x0, y0, x1 - x0, y1 - y0, src);
    defects::Defect d;
    d.id = static_cast<int64_t>(i) + 1;
    d.x0 = b.x0, d.y0 = b.y0, d.x1 = b.x1, d.y1 = b.y1;
    const std::optional<Vec2> c =
        defects::extent_centroid(defects::DeltaWindow{w.de.data(), w.x0, w.y0, w.width, w.height}, d, src.options);
    if (c) out.push_back(Centre{static_cast<int64_t>(i), c->x, c->y});
  }
  return par::bytes_of(out);
}

int64_t apply_extent_centroids(const std::vector<std::string>& shares, std::vector<defects::Defect>& found) {
  int64_t replaced = 0;
  for (const std::string& s : shares)
    for (const Centre& c : par::records_of<Centre>(s, "defects: malformed defect centroid message")) {
      if (c.index < 0 || c.index >= static_cast<int64_t>(found.size()))
        fail_runtime("defects: a centroid for a defect that does not exist");
      found[static_cast<size_t>(c.index)].cx = c.x;
      found[static_cast<size_t>(c.index)].cy = c.y;
      ++replaced;
    }
  return replaced;
}

}  // namespace alinify::job::detail
