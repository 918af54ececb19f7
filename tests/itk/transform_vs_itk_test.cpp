// Transform::apply checked against ITK's own transforms (the ones elastix builds on).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "alinify/transform/elastix_params.hpp"
#include "alinify/transform/transform.hpp"
#include "itkAffineTransform.h"
#include "itkBSplineTransform.h"
#include "itkCompositeTransform.h"
#include "itkEuler2DTransform.h"
#include "itkImage.h"
#include "itkSimilarity2DTransform.h"
#include "support/files.hpp"

namespace alinify::transform {
namespace {

using ItkAffine = itk::AffineTransform<double, 2>;
using ItkBSpline = itk::BSplineTransform<double, 2, 3>;
using ItkComposite = itk::CompositeTransform<double, 2>;
using ItkPoint = itk::Point<double, 2>;

constexpr double kTol = 1e-6;

ItkPoint itk_point(Vec2 p) {
  ItkPoint q;
  q[0] = p.x;
  q[1] = p.y;
  return q;
}

void expect_close(Vec2 ours, const ItkPoint& theirs, Vec2 p) {
  EXPECT_NEAR(ours.x, theirs[0], kTol) << "at " << p.x << "," << p.y;
  EXPECT_NEAR(ours.y, theirs[1], kTol) << "at " << p.x << "," << p.y;
}

ItkAffine::Pointer to_itk(const Affine& a) {
  auto t = ItkAffine::New();
  ItkAffine::MatrixType m;
  m(0, 0) = a.m[0];
  m(0, 1) = a.m[1];
  m(1, 0) = a.m[2];
  m(1, 1) = a.m[3];
  ItkAffine::OutputVectorType o;
  o[0] = a.offset[0];
  o[1] = a.offset[1];
  t->SetMatrix(m);
  t->SetOffset(o);
  return t;
}

// The ITK B-spline from the same grid, through its coefficient images.
ItkBSpline::Pointer to_itk(const BSpline& b) {
  using Image = ItkBSpline::ImageType;
  ItkBSpline::CoefficientImageArray images;
  for (int c = 0; c < 2; ++c) {
    auto img = Image::New();
    Image::SizeType size;
    size[0] = static_cast<itk::SizeValueType>(b.size[0]);
    size[1] = static_cast<itk::SizeValueType>(b.size[1]);
    img->SetRegions(Image::RegionType(size));
    Image::PointType origin;
    Image::SpacingType spacing;
    Image::DirectionType dir;
    for (int i = 0; i < 2; ++i) {
      origin[i] = b.origin[i];
      spacing[i] = b.spacing[i];
    }
    dir(0, 0) = b.direction[0];
    dir(0, 1) = b.direction[1];
    dir(1, 0) = b.direction[2];
    dir(1, 1) = b.direction[3];
    img->SetOrigin(origin);
    img->SetSpacing(spacing);
    img->SetDirection(dir);
    img->Allocate();
    const std::vector<double>& coef = c == 0 ? b.coef_x : b.coef_y;
    double* buf = img->GetBufferPointer();
    for (size_t i = 0; i < coef.size(); ++i) buf[i] = coef[i];  // x fastest, as ITK's buffer
    images[c] = img;
  }
  auto t = ItkBSpline::New();
  t->SetCoefficientImages(images);
  return t;
}

Stage random_affine_stage(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  Stage s;
  s.kind = StageKind::kAffine;
  s.affine.m[0] = 1 + 0.1 * u(rng);
  s.affine.m[1] = 0.1 * u(rng);
  s.affine.m[2] = 0.1 * u(rng);
  s.affine.m[3] = 1 + 0.1 * u(rng);
  s.affine.offset[0] = 50 * u(rng);
  s.affine.offset[1] = 50 * u(rng);
  return s;
}

Stage random_bspline_stage(std::mt19937_64& rng, double angle) {
  std::uniform_real_distribution<double> u(-1, 1);
  Stage s;
  s.kind = StageKind::kBSpline;
  BSpline& b = s.bspline;
  b.size[0] = 9;
  b.size[1] = 7;
  b.origin[0] = -80.25;
  b.origin[1] = -61.5;
  b.spacing[0] = 37.3;
  b.spacing[1] = 44.9;
  b.direction[0] = std::cos(angle);
  b.direction[1] = -std::sin(angle);
  b.direction[2] = std::sin(angle);
  b.direction[3] = std::cos(angle);
  for (int i = 0; i < b.size[0] * b.size[1]; ++i) {
    b.coef_x.push_back(6 * u(rng));
    b.coef_y.push_back(6 * u(rng));
  }
  return s;
}

// A point whose continuous grid index lies in [lo, size-1-lo) (lo = 1: the valid region).
Vec2 grid_point(const BSpline& b, std::mt19937_64& rng, double lo) {
  std::uniform_real_distribution<double> ux(lo, b.size[0] - 1 - lo), uy(lo, b.size[1] - 1 - lo);
  const double i = ux(rng), j = uy(rng);
  const double a = b.direction[0] * b.spacing[0], bb = b.direction[1] * b.spacing[1];
  const double c = b.direction[2] * b.spacing[0], d = b.direction[3] * b.spacing[1];
  return {b.origin[0] + a * i + bb * j, b.origin[1] + c * i + d * j};
}

TEST(TransformVsItk, Affine) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-500, 2500);
  for (int k = 0; k < 20; ++k) {
    Transform t;
    t.stages.push_back(random_affine_stage(rng));
    auto itk_t = to_itk(t.stages[0].affine);
    for (int n = 0; n < 200; ++n) {
      Vec2 p{u(rng), u(rng)};
      expect_close(t.apply(p), itk_t->TransformPoint(itk_point(p)), p);
    }
  }
}

