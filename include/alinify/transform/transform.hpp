#pragma once
// The transform model: a chain of stages mapping an output (design) pixel to a scan pixel,
// both in full-resolution pixel coordinates ((0,0) = centre of the top-left pixel, x right, y down).
// Stages combine as elastix combines them (itk::AdvancedCombinationTransform):
//   Compose: T_k(x) = S_k(T_{k-1}(x))          Add: T_k(x) = S_k(x) + T_{k-1}(x) - x
#include <cstdint>
#include <optional>
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
  int size[2] = {0, 0};        // control points per axis
  std::vector<double> coef_x;  // size[0]*size[1], x fastest
  std::vector<double> coef_y;
};

// The limits of a B-spline stage: one set for every file format that carries one (transform.json,
// elastix TransformParameters), so a grid one format accepts the other accepts too.
constexpr int64_t kMaxGridPointsPerAxis = 100000;
// Control points in all: 2^24 is a 1M x 1M pixel image at 256-pixel spacing. Readers check it
// before reading the coefficients, so a header claiming 10^9 of them allocates nothing.
constexpr int64_t kMaxGridPoints = int64_t(1) << 24;

// The first rule a B-spline stage breaks. Each reader words it in its own format's key names.
struct BSplineProblem {
  enum class Rule {
    kGridSizeOutOfRange,  // a grid axis outside [1, kMaxGridPointsPerAxis]; `axis` says which
    kTooManyGridPoints,   // more than kMaxGridPoints in all
    kSpacingNotPositive,  // a grid spacing <= 0 (or NaN)
    kDirectionSingular,   // the grid direction matrix cannot be inverted
    kCoefficientCount,    // coefficient arrays that do not match the grid size
  };
  Rule rule;
  int axis = -1;
};

// The grid size alone, for readers to check before they read (and allocate) the coefficients.
std::optional<BSplineProblem> validate_grid_size(int64_t points_x, int64_t points_y);
// Every rule above, in that order; nothing when the stage can be evaluated.
std::optional<BSplineProblem> validate(const BSpline& b);

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
