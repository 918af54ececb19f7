#pragma once
// The analytic ground-truth map of a synthetic pair: scan pixel -> design pixel.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"

namespace alinify::synth {

struct Wave {  // displacement term: amp * sin(kx*x + ky*y + phase), added to one axis
  int axis;    // 0 = x, 1 = y
  double amp, kx, ky, phase;
};

// A print defect drawn into the scan (synth --defects): where it lies in design pixels.
struct DefectTruth {
  int64_t id = 0;
  std::string shape;                       // blot, missing, streak, shift
  std::string kind;                        // what a finder should call it: extra_ink, missing_ink, colour_shift
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive box, design pixels
  double cx = 0, cy = 0;                   // the shape's centre
  // Where the print visibly changed: the centroid of the shape's pixels whose colour differs from
  // the design's beneath by Delta E 1976 >= 10 (issue 18's defect contrast), and their count. A
  // streak drawn across print of nearly its own colour is partly invisible; a finder can only
  // place it where it shows, so eval scores centroids against this one. visible_px 0: not known
  // (a truth file from before), eval uses the shape's centre.
  double visible_cx = 0, visible_cy = 0;
  int64_t visible_px = 0;
};

class Truth {
 public:
  Size design, scan;
  double m[4] = {1, 0, 0, 1};  // design = m * scan + offset + sum(waves(scan))
  double offset[2] = {0, 0};
  std::vector<Wave> waves;
  std::vector<DefectTruth> defects;  // "defects" in truth.json, only when there are some

  Vec2 scan_to_design(Vec2 q) const;
  std::string to_json_text() const;
  static Truth from_json_text(const std::string& text, const std::string& source);
  static Truth load(const std::string& path);
  void save(const std::string& path) const;
};

}  // namespace alinify::synth
