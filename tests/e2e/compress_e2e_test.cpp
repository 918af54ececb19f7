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

TEST(Compress, EveryRankCountWritesTheUncompressedPixels) {
  ScratchDir d("e2e-compress");
  synth_pair(d, 700, 520);
  // A rotation and a shift written by hand (no elastix): tiles of every strip differ.
  write_affine(d.file("rot.json"), 700, 520, "[0.995,-0.0998,0.0998,0.995]", "[40,-30]");
  // A tiny budget: strips of one tile row, so every rank owns several and rank 0 takes in the others'.
  auto warp = [&](int np, const std::string& out, const std::string& extra) {
    auto r = run_command(mpirun(np) + quote(alinify_bin()) + " warp --design " + quote(d.file("pair/design.tif")) +
                         " --scan " + quote(d.file("pair/scan.tif")) + " --transform " + quote(d.file("rot.json")) +
                         " --out " + quote(d.file(out)) + " --tile 64 --mem-budget 8MiB " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
  };
  warp(1, "none.tif", "");
  const std::string reference = gdal_checksums(d.file("none.tif"));
  ASSERT_FALSE(reference.empty());
  for (int np = 1; np <= 3; ++np) {
    const std::string out = "zstd" + std::to_string(np) + ".tif";
    warp(np, out, "--compress zstd");
    std::string compression;
    EXPECT_EQ(gdal_checksums(d.file(out), &compression), reference) << np << " rank(s)";
    EXPECT_EQ(compression, "ZSTD");
    EXPECT_FALSE(fs::exists(d.file(out + ".partial")));
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
