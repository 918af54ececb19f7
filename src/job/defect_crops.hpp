#pragma once
// The report's "Largest defects": for each of the largest defects, a small picture of three panels,
// design | aligned scan | Delta E, around the defect (docs/defects.md, docs/qa.md). Rank 0, after
// the defects are merged; the Delta E is computed again on the crop's window alone (the strips'
// maps are gone by then), with the same colour model and options, so it is the map's value.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alinify/defects/colour_model.hpp"
#include "alinify/defects/strip.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/transform/transform_json.hpp"

namespace alinify::job::detail {

// What a window of the defect stage's Delta E is computed from: the report's crops and the
// centroids (defect_centroids.hpp) read theirs through it.
struct CropSource {
  const io::Raster* design = nullptr;
  const io::Raster* aligned = nullptr;
  const transform::TransformFile* transform = nullptr;
  const defects::ColourModel* model = nullptr;
  defects::DefectOptions options;
  double margin = 0;  // the stage's coverage margin
  int fill = -1;      // the stage's fill level (`inspect` without a transform), or -1
};

// The Delta E of design pixels [x0, x0 + w) x [y0, y0 + h) as the stage's strips have it (the
// window is read with the stage's halo and masked as the stage masks), on rows [y0, y0 + h) and the
// columns read, [x0 - halo, x0 + w + halo) clipped to the image. `pixels`, when given, keeps both
// images' window (rows from pixels->y0, the same columns).
struct WindowDelta {
  std::vector<float> de;
  int64_t x0 = 0, y0 = 0, width = 0, height = 0;
};
struct WindowPixels {
  std::vector<uint8_t> design, aligned;
  int64_t y0 = 0;
};
WindowDelta delta_e_of_window(int64_t x0, int64_t y0, int64_t w, int64_t h, const CropSource& src,
                              WindowPixels* pixels = nullptr);

// How many defects get a crop, and the longest side a panel is shown at (larger crops are averaged
// down: colours by the mean, Delta E by the maximum, so a thin streak stays visible).
constexpr int kDefectCrops = 6;
constexpr int kCropPanelPx = 180;

// Writes <folder>/defect_<id>.png for the `count` largest defects (by area, then id) and returns
// metrics.json's "crops": [{id, file, kind, area, max_de, box, window, scale}], largest first.
nlohmann::json write_defect_crops(const std::vector<defects::Defect>& found, const CropSource& src,
                                  const std::string& folder, int count = kDefectCrops);

}  // namespace alinify::job::detail
