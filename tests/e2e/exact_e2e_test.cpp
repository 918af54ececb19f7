// `alinify warp --exact` through the real binary, GDAL files and mpirun: the per-pixel path keeps
// the rank-count invariance, the default (lattice) path gives other bytes (issue 17; the error
// bound itself is tests/unit/lattice_test.cpp).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify::test;

namespace {

// A turned affine and a B-spline every 64 px (+-3 px) over the 400 x 300 pair.
void write_transform(const std::string& path) {
  std::ofstream f(path);
  f << R"({"format":"alinify-transform","version":1,"design":{"width":400,"height":300},)"
    << R"("scan":{"width":400,"height":300},"stages":[)"
    << R"({"type":"affine","matrix":[0.9994,-0.0349,0.0349,0.9994],"offset":[6.5,-4.25]},)"
    << R"({"type":"bspline","combine":"add","grid_size":[11,9],"grid_origin":[-96,-96],"grid_spacing":[64,64],)";
  std::string cx, cy;
  for (int k = 0; k < 99; ++k) {
    cx += (k ? "," : "") + std::to_string(3.0 * ((k * 37) % 11 - 5) / 5.0);
    cy += (k ? "," : "") + std::to_string(3.0 * ((k * 53) % 13 - 6) / 6.0);
  }
  f << R"("coefficients_x":[)" << cx << R"(],"coefficients_y":[)" << cy << "]}]}";
}

}  // namespace

TEST(Exact, PerPixelPathIsRankCountInvariantAndDiffersFromTheLattice) {
  ScratchDir d("e2e-exact");
  synth_pair(d, 400, 300);
  write_transform(d.file("t.json"));
  auto warp = [&](int np, const std::string& out, const std::string& extra) {
    auto r = run_command(mpirun(np) + quote(alinify_bin()) + " warp --design " + quote(d.file("pair/design.tif")) +
                         " --scan " + quote(d.file("pair/scan.tif")) + " --transform " + quote(d.file("t.json")) +
                         " --out " + quote(d.file(out)) + " --interp bicubic --tile 64 --no-qa " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return gdal_checksums(d.file(out));
  };
  const std::string exact1 = warp(1, "exact1.tif", "--exact"), exact2 = warp(2, "exact2.tif", "--exact");
  const std::string lattice2 = warp(2, "lattice2.tif", "");
  EXPECT_FALSE(exact1.empty());
  EXPECT_EQ(exact1, exact2);
  EXPECT_NE(exact1, lattice2);
}
