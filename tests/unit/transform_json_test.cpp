// transform.json: bit-exact round trip and validation.
#include "alinify/transform/transform_json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "alinify/core/error.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "support/files.hpp"

namespace alinify::transform {
namespace {
using nlohmann::json;

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TransformFile sample() {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-1, 1);
  TransformFile f;
  f.design = {18960, 14960};
  f.scan = {19001, 15003};
  f.registration_factor = 8;
  f.preset = "bspline";
  Stage a;
  a.kind = StageKind::kAffine;
  a.affine.m[0] = 1.0 + u(rng) * 1e-3;
  a.affine.m[1] = 1.0 / 3.0;
  a.affine.m[2] = -std::numeric_limits<double>::denorm_min();
  a.affine.m[3] = 0.1 + 0.2;
  a.affine.offset[0] = 1234.5678901234567;
  a.affine.offset[1] = -std::numeric_limits<double>::max();
  f.transform.stages.push_back(a);
  Stage b;
  b.kind = StageKind::kBSpline;
  b.combine = Combine::kAdd;
  b.bspline.size[0] = 7;
  b.bspline.size[1] = 5;
  b.bspline.origin[0] = -256.123456789;
  b.bspline.origin[1] = std::nextafter(-300.0, 0.0);
  b.bspline.spacing[0] = 256.0 / 3.0;
  b.bspline.spacing[1] = 255.99999999999997;
  const double c = std::cos(0.01), s = std::sin(0.01);
  b.bspline.direction[0] = c;
  b.bspline.direction[1] = -s;
  b.bspline.direction[2] = s;
  b.bspline.direction[3] = c;
  for (int i = 0; i < 35; ++i) {
    b.bspline.coef_x.push_back(u(rng) * 3);
    b.bspline.coef_y.push_back(u(rng) * 1e-7);
  }
  f.transform.stages.push_back(b);
  return f;
}

void expect_same(const TransformFile& a, const TransformFile& b) {
  EXPECT_EQ(a.design, b.design);
  EXPECT_EQ(a.scan, b.scan);
  EXPECT_EQ(a.registration_factor, b.registration_factor);
  EXPECT_EQ(a.preset, b.preset);
  ASSERT_EQ(a.transform.stages.size(), b.transform.stages.size());
  for (size_t k = 0; k < a.transform.stages.size(); ++k) {
    const Stage &x = a.transform.stages[k], &y = b.transform.stages[k];
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.combine, y.combine);
    if (x.kind == StageKind::kAffine) {
      for (int i = 0; i < 4; ++i) EXPECT_TRUE(same_bits(x.affine.m[i], y.affine.m[i])) << i;
      for (int i = 0; i < 2; ++i) EXPECT_TRUE(same_bits(x.affine.offset[i], y.affine.offset[i])) << i;
    } else {
      for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(x.bspline.size[i], y.bspline.size[i]);
        EXPECT_TRUE(same_bits(x.bspline.origin[i], y.bspline.origin[i]));
        EXPECT_TRUE(same_bits(x.bspline.spacing[i], y.bspline.spacing[i]));
      }
      for (int i = 0; i < 4; ++i) EXPECT_TRUE(same_bits(x.bspline.direction[i], y.bspline.direction[i]));
      ASSERT_EQ(x.bspline.coef_x.size(), y.bspline.coef_x.size());
      ASSERT_EQ(x.bspline.coef_y.size(), y.bspline.coef_y.size());
      for (size_t i = 0; i < x.bspline.coef_x.size(); ++i) {
        EXPECT_TRUE(same_bits(x.bspline.coef_x[i], y.bspline.coef_x[i]));
        EXPECT_TRUE(same_bits(x.bspline.coef_y[i], y.bspline.coef_y[i]));
      }
    }
  }
}

TEST(TransformJson, RoundTripIsBitExact) {
  TransformFile f = sample();
  std::string text = to_json_text(f);
  TransformFile g = from_json_text(text, "mem");
  expect_same(f, g);
  EXPECT_EQ(to_json_text(g), text);
  json j = json::parse(text);
  EXPECT_EQ(j["format"], "alinify-transform");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["stages"][0]["type"], "affine");
  EXPECT_EQ(j["stages"][0]["combine"], "compose");
  EXPECT_EQ(j["stages"][1]["type"], "bspline");
  EXPECT_EQ(j["stages"][1]["combine"], "add");
  EXPECT_EQ(j["stages"][1]["order"], 3);
}

TEST(TransformJson, RoundTripOfARealElastixChainThroughAFile) {
  alinify::test::ScratchDir dir("json-file");
  TransformFile f;
  f.transform = read_elastix_transform(alinify::test::elastix_fixture("bspline/TransformParameters.1.txt"));
  f.design = {192, 176};
  f.scan = {200, 184};
  f.registration_factor = 2;
  f.preset = "bspline";
  write_transform_json(dir.file("transform.json"), f);
  TransformFile g = read_transform_json(dir.file("transform.json"));
  expect_same(f, g);
  for (double y = -5; y < 180; y += 7.3)
    for (double x = -5; x < 200; x += 6.1) {
      Vec2 p{x, y};
      Vec2 a = f.transform.apply(p), b = g.transform.apply(p);
      EXPECT_TRUE(same_bits(a.x, b.x) && same_bits(a.y, b.y));
    }
}

