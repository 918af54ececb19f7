// transform.json as a format people write (docs/transforms.md) and the one set of B-spline rules
// that transform.json and elastix parameter files share.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "alinify/core/error.hpp"
#include "alinify/reg/registration.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "alinify/transform/transform_json.hpp"
#include "support/files.hpp"

namespace alinify::transform {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// docs/examples/ beside configs/ in the source tree (the tests know configs/ through the environment).
std::string example(const std::string& name) {
  return (fs::path(alinify::test::configs_dir()).parent_path() / "docs" / "examples" / name).string();
}

std::string bad_input_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return "";
}

void expect_near(Vec2 got, Vec2 want) {
  EXPECT_NEAR(got.x, want.x, 1e-9);
  EXPECT_NEAR(got.y, want.y, 1e-9);
}

// What `warp --transform` requires beyond a valid file: enough of the design mapping into the scan.
void expect_warp_would_accept(const TransformFile& f) {
  EXPECT_GE(reg::overlap_fraction(f.transform, f.design, f.scan), 0.99);
}

TEST(TransformExamples, HandWrittenAffineLoadsAndMapsAsDocumented) {
  const TransformFile f = read_transform_json(example("affine.transform.json"));
  EXPECT_EQ(f.design, (Size{600, 400}));
  EXPECT_EQ(f.scan, (Size{640, 440}));
  EXPECT_EQ(f.registration_factor, kFactorNotRecorded);
  EXPECT_EQ(f.preset, "");
  EXPECT_FALSE(f.has_initial);
  ASSERT_EQ(f.transform.stages.size(), 1u);
  EXPECT_EQ(f.transform.stages[0].kind, StageKind::kAffine);
  EXPECT_EQ(f.transform.stages[0].combine, Combine::kCompose);
  expect_near(f.transform.apply({0, 0}), {20, 15.5});
  expect_near(f.transform.apply({100, 0}), {119.98, 17.25});
  expect_warp_would_accept(f);
}

TEST(TransformExamples, BSplineLoadsAndReproducesItsLinearField) {
  const TransformFile f = read_transform_json(example("bspline.transform.json"));
  ASSERT_EQ(f.transform.stages.size(), 2u);
  EXPECT_EQ(f.transform.stages[1].kind, StageKind::kBSpline);
  EXPECT_EQ(f.transform.stages[1].combine, Combine::kAdd);
  EXPECT_FALSE(validate(f.transform.stages[1].bspline).has_value());
  // docs/transforms.md: T(p) = p + (20, 20) + (0.5 (x + 200) / 200 - 1, 0.25 (y + 200) / 200).
  for (const Vec2 p : {Vec2{0, 0}, Vec2{300, 200}, Vec2{599, 399}, Vec2{17.5, 321.25}}) {
    SCOPED_TRACE(std::to_string(p.x) + ", " + std::to_string(p.y));
    expect_near(f.transform.apply(p), {p.x + 20 + 0.5 * (p.x + 200) / 200 - 1, p.y + 20 + 0.25 * (p.y + 200) / 200});
  }
  expect_near(f.transform.apply({300, 200}), {320.25, 220.5});
  expect_warp_would_accept(f);
}

TEST(TransformExamples, ProvenanceLeftOutStaysLeftOutWhenWrittenAgain) {
  const TransformFile f = read_transform_json(example("affine.transform.json"));
  const json written = json::parse(to_json_text(f));
  EXPECT_FALSE(written.contains("registration_factor"));
  EXPECT_FALSE(written.contains("preset"));
  const TransformFile back = from_json_text(to_json_text(f), "again");
  EXPECT_EQ(back.registration_factor, kFactorNotRecorded);
  expect_near(back.transform.apply({100, 0}), {119.98, 17.25});
}

TEST(TransformHandWritten, OnlyWhatTheGeometryNeedsIsRequired) {
  const json minimal = json::parse(R"({"format": "alinify-transform", "version": 1,
    "design": {"width": 10, "height": 10}, "scan": {"width": 10, "height": 10},
    "stages": [{"type": "affine", "matrix": [1, 0, 0, 1], "offset": [1, 2]}]})");
  EXPECT_NO_THROW(from_json_text(minimal.dump(), "minimal"));
  // Provenance given is still checked.
  json bad_factor = minimal;
  bad_factor["registration_factor"] = 0;
  EXPECT_NE(bad_input_message([&] { from_json_text(bad_factor.dump(), "f"); }).find("registration_factor"),
            std::string::npos);
  // The geometry is not optional.
  for (const char* key : {"format", "version", "design", "scan", "stages"}) {
    json without = minimal;
    without.erase(key);
    EXPECT_NE(bad_input_message([&] { from_json_text(without.dump(), "f"); }).find(key), std::string::npos) << key;
  }
  json no_stages = minimal;
  no_stages["stages"] = json::array();  // would read as the identity
  EXPECT_NE(bad_input_message([&] { from_json_text(no_stages.dump(), "f"); }).find("stages is empty"),
            std::string::npos);
  for (const char* key : {"type", "matrix", "offset"}) {
    json without = minimal;
    without["stages"][0].erase(key);
    EXPECT_NE(bad_input_message([&] { from_json_text(without.dump(), "f"); }).find(key), std::string::npos) << key;
  }
}