TEST(TransformVsItk, BSplineInsideAndOutsideTheValidRegion) {
  std::mt19937_64 rng(2);
  for (double angle : {0.0, 0.3, -1.2}) {
    SCOPED_TRACE(angle);
    Transform t;
    t.stages.push_back(random_bspline_stage(rng, angle));
    auto itk_t = to_itk(t.stages[0].bspline);
    for (int n = 0; n < 2000; ++n) {
      Vec2 p = grid_point(t.stages[0].bspline, rng, 1.0);
      expect_close(t.apply(p), itk_t->TransformPoint(itk_point(p)), p);
    }
    // Around and outside the grid (zero displacement there, for both).
    for (int n = 0; n < 500; ++n) {
      Vec2 p = grid_point(t.stages[0].bspline, rng, -2.0);
      expect_close(t.apply(p), itk_t->TransformPoint(itk_point(p)), p);
    }
  }
}

TEST(TransformVsItk, ComposedChainMatchesCompositeTransform) {
  std::mt19937_64 rng(3);
  Transform t;
  t.stages.push_back(random_affine_stage(rng));
  t.stages.push_back(random_bspline_stage(rng, 0.1));
  t.stages.push_back(random_affine_stage(rng));
  t.stages.push_back(random_bspline_stage(rng, -0.05));
  auto comp = ItkComposite::New();
  // ITK's CompositeTransform applies the last added transform first.
  for (auto it = t.stages.rbegin(); it != t.stages.rend(); ++it) {
    if (it->kind == StageKind::kAffine)
      comp->AddTransform(to_itk(it->affine));
    else
      comp->AddTransform(to_itk(it->bspline));
  }
  std::uniform_real_distribution<double> u(-60, 260);
  for (int n = 0; n < 3000; ++n) {
    Vec2 p{u(rng), u(rng)};
    expect_close(t.apply(p), comp->TransformPoint(itk_point(p)), p);
  }
}

// The elastix files, read by our parser, against ITK transforms built from the same numbers
// with ITK's own parametrisations (centre, angle, scale).
std::vector<double> numbers_in(const ParameterMap& m, const std::string& key) {
  std::vector<double> v;
  for (const auto& s : m.at(key)) v.push_back(std::stod(s));
  return v;
}