TEST(TransformJson, AnEmptyChainIsNotReadAsTheIdentity) {
  // In memory an empty chain is the identity (inspect without --transform); a file holding one
  // was cut down by hand, and docs/transforms.md gives a file 1 to 8 stages.
  TransformFile f;
  f.design = {10, 20};
  f.scan = {30, 40};
  f.preset = "custom";
  try {
    from_json_text(to_json_text(f), "mem");
    ADD_FAILURE() << "an empty chain was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("stages is empty"), std::string::npos) << e.what();
  }
  f.transform.stages.push_back(Stage{});  // the identity affine
  expect_same(f, from_json_text(to_json_text(f), "mem"));
}

void expect_bad(const std::string& text, const std::string& needle) {
  SCOPED_TRACE(text.substr(0, 300));
  try {
    from_json_text(text, "broadcast");
    ADD_FAILURE() << "accepted; expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(std::string(e.what()).rfind("broadcast: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TransformJson, RejectsBadDocuments) {
  const json good = json::parse(to_json_text(sample()));
  auto with = [&](auto&& edit) {
    json j = good;
    edit(j);
    return j.dump();
  };
  expect_bad("{", "not valid JSON");
  expect_bad("", "not valid JSON");
  expect_bad("[1,2]", "not a JSON object");
  expect_bad(with([](json& j) { j["format"] = "other"; }), "format");
  expect_bad(with([](json& j) { j.erase("format"); }), "format");
  expect_bad(with([](json& j) { j["version"] = 2; }), "version 2");
  expect_bad(with([](json& j) { j["version"] = "1"; }), "version");
  expect_bad(with([](json& j) { j["design"]["width"] = 0; }), "design.width");
  expect_bad(with([](json& j) { j["design"]["height"] = 10.5; }), "design.height");
  expect_bad(with([](json& j) { j["scan"].erase("width"); }), "width");
  expect_bad(with([](json& j) { j["registration_factor"] = -1; }), "registration_factor");
  expect_bad(with([](json& j) { j["preset"] = 3; }), "preset");
  expect_bad(with([](json& j) { j["stages"] = json::object(); }), "stages");
  expect_bad(with([](json& j) { j["stages"][0]["type"] = "thinplate"; }), "thinplate");
  expect_bad(with([](json& j) { j["stages"][0]["combine"] = "multiply"; }), "multiply");
  expect_bad(with([](json& j) { j["stages"][0]["matrix"].push_back(1.0); }), "stages[0].matrix has 5");
  expect_bad(with([](json& j) { j["stages"][0]["offset"] = json::array({1.0}); }), "stages[0].offset has 1");
  expect_bad(with([](json& j) { j["stages"][0]["matrix"][2] = "x"; }), "matrix[2] is not a number");
  expect_bad(with([](json& j) { j["stages"][0]["matrix"][2] = nullptr; }), "matrix[2] is not a number");
  expect_bad(with([](json& j) { j["stages"][1]["order"] = 2; }), "cubic");
  expect_bad(with([](json& j) { j["stages"][1]["grid_size"] = json::array({7}); }), "grid_size");
  expect_bad(with([](json& j) { j["stages"][1]["grid_size"][1] = 0; }), "grid_size[1]");
  expect_bad(with([](json& j) { j["stages"][1]["grid_size"][1] = 6; }), "coefficients_x has 35 elements; expected 42");
  expect_bad(with([](json& j) { j["stages"][1]["coefficients_y"].erase(0); }), "coefficients_y has 34");
  expect_bad(with([](json& j) { j["stages"][1]["grid_spacing"][0] = 0.0; }), "grid_spacing");
  expect_bad(with([](json& j) { j["stages"][1]["grid_direction"] = json::array({1, 1, 1, 1}); }), "singular");
  expect_bad(with([](json& j) { j["stages"][1]["grid_origin"] = json::array({1, 2, 3}); }), "grid_origin");
  expect_bad(with([](json& j) {
               for (int i = 0; i < 8; ++i) j["stages"].push_back(j["stages"][0]);
             }),
             "at most 8");
  // Non-finite numbers cannot be written as JSON numbers; a huge literal overflows and is refused.
  std::string text = good.dump();
  auto pos = text.find("\"offset\":[");
  ASSERT_NE(pos, std::string::npos);
  text.insert(pos + 10, "1e999,");
  expect_bad(text, "overflow");
}

TEST(TransformJson, ReadNamesTheFile) {
  alinify::test::ScratchDir dir("json-bad");
  const std::string path = dir.file("transform.json");
  std::ofstream(path) << "{\"format\":\"alinify-transform\",\"version\":7}";
  try {
    read_transform_json(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  try {
    read_transform_json(dir.file("absent.json"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("absent.json"), std::string::npos) << e.what();
  }
}

TEST(TransformJson, WriterRefusesNonFinite) {
  TransformFile f = sample();
  f.transform.stages[0].affine.offset[0] = std::nan("");
  EXPECT_THROW(to_json_text(f), Error);
}

}  // namespace
}  // namespace alinify::transform
