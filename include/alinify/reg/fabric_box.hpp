#pragma once
// Fabric on the scanner table: which coarse scan pixels are fabric, and the fabric's oriented
// bounding box. When the fabric is cut to the design, the box alone pins the placement up to the
// rectangle's symmetries, whatever the print repeats; see docs/registration.md.
#include <string>
#include <vector>

#include "alinify/reg/coarse_align.hpp"

namespace alinify::reg::coarse {

struct FabricBox {
  bool found = false;
  std::string why_not;             // when !found: why no usable box
  double cx = 0, cy = 0;           // centre, coarse pixel coordinates (pixel i's centre is i)
  double length = 0, breadth = 0;  // side along angle_deg and across it, coarse pixels
  double angle_deg = 0;            // direction of `length`, in (-45, 45]
  double fill = 0;                 // fabric pixels / box area (a rectangle of fabric: near 1)
  bool touches_edge = false;       // the fabric reaches the scan's edge (its box may be cut off)
  std::vector<uint8_t> mask;       // 1 = fabric, scan.width x scan.height
};

// Table statistics come from the scan's outer ring; fabric = whatever the table, flooded in from
// the border through table-like pixels (close to the table's grey and as smooth), cannot reach.
FabricBox find_fabric_box(const Image& scan);

// Placements of a design of design_w x design_h full-resolution pixels that put its rectangle on
// the box: the box's right-angle symmetries allowed by `options` (a half or quarter turn only with
// quarter_turns), and only those whose sides match the design's aspect and a scale within 10 %.
std::vector<Placement> box_placements(const FabricBox& box, int factor, double design_w, double design_h,
                                      const CoarseOptions& options);

}  // namespace alinify::reg::coarse
