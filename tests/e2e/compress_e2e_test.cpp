// --compress written by every rank (issue #17): the real binary under mpirun at 1, 2 and 3 ranks,
// judged by gdalinfo -checksum against the uncompressed output of the same warp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify::test;
namespace fs = std::filesystem;

namespace {

// `mpirun -np N alinify warp` of dir's pair through dir/rot.json into dir/out, in tiles of 64 px and
// under a tiny budget: strips of one tile row, so every rank owns several and rank 0 takes in the others'.
void warp_rotated(const ScratchDir& d, int np, const std::string& out, const std::string& extra) {
  auto r = run_command(mpirun(np) + quote(alinify_bin()) + " warp --design " + quote(d.file("pair/design.tif")) +
                       " --scan " + quote(d.file("pair/scan.tif")) + " --transform " + quote(d.file("rot.json")) +
                       " --out " + quote(d.file(out)) + " --tile 64 --mem-budget 8MiB " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace

TEST(Compress, EveryRankCountWritesTheUncompressedPixels) {
  ScratchDir d("e2e-compress");
  synth_pair(d, 700, 520);
  // A rotation and a shift written by hand (no elastix): tiles of every strip differ.
  write_affine(d.file("rot.json"), 700, 520, "[0.995,-0.0998,0.0998,0.995]", "[40,-30]");
  const auto warp = [&](int np, const std::string& out, const std::string& extra) { warp_rotated(d, np, out, extra); };
  warp(1, "none.tif", "");
  const std::string reference = gdal_checksums(d.file("none.tif"));
  ASSERT_FALSE(reference.empty());
  // GDAL's overviews, read back from the uncompressed tiles; compressed, the ranks stage the x2
  // level (even sides) and GDAL makes the smaller ones from it: the same pixels at every level.
  const std::string overviews = gdal_overview_checksums(d.file("none.tif"));
  ASSERT_NE(overviews.find(';'), std::string::npos);
  for (int np = 1; np <= 3; ++np) {
    const std::string out = "zstd" + std::to_string(np) + ".tif";
    warp(np, out, "--compress zstd");
    std::string compression;
    EXPECT_EQ(gdal_checksums(d.file(out), &compression), reference) << np << " rank(s)";
    EXPECT_EQ(gdal_overview_checksums(d.file(out)), overviews) << np << " rank(s)";
    EXPECT_EQ(compression, "ZSTD");
    EXPECT_FALSE(fs::exists(d.file(out + ".partial")));
    EXPECT_FALSE(fs::exists(d.file(out + ".partial.x2")));
  }
  EXPECT_LT(fs::file_size(d.file("zstd2.tif")), fs::file_size(d.file("none.tif")));
  // Rank 0 places tile rows in image order, so the file does not depend on the rank count.
  EXPECT_TRUE(read_file(d.file("zstd1.tif")) == read_file(d.file("zstd3.tif")));

  warp(2, "deflate.tif", "--compress deflate --no-overviews");
  std::string compression;
  EXPECT_EQ(gdal_checksums(d.file("deflate.tif"), &compression), reference);
  EXPECT_EQ(compression, "DEFLATE");
  warp(2, "cog.tif", "--compress zstd --cog");  // the COG stays GDAL's conversion
  EXPECT_EQ(gdal_checksums(d.file("cog.tif")), reference);
}

// With an odd side GDAL's x2 windows are not aligned 2x2 blocks, so the overviews stay GDAL's pass
// over the full-resolution tiles: the same pixels as the uncompressed output's at every level.
TEST(Compress, OddSidesKeepGdalsOverviews) {
  ScratchDir d("e2e-compress-odd");
  synth_pair(d, 601, 451);
  write_affine(d.file("rot.json"), 601, 451, "[0.995,-0.0998,0.0998,0.995]", "[20,-15]");
  warp_rotated(d, 1, "none.tif", "--no-qa");
  warp_rotated(d, 2, "zstd.tif", "--no-qa --compress zstd");
  EXPECT_EQ(gdal_checksums(d.file("zstd.tif")), gdal_checksums(d.file("none.tif")));
  const std::string overviews = gdal_overview_checksums(d.file("none.tif"));
  ASSERT_NE(overviews.find(';'), std::string::npos);
  EXPECT_EQ(gdal_overview_checksums(d.file("zstd.tif")), overviews);
  EXPECT_FALSE(fs::exists(d.file("zstd.tif.partial.x2")));
}

// --compress-level and --predictor: the pixels stay the same, the level reaches the encoder (another
// size), the predictor makes the file smaller (the synth scan is smooth at the scale of a pixel, as
// camera scans are), and a level the codec does not have (or a level without compression) or a
// predictor TIFF does not name is a usage error before any file is made.
TEST(Compress, LevelAndPredictorChangeTheSizeNotThePixels) {
  ScratchDir d("e2e-compress-level");
  synth_pair(d, 600, 450);
  write_affine(d.file("shift.json"), 600, 450, "[1,0,0,1]", "[3.25,-2.5]");
  auto warp = [&](const std::string& out, const std::string& extra) {
    return run_command(mpirun(2) + quote(alinify_bin()) + " warp --design " + quote(d.file("pair/design.tif")) +
                       " --scan " + quote(d.file("pair/scan.tif")) + " --transform " + quote(d.file("shift.json")) +
                       " --out " + quote(d.file(out)) + " --no-qa --no-overviews " + extra);
  };
  for (const char* level : {"1", "19"}) {
    auto r = warp(std::string("zstd") + level + ".tif", std::string("--compress zstd --compress-level ") + level);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  auto r = warp("unpredicted.tif", "--compress zstd --compress-level 1 --predictor none");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(warp("none.tif", "").exit_code, 0);
  const std::string reference = gdal_checksums(d.file("none.tif"));
  for (const char* f : {"zstd1.tif", "zstd19.tif", "unpredicted.tif"}) EXPECT_EQ(gdal_checksums(d.file(f)), reference);
  EXPECT_NE(fs::file_size(d.file("zstd19.tif")), fs::file_size(d.file("zstd1.tif")));
  EXPECT_LT(fs::file_size(d.file("zstd1.tif")), fs::file_size(d.file("unpredicted.tif")));

  for (const char* bad :
       {"--compress zstd --compress-level 25", "--compress deflate --compress-level 13",
        "--compress none --compress-level 5", "--compress zstd --compress-level -1", "--compress zstd --predictor 2"}) {
    auto r = warp("bad.tif", bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    const std::string option =
        std::string(bad).find("predictor") != std::string::npos ? "--predictor" : "--compress-level";
    EXPECT_NE(r.output.find(option), std::string::npos) << bad << "\n" << r.output;
    EXPECT_FALSE(fs::exists(d.file("bad.tif"))) << bad;
    EXPECT_FALSE(fs::exists(d.file("bad.tif.partial"))) << bad;
  }
}
