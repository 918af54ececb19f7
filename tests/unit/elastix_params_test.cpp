// elastix TransformParameters: parsing, chains, errors and the full-resolution rewrite (agreement
// with the real transformix: tests/integration/transformix_test.cpp).
#include "alinify/transform/elastix_params.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <sstream>

#include "alinify/core/error.hpp"
#include "support/files.hpp"
#include "support/test_transforms.hpp"

namespace alinify::transform {
namespace {
namespace fs = std::filesystem;
using alinify::test::elastix_fixture;
using alinify::test::elastix_fixture_points;
using alinify::test::read_file;
using alinify::test::ScratchDir;
using alinify::test::write_file;

// Numbers of "(Key v1 v2 ...)" read straight from the file text, independently of the parser.
std::vector<double> numbers_in(const std::string& path, const std::string& key) {
  std::regex re("\\(" + key + "((?:\\s+[-+0-9.eE]+)+)\\s*\\)");
  std::smatch m;
  std::string text = read_file(path);
  if (!std::regex_search(text, m, re)) {
    ADD_FAILURE() << key << " not in " << path;
    return {};
  }
  std::istringstream ss(m[1].str());
  std::vector<double> v;
  double x;
  while (ss >> x) v.push_back(x);
  return v;
}

// (Built with += : GCC 12 at -O3 gives a false -Wrestrict for "literal" + std::string&&.)
std::string numbered(const char* stem, int k) {
  std::string s(stem);
  s += std::to_string(k);
  s += ".txt";
  return s;
}

// Expects bad input whose message names `file` and contains `needle`.
template <class F>
void expect_bad_input(F&& f, const std::string& file, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// ---------- the parameter-file syntax ----------

TEST(ElastixParams, ParsesKeysValuesCommentsAndBlankLines) {
  const std::string text =
      "// a comment\n"
      "\n"
      "   (Transform \"AffineTransform\")   // trailing comment\n"
      "(NumberOfParameters 6)\r\n"
      "(TransformParameters 1 0.5 -2e-3 +1.0 10 -20.25)\n"
      "\t(Name \"with space\" \"b\")\n"
      "(Empty \"\")\n"
      "(Url \"http://x//y\")\n";
  ParameterMap m = parse_parameter_text(text, "mem.txt");
  EXPECT_EQ(m.at("Transform"), std::vector<std::string>{"AffineTransform"});
  EXPECT_EQ(m.at("NumberOfParameters"), std::vector<std::string>{"6"});
  EXPECT_EQ(m.at("TransformParameters"), (std::vector<std::string>{"1", "0.5", "-2e-3", "+1.0", "10", "-20.25"}));
  EXPECT_EQ(m.at("Name"), (std::vector<std::string>{"with space", "b"}));
  EXPECT_EQ(m.at("Empty"), std::vector<std::string>{""});
  EXPECT_EQ(m.at("Url"), std::vector<std::string>{"http://x//y"});
  EXPECT_EQ(m.size(), 6u);
}

TEST(ElastixParams, FormatReadsBackTheSameMap) {
  const std::string text =
      "(Transform \"EulerTransform\")\n(NumberOfParameters 3)\n(TransformParameters 0.1 2 3)\n"
      "(ResultImagePixelType \"float\")\n(Origin 0.5000000000 0.5)\n(Name \"a b\")\n";
  ParameterMap m = parse_parameter_text(text, "mem.txt");
  std::string out = format_parameter_map(m);
  EXPECT_EQ(parse_parameter_text(out, "out.txt"), m);
  EXPECT_NE(out.find("(ResultImagePixelType \"float\")"), std::string::npos) << out;
  EXPECT_NE(out.find("(Origin 0.5000000000 0.5)"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("(Transform \"EulerTransform\")", 0), 0u) << out;
}

TEST(ElastixParams, MalformedLinesAreBadInputNamingFileAndLine) {
  ScratchDir dir("elx-malformed");
  struct Case {
    const char* text;
    const char* needle;
  } cases[] = {
      {"(Transform \"AffineTransform\")\n(NumberOfParameters 6\n", "line 2: unbalanced"},
      {"(A 1)\n\n(B (1))\n", "line 3: unbalanced"},
      {"(A 1))\n", "line 1: unexpected text"},
      {"(Transform \"Affine)\n", "line 1: unterminated"},
      {"( 1 2)\n", "line 1: missing key"},
      {"(\"Key\" 1)\n", "line 1: missing key"},
      {"()\n", "line 1: missing key"},
      {"// ok\nTransform \"x\"\n", "line 2: expected"},
      {"(A 1)\n(A 2)\n", "line 2: (A) is given more than once"},
      {"(A)\n", "line 1: (A) has no value"},
      {"(A 1\"x\")\n", "line 1: unexpected"},
  };
  int k = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string path = dir.file(numbered("bad", k++));
    write_file(path, c.text);
    expect_bad_input([&] { read_parameter_file(path); }, path, c.needle);
    expect_bad_input([&] { read_elastix_transform(path); }, path, c.needle);
  }
}

TEST(ElastixParams, MissingFileIsBadInput) {
  expect_bad_input([] { read_parameter_file("/nonexistent/TransformParameters.0.txt"); },
                   "/nonexistent/TransformParameters.0.txt", "no such file");
}

// ---------- transform kinds, from hand-written files ----------

std::string header(const std::string& type, const std::string& params, int n) {
  return "(Transform \"" + type + "\")\n(NumberOfParameters " + std::to_string(n) + ")\n(TransformParameters " +
         params +
         ")\n(InitialTransformParametersFileName \"NoInitialTransform\")\n"
         "(HowToCombineTransforms \"Compose\")\n(FixedImageDimension 2)\n(MovingImageDimension 2)\n";
}

TEST(ElastixParams, TranslationEulerSimilarityAffine) {
  ScratchDir dir("elx-kinds");
  const double cx = 40.5, cy = -7.25;
  const std::string centre = "(CenterOfRotationPoint 40.5 -7.25)\n";
  struct Case {
    std::string text;
    double m[4];
    double t[2];
    bool centred;
  };
  const double a = 0.3, s = 1.25;
  std::vector<Case> cases = {
      {header("TranslationTransform", "3.5 -2", 2), {1, 0, 0, 1}, {3.5, -2}, false},
      {header("EulerTransform", "0.3 3.5 -2", 3) + centre,
       {std::cos(a), -std::sin(a), std::sin(a), std::cos(a)},
       {3.5, -2},
       true},
      {header("SimilarityTransform", "1.25 0.3 3.5 -2", 4) + centre,
       {s * std::cos(a), -s * std::sin(a), s * std::sin(a), s * std::cos(a)},
       {3.5, -2},
       true},
      {header("AffineTransform", "1.1 0.2 -0.1 0.9 3.5 -2", 6) + centre, {1.1, 0.2, -0.1, 0.9}, {3.5, -2}, true},
  };
  int k = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string path = dir.file(numbered("t", k++));
    write_file(path, c.text);
    Transform t = read_elastix_transform(path);
    ASSERT_EQ(t.stages.size(), 1u);
    EXPECT_EQ(t.stages[0].kind, StageKind::kAffine);
    EXPECT_EQ(t.stages[0].combine, Combine::kCompose);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(t.stages[0].affine.m[i], c.m[i], 1e-15);
    for (Vec2 p : {Vec2{0, 0}, Vec2{100, 50}, Vec2{-3.5, 1e3}}) {
      // ITK: q = A (p - c) + c + t
      const double ccx = c.centred ? cx : 0, ccy = c.centred ? cy : 0;
      const double ex = c.m[0] * (p.x - ccx) + c.m[1] * (p.y - ccy) + ccx + c.t[0];
      const double ey = c.m[2] * (p.x - ccx) + c.m[3] * (p.y - ccy) + ccy + c.t[1];
      Vec2 q = t.apply(p);
      EXPECT_NEAR(q.x, ex, 1e-9);
      EXPECT_NEAR(q.y, ey, 1e-9);
    }
  }
}

TEST(ElastixParams, ImageDirectionDoesNotChangeTheTransform) {
  // (Direction ...) describes the registration image's grid only; the transform is physical -> physical.
  ScratchDir dir("elx-direction");
  const std::string body = header("AffineTransform", "1.1 0.2 -0.1 0.9 3.5 -2", 6) + "(CenterOfRotationPoint 4 5)\n";
  write_file(dir.file("id.txt"), body + "(Direction 1 0 0 1)\n");
  write_file(dir.file("flip.txt"), body + "(Direction 0 1 1 0)\n(UseDirectionCosines \"true\")\n");
  Transform a = read_elastix_transform(dir.file("id.txt")), b = read_elastix_transform(dir.file("flip.txt"));
  for (Vec2 p : {Vec2{0, 0}, Vec2{17.5, -3}}) {
    EXPECT_EQ(a.apply(p).x, b.apply(p).x);
    EXPECT_EQ(a.apply(p).y, b.apply(p).y);
  }
  // Kept by format_parameter_map; the full-resolution chain uses the identity design grid.
  EXPECT_NE(format_parameter_map(read_parameter_file(dir.file("flip.txt"))).find("(Direction 0 1 1 0)"),
            std::string::npos);
  auto w = write_full_resolution_chain(dir.file("flip.txt"), dir.file("full"), Size{10, 20});
  EXPECT_EQ(read_parameter_file(w[0]).at("Direction"), (std::vector<std::string>{"1", "0", "0", "1"}));
}

TEST(ElastixParams, UnsupportedTransformsAreBadInputNamingTheFile) {
  ScratchDir dir("elx-unsupported");
  const std::string grid =
      "(GridSize 4 4)\n(GridIndex 0 0)\n(GridSpacing 10 10)\n(GridOrigin -10 -10)\n(GridDirection 1 0 0 1)\n";
  const std::string zeros32 = [] {
    std::string s;
    for (int i = 0; i < 32; ++i) s += "0 ";
    return s;
  }();
  struct Case {
    std::string text;
    const char* needle;
  } cases[] = {
      {header("SplineKernelTransform", "1 2", 2), "SplineKernelTransform"},
      {header("BSplineTransform", zeros32, 32) + grid + "(BSplineTransformSplineOrder 2)\n", "only cubic"},
      {header("BSplineTransform", zeros32, 32) + "(GridSize 4 4)\n(GridIndex 1 0)\n(GridSpacing 10 10)\n"
                                                 "(GridOrigin 0 0)\n(BSplineTransformSplineOrder 3)\n",
       "GridIndex"},
      {header("BSplineTransform", zeros32, 31) + grid, "NumberOfParameters"},
      {header("BSplineTransform", zeros32, 32) + "(GridSize 4 4 2)\n(GridIndex 0 0 0)\n", "only 2D"},
      {header("AffineTransform", "1 0 0 1 2", 5) + "(CenterOfRotationPoint 0 0)\n", "3D"},
      {header("AffineTransform", "1 0 0 1 0 0", 6), "CenterOfRotationPoint"},
      {"(Transform \"EulerTransform\")\n(NumberOfParameters 6)\n(TransformParameters 0 0 0 1 2 3)\n"
       "(FixedImageDimension 3)\n(MovingImageDimension 3)\n(CenterOfRotationPoint 0 0 0)\n",
       "only 2D"},
      {header("AffineTransform", "1 0 0 1 x 0", 6) + "(CenterOfRotationPoint 0 0)\n", "not a finite number"},
      {header("AffineTransform", "1 0 0 1 0 0", 6) + "(CenterOfRotationPoint 0 0)\n(HowToCombineTransforms2 \"x\")\n"
                                                     "(UseBinaryFormatForTransformationParameters \"true\")\n",
       "binary"},
      {"(Transform \"TranslationTransform\")\n(NumberOfParameters 2)\n(TransformParameters 0 0)\n"
       "(HowToCombineTransforms \"Multiply\")\n",
       "HowToCombineTransforms"},
      {"(NumberOfParameters 2)\n(TransformParameters 0 0)\n", "missing (Transform"},
      {"(Transform \"TranslationTransform\")\n(TransformParameters 0 0)\n", "missing (NumberOfParameters"},
  };
  int k = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string path = dir.file(numbered("u", k++));
    write_file(path, c.text);
    expect_bad_input([&] { read_elastix_transform(path); }, path, c.needle);
  }
}

TEST(ElastixParams, ChainLinksMissingAndCyclic) {
  ScratchDir dir("elx-links");
  const std::string t = "(Transform \"TranslationTransform\")\n(NumberOfParameters 2)\n(TransformParameters 1 2)\n";
  write_file(dir.file("a.txt"), t + "(InitialTransformParametersFileName \"missing.txt\")\n");
  expect_bad_input([&] { read_elastix_transform(dir.file("a.txt")); }, dir.file("a.txt"), "missing.txt");
  write_file(dir.file("b.txt"), t + "(InitialTransformParametersFileName \"c.txt\")\n");
  write_file(dir.file("c.txt"), t + "(InitialTransformParametersFileName \"b.txt\")\n");
  expect_bad_input([&] { read_elastix_transform(dir.file("b.txt")); }, "b.txt", "cycle");
  // Relative names resolve beside the referring file; a missing key ends the chain.
  fs::create_directories(dir.path() / "sub");
  write_file(dir.file("sub/inner.txt"), t);
  write_file(dir.file("outer.txt"), t + "(InitialTransformParametersFileName \"sub/inner.txt\")\n");
  auto chain = transform_chain(dir.file("outer.txt"));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(fs::path(chain[0]).filename(), "inner.txt");
  EXPECT_EQ(chain[1], dir.file("outer.txt"));
  Vec2 q = read_elastix_transform(dir.file("outer.txt")).apply({10, 10});
  EXPECT_DOUBLE_EQ(q.x, 12);
  EXPECT_DOUBLE_EQ(q.y, 14);
}

// ---------- the real elastix fixtures ----------

TEST(ElastixFixtures, RigidMatchesFileText) {
  const std::string f = elastix_fixture("rigid/TransformParameters.0.txt");
  Transform t = read_elastix_transform(f);
  ASSERT_EQ(t.stages.size(), 1u);
  const auto p = numbers_in(f, "TransformParameters");
  const auto c = numbers_in(f, "CenterOfRotationPoint");
  ASSERT_EQ(p.size(), 3u);
  ASSERT_EQ(c.size(), 2u);
  const Affine& a = t.stages[0].affine;
  EXPECT_EQ(t.stages[0].kind, StageKind::kAffine);
  EXPECT_DOUBLE_EQ(a.m[0], std::cos(p[0]));
  EXPECT_DOUBLE_EQ(a.m[1], -std::sin(p[0]));
  EXPECT_DOUBLE_EQ(a.m[2], std::sin(p[0]));
  EXPECT_DOUBLE_EQ(a.m[3], std::cos(p[0]));
  // The centre maps to centre + translation.
  Vec2 q = t.apply({c[0], c[1]});
  EXPECT_NEAR(q.x, c[0] + p[1], 1e-9);
  EXPECT_NEAR(q.y, c[1] + p[2], 1e-9);
}

TEST(ElastixFixtures, AffineMatchesFileText) {
  const std::string f = elastix_fixture("affine/TransformParameters.0.txt");
  Transform t = read_elastix_transform(f);
  ASSERT_EQ(t.stages.size(), 1u);
  const auto p = numbers_in(f, "TransformParameters");
  ASSERT_EQ(p.size(), 6u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.stages[0].affine.m[i], p[i]);
  const auto c = numbers_in(f, "CenterOfRotationPoint");
  Vec2 q = t.apply({c[0], c[1]});
  EXPECT_NEAR(q.x, c[0] + p[4], 1e-9);
  EXPECT_NEAR(q.y, c[1] + p[5], 1e-9);
}

void expect_bspline_matches(const Stage& s, const std::string& f) {
  EXPECT_EQ(s.kind, StageKind::kBSpline);
  const auto size = numbers_in(f, "GridSize");
  const auto spacing = numbers_in(f, "GridSpacing");
  const auto origin = numbers_in(f, "GridOrigin");
  const auto dir = numbers_in(f, "GridDirection");
  const auto p = numbers_in(f, "TransformParameters");
  ASSERT_EQ(size.size(), 2u);
  EXPECT_EQ(s.bspline.size[0], size[0]);
  EXPECT_EQ(s.bspline.size[1], size[1]);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(s.bspline.spacing[i], spacing[i]);
    EXPECT_EQ(s.bspline.origin[i], origin[i]);
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s.bspline.direction[i], dir[i]);
  const size_t n = static_cast<size_t>(size[0] * size[1]);
  ASSERT_EQ(p.size(), 2 * n);
  ASSERT_EQ(s.bspline.coef_x.size(), n);
  ASSERT_EQ(s.bspline.coef_y.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(s.bspline.coef_x[i], p[i]);
    EXPECT_EQ(s.bspline.coef_y[i], p[n + i]);
  }
}