template <class T>
typename T::Pointer centred_itk(const ParameterMap& m) {
  auto t = T::New();
  const auto c = numbers_in(m, "CenterOfRotationPoint");
  ItkPoint centre;
  centre[0] = c[0];
  centre[1] = c[1];
  t->SetCenter(centre);
  const auto p = numbers_in(m, "TransformParameters");
  typename T::ParametersType params(static_cast<unsigned>(p.size()));
  for (size_t i = 0; i < p.size(); ++i) params[static_cast<unsigned>(i)] = p[i];
  t->SetParameters(params);
  return t;
}

ItkBSpline::Pointer bspline_itk(const ParameterMap& m) {
  auto t = ItkBSpline::New();
  // ITK's fixed parameters: grid size, origin, spacing, direction (of the coefficient grid).
  ItkBSpline::FixedParametersType fixed(10);
  const auto size = numbers_in(m, "GridSize"), origin = numbers_in(m, "GridOrigin"),
             spacing = numbers_in(m, "GridSpacing"), dir = numbers_in(m, "GridDirection");
  for (unsigned i = 0; i < 2; ++i) {
    fixed[i] = size[i];
    fixed[2 + i] = origin[i];
    fixed[4 + i] = spacing[i];
  }
  for (unsigned i = 0; i < 4; ++i) fixed[6 + i] = dir[i];
  t->SetFixedParameters(fixed);
  const auto p = numbers_in(m, "TransformParameters");
  ItkBSpline::ParametersType params(static_cast<unsigned>(p.size()));
  for (size_t i = 0; i < p.size(); ++i) params[static_cast<unsigned>(i)] = p[i];
  t->SetParametersByValue(params);
  return t;
}

TEST(TransformVsItk, ElastixFixturesMatchItkParametrisations) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(-20, 210);
  for (const char* rel :
       {"rigid/TransformParameters.0.txt", "affine/TransformParameters.0.txt", "bspline/TransformParameters.1.txt"}) {
    SCOPED_TRACE(rel);
    const std::string last = alinify::test::elastix_fixture(rel);
    Transform ours = read_elastix_transform(last);
    auto comp = ItkComposite::New();
    auto chain = transform_chain(last);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      ParameterMap m = read_parameter_file(*it);
      const std::string type = m.at("Transform")[0];
      if (type == "EulerTransform")
        comp->AddTransform(centred_itk<itk::Euler2DTransform<double>>(m));
      else if (type == "AffineTransform")
        comp->AddTransform(centred_itk<ItkAffine>(m));
      else if (type == "BSplineTransform")
        comp->AddTransform(bspline_itk(m));
      else
        FAIL() << "unexpected " << type;
    }
    for (int n = 0; n < 2000; ++n) {
      Vec2 p{u(rng), u(rng)};
      expect_close(ours.apply(p), comp->TransformPoint(itk_point(p)), p);
    }
  }
}

TEST(TransformVsItk, SimilarityFileMatchesItkSimilarity2D) {
  alinify::test::ScratchDir dir("itk-sim");
  const std::string path = dir.file("sim.txt");
  std::ofstream(path) << "(Transform \"SimilarityTransform\")\n(NumberOfParameters 4)\n"
                         "(TransformParameters 0.97 -0.21 12.5 -3.75)\n(CenterOfRotationPoint 101.5 -40.25)\n"
                         "(InitialTransformParametersFileName \"NoInitialTransform\")\n";
  Transform ours = read_elastix_transform(path);
  auto itk_t = centred_itk<itk::Similarity2DTransform<double>>(read_parameter_file(path));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-300, 300);
  for (int n = 0; n < 500; ++n) {
    Vec2 p{u(rng), u(rng)};
    expect_close(ours.apply(p), itk_t->TransformPoint(itk_point(p)), p);
  }
}

}  // namespace
}  // namespace alinify::transform
