// Decimation on every rank (issue 16 item 1): the gathered registration image has the bytes of the
// single-process decimation, at 1, 2 and 3 ranks (CTest: mpi_np1..3). Real MPI, real GDAL files.
#include <gtest/gtest.h>

#include <cstring>

#include "alinify/core/error.hpp"
#include "alinify/io/decimate.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/job/decimate_ranks.hpp"
#include "alinify/synth/synth.hpp"
#include "support/mpi.hpp"

using namespace alinify;
using alinify::test::SharedDir;
using alinify::test::world;

namespace {

// A synthetic scan whose sides are not multiples of the factors used below.
std::string make_scan(const SharedDir& d) {
  if (world().is_root()) {
    synth::SynthOptions o;
    o.out_dir = d.file("pair");
    o.width = 301;
    o.height = 463;
    o.seed = 5;
    synth::write_synthetic_pair(o);
  }
  world().barrier();
  return d.file("pair/scan.tif");
}

}  // namespace

TEST(DecimateOnEveryRank, SameBytesAsOneProcess) {
  SharedDir d(world(), "decimate_ranks");
  const io::Raster scan = io::Raster::open(make_scan(d));
  // Factor 2: 231 rows, several gather rounds of 64 rows per rank; factor 3: uneven shares.
  for (const int factor : {2, 3}) {
    const io::GreyImage gathered = job::decimate_on_every_rank(world(), scan, factor);
    EXPECT_EQ(gathered.size.width, 301 / factor);
    EXPECT_EQ(gathered.size.height, 463 / factor);
    EXPECT_EQ(gathered.factor, factor);
    if (!world().is_root()) {
      EXPECT_TRUE(gathered.pixels.empty()) << "only rank 0 holds the registration image";
      continue;
    }
    const io::GreyImage one = io::decimate_grey(scan, factor);
    ASSERT_EQ(gathered.pixels.size(), one.pixels.size());
    EXPECT_EQ(std::memcmp(gathered.pixels.data(), one.pixels.data(), one.pixels.size() * sizeof(float)), 0)
        << "factor " << factor << " at " << world().size() << " ranks";
  }
}

TEST(DecimateOnEveryRank, TooSmallIsBadInputOnEveryRank) {
  SharedDir d(world(), "decimate_small");
  const io::Raster scan = io::Raster::open(make_scan(d));
  ExitCode code = ExitCode::kOk;
  std::string message;
  try {
    job::decimate_on_every_rank(world(), scan, 500);
  } catch (const Error& e) {
    code = e.code();
    message = e.what();
  }
  EXPECT_EQ(code, ExitCode::kBadInput) << "every rank stops with the bad-input code";
  if (world().is_root()) {
    EXPECT_NE(message.find("scan.tif: too small to decimate by 500"), std::string::npos) << message;
  }
}