TEST(ElastixFixtures, BSplineChainMatchesFileText) {
  const std::string f = elastix_fixture("bspline/TransformParameters.1.txt");
  auto chain = transform_chain(f);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(fs::path(chain[0]).filename(), "TransformParameters.0.txt");
  Transform t = read_elastix_transform(f);
  ASSERT_EQ(t.stages.size(), 2u);
  EXPECT_EQ(t.stages[0].kind, StageKind::kAffine);
  EXPECT_EQ(t.stages[1].combine, Combine::kCompose);
  expect_bspline_matches(t.stages[1], f);
}

TEST(ElastixFixtures, EulerThenAddedBSpline) {
  const std::string f = elastix_fixture("euler_add/TransformParameters.1.txt");
  Transform t = read_elastix_transform(f);
  ASSERT_EQ(t.stages.size(), 2u);
  EXPECT_EQ(t.stages[0].kind, StageKind::kAffine);
  EXPECT_EQ(t.stages[1].combine, Combine::kAdd);
  expect_bspline_matches(t.stages[1], f);
}

TEST(ElastixFixtures, InitialTranslationThenRigid) {
  const std::string f = elastix_fixture("initial/TransformParameters.0.txt");
  Transform t = read_elastix_transform(f);
  ASSERT_EQ(t.stages.size(), 2u);
  EXPECT_EQ(t.stages[0].affine.offset[0], 5.5);
  EXPECT_EQ(t.stages[0].affine.offset[1], -3.25);
}