TEST(BSplineRules, ValidateNamesTheFirstBrokenRule) {
  using Rule = BSplineProblem::Rule;
  BSpline b;
  b.size[0] = 4;
  b.size[1] = 5;
  b.coef_x.assign(20, 0.0);
  b.coef_y.assign(20, 0.0);
  EXPECT_FALSE(validate(b).has_value());
  const auto rule_of = [](const BSpline& s) {
    return validate(s).value_or(BSplineProblem{Rule::kCoefficientCount, 99});
  };
  BSpline wide = b;
  wide.size[1] = static_cast<int>(kMaxGridPointsPerAxis + 1);
  EXPECT_EQ(rule_of(wide).rule, Rule::kGridSizeOutOfRange);
  EXPECT_EQ(rule_of(wide).axis, 1);
  BSpline zero_spacing = b;
  zero_spacing.spacing[0] = 0;
  EXPECT_EQ(rule_of(zero_spacing).rule, Rule::kSpacingNotPositive);
  BSpline nan_spacing = b;
  nan_spacing.spacing[1] = std::nan("");
  EXPECT_EQ(rule_of(nan_spacing).rule, Rule::kSpacingNotPositive);
  BSpline singular = b;
  singular.direction[0] = singular.direction[1] = singular.direction[2] = singular.direction[3] = 1;
  EXPECT_EQ(rule_of(singular).rule, Rule::kDirectionSingular);
  BSpline short_coefficients = b;
  short_coefficients.coef_y.pop_back();
  EXPECT_EQ(rule_of(short_coefficients).rule, Rule::kCoefficientCount);

  EXPECT_FALSE(validate_grid_size(kMaxGridPointsPerAxis, kMaxGridPoints / kMaxGridPointsPerAxis).has_value());
  EXPECT_EQ(validate_grid_size(0, 4)->axis, 0);
  EXPECT_EQ(validate_grid_size(4096, 4097)->rule, Rule::kTooManyGridPoints);
  EXPECT_FALSE(validate_grid_size(4096, 4096).has_value());
}

// The same grid is refused by both readers, each in its own key names.
TEST(BSplineRules, TransformJsonAndElastixShareTheLimits) {
  alinify::test::ScratchDir dir("bspline-rules");
  const auto json_with_grid = [](int64_t nx, int64_t ny) {
    return json{{"format", "alinify-transform"},
                {"version", 1},
                {"design", {{"width", 10}, {"height", 10}}},
                {"scan", {{"width", 10}, {"height", 10}}},
                {"stages",
                 {{{"type", "bspline"},
                   {"grid_size", {nx, ny}},
                   {"grid_origin", {0, 0}},
                   {"grid_spacing", {1, 1}},
                   {"coefficients_x", json::array()},
                   {"coefficients_y", json::array()}}}}}
        .dump();
  };
  const auto elastix_with_grid = [&](int64_t nx, int64_t ny) {
    const std::string path = dir.file("TransformParameters." + std::to_string(nx) + "x" + std::to_string(ny) + ".txt");
    std::ofstream(path) << "(Transform \"BSplineTransform\")\n(NumberOfParameters 2)\n(TransformParameters 0 0)\n"
                        << "(GridSize " << nx << " " << ny
                        << ")\n(GridIndex 0 0)\n(GridSpacing 1 1)\n(GridOrigin 0 0)\n";
    return path;
  };
  const int64_t over_axis = kMaxGridPointsPerAxis + 1, square_over_total = 4097;
  EXPECT_NE(bad_input_message([&] {
              from_json_text(json_with_grid(over_axis, 1), "j");
            }).find("grid_size[0] is out of range [1, 100000]"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              read_elastix_transform(elastix_with_grid(over_axis, 1));
            }).find("(GridSize 100001 1) is not a valid grid size"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              from_json_text(json_with_grid(4096, square_over_total), "j");
            }).find("claims 16781312 control points, over the limit of 16777216"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              read_elastix_transform(elastix_with_grid(4096, square_over_total));
            }).find("claims more than 2^24 control points"),
            std::string::npos);
  // At the limit both get past the grid size to the coefficient count.
  EXPECT_NE(bad_input_message([&] {
              from_json_text(json_with_grid(4096, 4096), "j");
            }).find("coefficients_x has 0 elements; expected 16777216"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              read_elastix_transform(elastix_with_grid(4096, 4096));
            }).find("needs 33554432 parameters"),
            std::string::npos);
}

}  // namespace
}  // namespace alinify::transform
