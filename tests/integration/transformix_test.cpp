// Our elastix TransformParameters reader and full-resolution rewrite against the real transformix
// (a child process, so not a unit test: label integration). Skipped when transformix is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "alinify/transform/elastix_params.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"
#include "support/test_transforms.hpp"

namespace alinify::transform {
namespace {
namespace fs = std::filesystem;
using alinify::test::elastix_fixture;
using alinify::test::elastix_fixture_points;
using alinify::test::read_file;
using alinify::test::run_command;
using alinify::test::ScratchDir;
using alinify::test::write_file;

bool transformix_available() { return run_command("command -v transformix").exit_code == 0; }

const char* const kChains[] = {"rigid/TransformParameters.0.txt", "affine/TransformParameters.0.txt",
                               "bspline/TransformParameters.1.txt", "euler_add/TransformParameters.1.txt",
                               "initial/TransformParameters.0.txt"};

std::vector<Vec2> read_output_points(const std::string& path) {
  std::vector<Vec2> out;
  std::ifstream in(path);
  std::string line;
  std::regex re("OutputPoint = \\[ ([-0-9.eE+]+) ([-0-9.eE+]+) \\]");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back({std::stod(m[1]), std::stod(m[2])});
  }
  return out;
}

TEST(ElastixTransformix, PointsAgreeWithTransformix) {
  if (!transformix_available()) GTEST_SKIP() << "transformix is not on PATH (apt-get install elastix)";
  ScratchDir dir("elx-points");
  const auto pts = elastix_fixture_points();
  {
    std::ofstream out(dir.file("points.txt"));
    out.precision(17);
    out << "point\n" << pts.size() << "\n";
    for (Vec2 p : pts) out << p.x << " " << p.y << "\n";
  }
  for (const char* rel : kChains) {
    SCOPED_TRACE(rel);
    const fs::path tp = fs::absolute(elastix_fixture(rel));
    const fs::path out = dir.path() / fs::path(rel).parent_path();
    fs::create_directories(out);
    // transformix resolves relative InitialTransformParametersFileName against its CWD.
    auto r = run_command("cd '" + tp.parent_path().string() + "' && transformix -ipp '" + dir.file("points.txt") +
                         "' -tp '" + tp.string() + "' -out '" + out.string() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto got = read_output_points((out / "outputpoints.txt").string());
    ASSERT_EQ(got.size(), pts.size());
    Transform t = read_elastix_transform(tp.string());
    double worst = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      Vec2 q = t.apply(pts[i]);
      worst = std::max({worst, std::fabs(q.x - got[i].x), std::fabs(q.y - got[i].y)});
      EXPECT_NEAR(q.x, got[i].x, 1e-4) << "point " << pts[i].x << "," << pts[i].y;
      EXPECT_NEAR(q.y, got[i].y, 1e-4) << "point " << pts[i].x << "," << pts[i].y;
    }
    RecordProperty(std::string("worst_") + fs::path(rel).parent_path().string(), std::to_string(worst));
  }
}

// A minimal MetaImage (.mha, LOCAL data) reader for transformix's outputs.
struct Mha {
  std::vector<int64_t> dim;
  int channels = 1;
  std::string type;
  std::vector<float> data;
};

Mha read_mha(const std::string& path) {
  Mha m;
  std::string all = read_file(path);
  size_t pos = 0;
  while (pos < all.size()) {
    size_t eol = all.find('\n', pos);
    std::string line = all.substr(pos, eol - pos);
    pos = eol + 1;
    auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), val = line.substr(eq + 3);
    std::istringstream ss(val);
    if (key == "DimSize") {
      int64_t d;
      while (ss >> d) m.dim.push_back(d);
    } else if (key == "ElementNumberOfChannels") {
      ss >> m.channels;
    } else if (key == "ElementType") {
      ss >> m.type;
    } else if (key == "ElementDataFile") {
      break;
    }
  }
  if (m.type == "MET_FLOAT") {
    size_t n = (all.size() - pos) / sizeof(float);
    m.data.resize(n);
    std::memcpy(m.data.data(), all.data() + pos, n * sizeof(float));
  }
  return m;
}

// A float scan image (full resolution, spacing 1, origin 0) for transformix.
void write_scan_mhd(const std::string& path, int w, int h) {
  std::vector<float> v(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) v[static_cast<size_t>(y) * w + x] = std::sin(x / 9.0) * std::cos(y / 13.0);
  const std::string raw = fs::path(path).stem().string() + ".raw";
  std::ofstream(fs::path(path).parent_path() / raw, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  write_file(path,
             "ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
             "TransformMatrix = 1 0 0 1\nOffset = 0 0\nElementSpacing = 1 1\nDimSize = " +
                 std::to_string(w) + " " + std::to_string(h) + "\nElementType = MET_FLOAT\nElementDataFile = " + raw +
                 "\n");
}

TEST(ElastixFullResolution, TransformixAppliesTheFullResolutionChain) {
  if (!transformix_available()) GTEST_SKIP() << "transformix is not on PATH (apt-get install elastix)";
  ScratchDir dir("elx-fullres-tfx");
  const Size design{192, 176};
  for (const char* rel : {"bspline/TransformParameters.1.txt", "euler_add/TransformParameters.1.txt"}) {
    SCOPED_TRACE(rel);
    const std::string out_dir = dir.file(fs::path(rel).parent_path().string());
    auto written = write_full_resolution_chain(elastix_fixture(rel), out_dir + "/params", design);
    write_scan_mhd(out_dir + "/scan.mhd", 200, 184);
    fs::create_directories(out_dir + "/out");
    // From an unrelated CWD: the links are absolute.
    auto r = run_command("cd / && transformix -in '" + out_dir + "/scan.mhd' -def all -tp '" + written.back() +
                         "' -out '" + out_dir + "/out'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    Mha result = read_mha(out_dir + "/out/result.mha");
    ASSERT_EQ(result.dim, (std::vector<int64_t>{design.width, design.height}));
    // The deformation field, sampled at every full-resolution design pixel, is our transform.
    Mha def = read_mha(out_dir + "/out/deformationField.mha");
    ASSERT_EQ(def.dim, (std::vector<int64_t>{design.width, design.height}));
    ASSERT_EQ(def.channels, 2);
    ASSERT_EQ(def.data.size(), static_cast<size_t>(design.pixels() * 2));
    Transform t = read_elastix_transform(written.back());
    double worst = 0;
    for (int64_t y = 0; y < design.height; ++y)
      for (int64_t x = 0; x < design.width; ++x) {
        Vec2 q = t.apply({static_cast<double>(x), static_cast<double>(y)});
        const size_t i = static_cast<size_t>(y * design.width + x) * 2;
        worst = std::max({worst, std::fabs(q.x - x - def.data[i]), std::fabs(q.y - y - def.data[i + 1])});
      }
    EXPECT_LT(worst, 1e-4) << "largest difference from transformix's deformation field (float)";
  }
}

}  // namespace
}  // namespace alinify::transform
