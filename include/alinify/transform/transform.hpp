#pragma once
// The transform model: a chain of stages mapping an output (design) pixel to a scan pixel,
// both in full-resolution pixel coordinates ((0,0) = centre of the top-left pixel, x right, y down).
// Stages combine as elastix combines them (itk::AdvancedCombinationTransform):
//   Compose: T_k(x) = S_k(T_{k-1}(x))          Add: T_k(x) = S_k(x) + T_{k-1}(x) - x
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform_eval.hpp"

namespace alinify::transform {

// q = M p + offset. Translation, Euler, Similarity and Affine transforms all reduce to this.
struct Affine {
  double m[4] = {1, 0, 0, 1};  // row-major 2x2
  double offset[2] = {0, 0};
};

// Cubic B-spline displacement field, laid out as elastix/ITK do: coefficient (i, j) sits at
// origin + direction * (spacing .* (i, j)); coefficients are displacements in pixels.
struct BSpline {
  double origin[2] = {0, 0};
  double spacing[2] = {1, 1};
  double direction[4] = {1, 0, 0, 1};
  int size[2] = {0, 0};            // control points per axis
  std::vector<double> coef_x;      // size[0]*size[1], x fastest
  std::vector<double> coef_y;
};

struct Stage {
  StageKind kind = StageKind::kAffine;
  Combine combine = Combine::kCompose;  // how this stage combines with the stages before it
  Affine affine;
  BSpline bspline;
};

class Transform {
 public:
  std::vector<Stage> stages;  // applied in order: stages[0] is the innermost (elastix's initial transform)

  Vec2 apply(Vec2 p) const;
  bool empty() const { return stages.empty(); }
  // A POD view over this transform's data for the shared (host/device) evaluator. The view
  // points into this object: keep the Transform alive while it is used.
  TransformView view() const;
  // Only the affine stages, B-spline stages dropped (for gdalwarp comparisons).
  Transform affine_part() const;
};

}  // namespace alinify::transform