TEST(ElastixFullResolution, RewritesGridAndLinksAndKeepsTheTransform) {
  ScratchDir dir("elx-fullres");
  const std::string last = elastix_fixture("bspline/TransformParameters.1.txt");
  auto written = write_full_resolution_chain(last, dir.file("full"), Size{300, 250});
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(fs::path(written[0]).filename(), "TransformParameters.full.0.txt");
  EXPECT_EQ(fs::path(written[1]).filename(), "TransformParameters.full.1.txt");
  ParameterMap m0 = read_parameter_file(written[0]);
  ParameterMap m1 = read_parameter_file(written[1]);
  EXPECT_EQ(m0.at("InitialTransformParametersFileName"), std::vector<std::string>{"NoInitialTransform"});
  ASSERT_TRUE(fs::path(m1.at("InitialTransformParametersFileName")[0]).is_absolute());
  EXPECT_TRUE(fs::equivalent(m1.at("InitialTransformParametersFileName")[0], written[0]));
  for (const ParameterMap* m : {&m0, &m1}) {
    EXPECT_EQ(m->at("Size"), (std::vector<std::string>{"300", "250"}));
    EXPECT_EQ(m->at("Spacing"), (std::vector<std::string>{"1", "1"}));
    EXPECT_EQ(m->at("Origin"), (std::vector<std::string>{"0", "0"}));
    EXPECT_EQ(m->at("Index"), (std::vector<std::string>{"0", "0"}));
    EXPECT_EQ(m->at("Direction"), (std::vector<std::string>{"1", "0", "0", "1"}));
    EXPECT_EQ(m->at("ResultImagePixelType"), std::vector<std::string>{"float"});
  }
  // Everything else is kept, text for text.
  ParameterMap orig = read_parameter_file(last);
  for (const auto& [k, v] : orig) {
    if (k == "Size" || k == "Spacing" || k == "Origin" || k == "Index" || k == "Direction" ||
        k == "InitialTransformParametersFileName")
      continue;
    EXPECT_EQ(m1.at(k), v) << k;
  }
  // The same transform, bit for bit.
  Transform a = read_elastix_transform(last), b = read_elastix_transform(written[1]);
  for (Vec2 p : elastix_fixture_points()) {
    Vec2 qa = a.apply(p), qb = b.apply(p);
    EXPECT_EQ(qa.x, qb.x);
    EXPECT_EQ(qa.y, qb.y);
  }
}

}  // namespace
}  // namespace alinify::transform
