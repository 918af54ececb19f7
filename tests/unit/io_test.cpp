#include <cpl_string.h>
#include <gdal.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "alinify/core/error.hpp"
#include "alinify/io/decimate.hpp"
#include "alinify/io/overview_staging.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/io/raw_tiff.hpp"
#include "alinify/io/tile_codec.hpp"
#include "alinify/io/tiled_output.hpp"
#include "support/files.hpp"

using namespace alinify;
namespace fs = std::filesystem;

namespace {

// A tiled RGB GeoTIFF with pixel value (x*7 + y*3 + c*50) % 256.
void write_rgb(const std::string& path, int w, int h, GDALDataType type = GDT_Byte, int bands = 3) {
  io::init_gdal();
  char** o = CSLSetNameValue(nullptr, "TILED", "YES");
  GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), w, h, bands, type, o);
  CSLDestroy(o);
  std::vector<uint8_t> row(w);
  for (int b = 1; b <= bands; ++b)
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) row[x] = static_cast<uint8_t>((x * 7 + y * 3 + (b - 1) * 50) % 256);
      GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y, w, 1, row.data(), w, 1, GDT_Byte, 0, 0);
    }
  GDALClose(ds);
}

void expect_bad_input(const std::string& path, const std::string& words) {
  try {
    io::Raster::open(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

// Every read of a w x h file against expected(x, y, channel): read_rgb exactly, and the averaged
// reads and the decimation by 2 against the mean of each 2 x 2 box.
template <class Expected>
void expect_reads(const io::Raster& r, int w, int h, const Expected& expected) {
  std::vector<uint8_t> rgb(w * h * 3);
  r.read_rgb({0, 0, w, h}, rgb.data(), w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(rgb[(y * w + x) * 3 + c], expected(x, y, c)) << x << "," << y;
  const int sw = w / 2, sh = h / 2;
  std::vector<float> grey_avg(sw * sh);
  r.read_grey_average({0, 0, w, h}, sw, sh, grey_avg.data());
  std::vector<uint8_t> small(sw * sh * 3);
  r.read_rgb_average({0, 0, w, h}, sw, sh, small.data());
  const io::GreyImage decimated = io::decimate_grey(r, 2, 4);
  for (int j = 0; j < sh; ++j)
    for (int i = 0; i < sw; ++i) {
      double sum[3] = {0, 0, 0};
      for (int y = 2 * j; y < 2 * j + 2; ++y)
        for (int x = 2 * i; x < 2 * i + 2; ++x)
          for (int c = 0; c < 3; ++c) sum[c] += expected(x, y, c) / 4.0;
      ASSERT_NEAR(grey_avg[j * sw + i], io::grey_of(sum[0], sum[1], sum[2]), 0.6) << i << "," << j;
      ASSERT_NEAR(decimated.pixels[j * sw + i], io::grey_of(sum[0], sum[1], sum[2]), 0.6) << i << "," << j;
      for (int c = 0; c < 3; ++c) ASSERT_NEAR(small[(j * sw + i) * 3 + c], sum[c], 1.0) << i << "," << j;
    }
}

}  // namespace

TEST(RasterIo, BadInputsNameTheFileAndTheProblem) {
  test::ScratchDir dir("io-bad");
  expect_bad_input(dir.file("missing.tif"), "no such file");
  std::ofstream(dir.file("text.tif")) << "this is not a TIFF\n";
  expect_bad_input(dir.file("text.tif"), "not a readable raster");
  write_rgb(dir.file("s16.tif"), 32, 32, GDT_Int16);  // 16-bit unsigned is read (SixteenBitSamples...)
  expect_bad_input(dir.file("s16.tif"), "Int16");
  write_rgb(dir.file("f32.tif"), 32, 32, GDT_Float32);
  expect_bad_input(dir.file("f32.tif"), "Float32");
  write_rgb(dir.file("two.tif"), 32, 32, GDT_Byte, 2);  // two bands are grey and alpha or refused
  expect_bad_input(dir.file("two.tif"), "has 2 bands and the second is not alpha");
  expect_bad_input(dir.path().string(), "directory");
}

TEST(RasterIo, TruncatedTiffFailsOnReadWithTheFileName) {
  test::ScratchDir dir("io-trunc");
  const std::string p = dir.file("cut.tif");
  write_rgb(p, 512, 512);
  fs::resize_file(p, fs::file_size(p) / 2);
  try {
    io::Raster r = io::Raster::open(p);  // the header may still open
    std::vector<uint8_t> buf(512 * 512 * 3);
    r.read_rgb({0, 0, 512, 512}, buf.data(), 512 * 3);
    FAIL() << "reading a truncated file succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos);
  }
}

TEST(RasterIo, ReadsAWindowPixelInterleaved) {
  test::ScratchDir dir("io-read");
  write_rgb(dir.file("a.tif"), 100, 80);
  io::Raster r = io::Raster::open(dir.file("a.tif"));
  EXPECT_EQ(r.size(), (Size{100, 80}));
  std::vector<uint8_t> buf(10 * 5 * 3);
  r.read_rgb({20, 30, 10, 5}, buf.data(), 30);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 10; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(buf[y * 30 + x * 3 + c], ((20 + x) * 7 + (30 + y) * 3 + c * 50) % 256);
}

// Lossy compression is reported (the defect stage warns of it): a JPEG file, a JPEG-compressed
// GeoTIFF (YCbCr or not); a plain or deflate-compressed GeoTIFF and a PNG are not lossy.
TEST(RasterIo, LossyCompressionIsReported) {
  test::ScratchDir dir("io-lossy");
  write_rgb(dir.file("a.tif"), 64, 48);
  GDALDatasetH src = GDALOpen(dir.file("a.tif").c_str(), GA_ReadOnly);
  ASSERT_NE(src, nullptr);
  const auto copy = [&](const char* driver, const std::string& name, std::vector<const char*> options) {
    options.push_back(nullptr);
    GDALDatasetH out = GDALCreateCopy(GDALGetDriverByName(driver), dir.file(name).c_str(), src, FALSE,
                                      const_cast<char**>(options.data()), nullptr, nullptr);
    ASSERT_NE(out, nullptr) << name;
    GDALClose(out);
  };
  copy("JPEG", "a.jpg", {"QUALITY=85"});
  copy("GTiff", "j.tif", {"COMPRESS=JPEG"});
  copy("GTiff", "y.tif", {"COMPRESS=JPEG", "PHOTOMETRIC=YCBCR"});
  copy("GTiff", "d.tif", {"COMPRESS=DEFLATE"});
  copy("PNG", "a.png", {});
  GDALClose(src);
  for (const char* name : {"a.jpg", "j.tif", "y.tif"})
    EXPECT_EQ(io::Raster::open(dir.file(name)).info().lossy, "JPEG") << name;
  for (const char* name : {"a.tif", "d.tif", "a.png"})
    EXPECT_EQ(io::Raster::open(dir.file(name)).info().lossy, "") << name;
}

// A design stored as indices into a colour table (PNG or TIFF, a few inks) is read as the table's
// colours by every read: windows, the averaged grey of the registration images and the averaged
// RGB of the previews. Before, the indices were read as grey and a 256-colour design was "not
// found in the scan". A transparent entry (an indexed PNG's tRNS) reads as white, as any alpha.
TEST(RasterIo, ColourTablesAreReadAsTheirColours) {
  test::ScratchDir dir("io-palette");
  io::init_gdal();
  const uint8_t ink[4][3] = {{250, 20, 30}, {10, 200, 40}, {30, 40, 220}, {240, 240, 10}};
  const auto index_of = [](int x, int y) { return ((x / 3) + 2 * (y / 5)) % 4; };
  // TIFF's colour map has no alpha: a transparent entry exists in PNG (tRNS) only.
  const auto write = [&](const std::string& path, const char* driver, int last_alpha) {
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("MEM"), "", 40, 30, 1, GDT_Byte, nullptr);
    GDALColorTableH table = GDALCreateColorTable(GPI_RGB);
    for (int i = 0; i < 4; ++i) {
      const GDALColorEntry e{ink[i][0], ink[i][1], ink[i][2], static_cast<int16_t>(i == 3 ? last_alpha : 255)};
      GDALSetColorEntry(table, i, &e);
    }
    GDALSetRasterColorTable(GDALGetRasterBand(ds, 1), table);
    GDALDestroyColorTable(table);
    std::vector<uint8_t> idx(40 * 30);
    for (int y = 0; y < 30; ++y)
      for (int x = 0; x < 40; ++x) idx[y * 40 + x] = static_cast<uint8_t>(index_of(x, y));
    ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, 40, 30, idx.data(), 40, 30, GDT_Byte, 0, 0),
              CE_None);
    GDALClose(GDALCreateCopy(GDALGetDriverByName(driver), path.c_str(), ds, FALSE, nullptr, nullptr, nullptr));
    GDALClose(ds);
  };
  write(dir.file("pal.tif"), "GTiff", 255);
  write(dir.file("pal.png"), "PNG", 255);
  write(dir.file("pal-transparent.png"), "PNG", 0);  // the 4th ink transparent: read as white
  for (const char* name : {"pal.tif", "pal.png", "pal-transparent.png"}) {
    SCOPED_TRACE(name);
    const bool transparent = std::string(name).find("transparent") != std::string::npos;
    const uint8_t white[3] = {255, 255, 255};
    const auto colour = [&](int x, int y) { return transparent && index_of(x, y) == 3 ? white : ink[index_of(x, y)]; };
    io::Raster r = io::Raster::open(dir.file(name));
    EXPECT_TRUE(r.info().palette);
    EXPECT_EQ(r.info().alpha, transparent);
    EXPECT_EQ(r.info().bands, transparent ? 4 : 3);
    EXPECT_FALSE(r.reads_tiff_blocks());
    std::vector<uint8_t> rgb(40 * 30 * 3);
    r.read_rgb({0, 0, 40, 30}, rgb.data(), 40 * 3);
    for (int y = 0; y < 30; ++y)
      for (int x = 0; x < 40; ++x)
        for (int c = 0; c < 3; ++c) ASSERT_EQ(rgb[(y * 40 + x) * 3 + c], colour(x, y)[c]) << x << "," << y;
    // Averaged reads average the colours, not the indices: 2 x 2 boxes.
    std::vector<float> grey(20 * 15);
    r.read_grey_average({0, 0, 40, 30}, 20, 15, grey.data());
    std::vector<uint8_t> small(20 * 15 * 3);
    r.read_rgb_average({0, 0, 40, 30}, 20, 15, small.data());
    const io::GreyImage decimated = io::decimate_grey(r, 2, 4);  // the registration image
    for (int j = 0; j < 15; ++j)
      for (int i = 0; i < 20; ++i) {
        double sum[3] = {0, 0, 0};
        for (int y = 2 * j; y < 2 * j + 2; ++y)
          for (int x = 2 * i; x < 2 * i + 2; ++x)
            for (int c = 0; c < 3; ++c) sum[c] += colour(x, y)[c] / 4.0;
        ASSERT_NEAR(grey[j * 20 + i], io::grey_of(sum[0], sum[1], sum[2]), 0.6) << i << "," << j;
        ASSERT_NEAR(decimated.pixels[j * 20 + i], io::grey_of(sum[0], sum[1], sum[2]), 0.6) << i << "," << j;
        for (int c = 0; c < 3; ++c) ASSERT_NEAR(small[(j * 20 + i) * 3 + c], sum[c], 1.0) << i << "," << j;
      }
  }
}

// A design exported with a transparent background holds mostly black under it: every read
// composites alpha over white (no ink on white fabric), for RGBA TIFFs read by libtiff (strips,
// and tiles compressed), by GDAL (PNG) and for grey with alpha. Before, the transparent part was
// read black and a design with a sixth of it transparent was "not found in the scan".
TEST(RasterIo, AlphaIsCompositedOverWhite) {
  test::ScratchDir dir("io-alpha");
  io::init_gdal();
  const int w = 40, h = 30;
  const auto colour = [](int x, int y, int c) { return static_cast<uint8_t>((x * 5 + y * 7 + 60 * c) % 256); };
  const auto alpha = [](int x, int y) { return static_cast<uint8_t>(((x / 4 + y / 3) % 3) * 127 + (x % 2)); };
  const auto write = [&](const std::string& path, const char* driver, int bands, char** options) {
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", w, h, bands, GDT_Byte, nullptr);
    for (int b = 0; b < bands; ++b) {
      std::vector<uint8_t> v(w * h);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) v[y * w + x] = b == bands - 1 ? alpha(x, y) : colour(x, y, bands == 2 ? 0 : b);
      ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(mem, b + 1), GF_Write, 0, 0, w, h, v.data(), w, h, GDT_Byte, 0, 0),
                CE_None);
    }
    GDALSetRasterColorInterpretation(GDALGetRasterBand(mem, bands), GCI_AlphaBand);
    GDALClose(GDALCreateCopy(GDALGetDriverByName(driver), path.c_str(), mem, FALSE, options, nullptr, nullptr));
    GDALClose(mem);
  };
  char alpha_yes[] = "ALPHA=YES", tiled[] = "TILED=YES", blocks[] = "BLOCKXSIZE=16", blocks_y[] = "BLOCKYSIZE=16",
       deflate[] = "COMPRESS=DEFLATE";
  char* strip_options[] = {alpha_yes, nullptr};
  char* tile_options[] = {alpha_yes, tiled, blocks, blocks_y, deflate, nullptr};
  write(dir.file("strips.tif"), "GTiff", 4, strip_options);
  write(dir.file("tiles.tif"), "GTiff", 4, tile_options);
  write(dir.file("rgba.png"), "PNG", 4, nullptr);
  write(dir.file("grey.tif"), "GTiff", 2, strip_options);
  for (const char* name : {"strips.tif", "tiles.tif", "rgba.png", "grey.tif"}) {
    SCOPED_TRACE(name);
    const bool grey = std::string(name) == "grey.tif";
    io::Raster r = io::Raster::open(dir.file(name));
    EXPECT_TRUE(r.info().alpha);
    EXPECT_EQ(r.reads_tiff_blocks(), std::string(name) == "strips.tif" || std::string(name) == "tiles.tif");
    const auto expected = [&](int x, int y, int c) {
      const int a = alpha(x, y), v = colour(x, y, grey ? 0 : c);
      return (v * a + 255 * (255 - a) + 127) / 255;
    };
    EXPECT_EQ(io::composite_over_white(0, 0), 255);
    EXPECT_EQ(io::composite_over_white(17, 255), 17);
    // The averaged reads (previews, registration images) average the composited colours.
    expect_reads(r, w, h, expected);
  }
}

// A camera's 16-bit TIFF (12-bit cameras store 0..4095 in 16-bit samples) is read as 8-bit: each
// colour sample v as round(v x 255 / M), M = 2^b - 1 for the bits the values use (NBITS when the
// file says it), alpha over the whole 16-bit range. Written from 8-bit colours c as
// round(c x M / 255), every read gives c back exactly.
TEST(RasterIo, SixteenBitSamplesAreReadAsEightBit) {
  test::ScratchDir dir("io-16bit");
  io::init_gdal();
  const int w = 40, h = 30;
  const auto colour = [](int x, int y, int c) { return (x * 5 + y * 7 + 60 * c) % 256; };
  const auto alpha = [](int x, int y) { return ((x / 4 + y / 3) % 3) * 127 + (x % 2); };
  struct Case {
    const char* name;
    int max;       // the range the colours are written over
    int bands;     // 3: RGB; 2: grey and alpha
    bool nbits12;  // the file says NBITS=12
    int expected_max;
  };
  const Case cases[] = {{"rgb_full.tif", 65535, 3, false, 65535},
                        {"rgb_12bit.tif", 4095, 3, false, 4095},
                        {"rgb_10bit.tif", 1023, 3, false, 1023},
                        {"rgb_nbits12.tif", 4095, 3, true, 4095},
                        {"grey_alpha.tif", 4095, 2, false, 4095}};
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    char alpha_yes[] = "ALPHA=YES", nbits[] = "NBITS=12";
    char* options[] = {k.bands == 2 ? alpha_yes : k.nbits12 ? nbits : nullptr, nullptr};
    GDALDatasetH ds =
        GDALCreate(GDALGetDriverByName("GTiff"), dir.file(k.name).c_str(), w, h, k.bands, GDT_UInt16, options);
    ASSERT_NE(ds, nullptr);
    for (int b = 0; b < k.bands; ++b) {
      const bool is_alpha = k.bands == 2 && b == 1;
      std::vector<uint16_t> v(w * h);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          v[y * w + x] = static_cast<uint16_t>(is_alpha ? alpha(x, y) * 257 : (colour(x, y, b) * k.max + 127) / 255);
      ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Write, 0, 0, w, h, v.data(), w, h, GDT_UInt16, 0, 0),
                CE_None);
    }
    GDALClose(ds);
    io::Raster r = io::Raster::open(dir.file(k.name));
    EXPECT_EQ(r.info().source_bits, 16);
    EXPECT_EQ(r.info().depth_max, k.expected_max);
    EXPECT_NE(io::describe_depth(r.info()).find(std::to_string(k.expected_max)), std::string::npos);
    const auto expected = [&](int x, int y, int c) {
      const int v = colour(x, y, k.bands == 2 ? 0 : c);
      return k.bands == 2 ? io::composite_over_white(static_cast<uint8_t>(v), static_cast<uint8_t>(alpha(x, y))) : v;
    };
    // The averaged reads (previews, registration images) see the same 8-bit levels.
    expect_reads(r, w, h, expected);
  }
  io::Raster eight = io::Raster::open((write_rgb(dir.file("eight.tif"), 16, 16), dir.file("eight.tif")));
  EXPECT_EQ(eight.info().source_bits, 8);
  EXPECT_EQ(io::describe_depth(eight.info()), "");
}

TEST(RasterIo, DecimationAveragesBoxesOfGrey) {
  test::ScratchDir dir("io-dec");
  write_rgb(dir.file("a.tif"), 64, 48);
  io::Raster r = io::Raster::open(dir.file("a.tif"));
  io::GreyImage g = io::decimate_grey(r, 4, 5);  // 5 rows per read: strips do not divide the image
  ASSERT_EQ(g.size, (Size{16, 12}));
  for (int j = 0; j < 12; ++j)
    for (int i = 0; i < 16; ++i) {
      double sum = 0;
      for (int y = 4 * j; y < 4 * j + 4; ++y)
        for (int x = 4 * i; x < 4 * i + 4; ++x)
          sum += 0.299 * ((x * 7 + y * 3) % 256) + 0.587 * ((x * 7 + y * 3 + 50) % 256) +
                 0.114 * ((x * 7 + y * 3 + 100) % 256);
      ASSERT_NEAR(g.pixels[j * 16 + i], sum / 16, 0.6) << i << "," << j;
    }
}

TEST(RasterIo, MetaImageCarriesTheScaleFreeConvention) {
  test::ScratchDir dir("io-mhd");
  io::GreyImage g;
  g.size = {3, 2};
  g.factor = 4;
  g.pixels = {1, 2, 3, 4, 5, 6};
  io::write_metaimage(dir.file("g.mhd"), g);
  std::ifstream in(dir.file("g.mhd"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("ElementSpacing = 4 4"), std::string::npos) << text;
  EXPECT_NE(text.find("Offset = 1.5 1.5"), std::string::npos) << text;
  EXPECT_EQ(fs::file_size(dir.file("g.raw")), 6 * sizeof(float));
}

TEST(TiledOutput, StripsWrittenInAnyOrderReadBackExactly) {
  test::ScratchDir dir("io-out");
  io::OutputSpec spec;
  spec.path = dir.file("out.tif");
  spec.size = {300, 200};
  spec.tile = 64;
  io::create_tiled_output(spec);
  EXPECT_TRUE(fs::exists(io::partial_path(spec.path)));
  EXPECT_FALSE(fs::exists(spec.path));  // not under its final name until finished
  std::vector<uint8_t> img(300 * 200 * 3);
  std::mt19937 rng(9);
  for (auto& v : img) v = static_cast<uint8_t>(rng());
  {
    io::LaidOutTileWriter w(spec);
    for (int64_t y0 : {128, 0, 192, 64}) {  // out of order, last strip short (200 = 3*64 + 8)
      int64_t rows = std::min<int64_t>(64, 200 - y0);
      w.write_strip(y0, rows, img.data() + y0 * 900, 900);
    }
  }
  io::finish_output(spec);
  EXPECT_FALSE(fs::exists(io::partial_path(spec.path)));
  io::Raster r = io::Raster::open(spec.path);
  std::vector<uint8_t> back(img.size());
  r.read_rgb({0, 0, 300, 200}, back.data(), 900);
  EXPECT_EQ(back, img);
}

// The first overview's pixels (GDAL's, read back from the encoded tiles), band by band.
std::vector<uint8_t> first_overview(GDALDatasetH ds) {
  std::vector<uint8_t> out;
  for (int b = 1; b <= 3; ++b) {
    GDALRasterBandH o = GDALGetOverview(GDALGetRasterBand(ds, b), 0);
    const int w = GDALGetRasterBandXSize(o), h = GDALGetRasterBandYSize(o);
    std::vector<uint8_t> band(static_cast<size_t>(w) * h);
    EXPECT_EQ(GDALRasterIO(o, GF_Read, 0, 0, w, h, band.data(), w, h, GDT_Byte, 0, 0), CE_None);
    out.insert(out.end(), band.begin(), band.end());
  }
  return out;
}

TEST(TiledOutput, TilesEncodedHereAndPlacedRawReadBackAsTheSamePixels) {
  std::vector<uint8_t> overview_without_predictor;
  for (const char* predictor : {"none", "horizontal"})
    for (const char* codec : {"deflate", "zstd"}) {
      test::ScratchDir dir(std::string("io-") + codec + "-" + predictor);
      io::OutputSpec spec;
      spec.path = dir.file("out.tif");
      spec.size = {130, 150};  // edge tiles on the right and at the bottom
      spec.tile = 64;
      spec.compress = codec;
      spec.predictor = predictor;
      io::create_tiled_output(spec);
      std::vector<uint8_t> img(130 * 150 * 3);
      for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i / 7 + (i % 3) * 40 + (i * 7919) % 13);
      {
        io::TileEncoder encoder(io::codec_from_name(codec), 0, io::predictor_from_name(predictor));
        io::RawTileFile file(io::partial_path(spec.path));
        std::vector<uint8_t> buf;
        for (int64_t ty : {2, 0, 1}) {  // any order: the file keeps an offset per tile
          io::EncodedRow row = io::encode_tile_row(encoder, img.data(), 390, 0, 150, ty, 64, 130, buf);
          ASSERT_EQ(row.sizes.size(), 3u);
          file.write_row(io::EncodedRow::from_message(row.to_message()));  // as it travels between ranks
        }
        file.close();
      }
      ASSERT_TRUE(io::overviews_from_x2(spec));  // even sides: the ranks stage the x2 level
      {
        io::X2Staging staging(spec);
        staging.write_strip(128, 22, img.data() + 128 * 390, 390);  // strips in any order
        staging.write_strip(0, 128, img.data(), 390);
        staging.close();
      }
      io::finish_output(spec);  // overviews from the staged x2 level, then the final name
      EXPECT_FALSE(fs::exists(io::x2_staging_path(spec)));
      GDALDatasetH ds = GDALOpen(spec.path.c_str(), GA_ReadOnly);
      ASSERT_NE(ds, nullptr);
      const char* c = GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE");
      ASSERT_NE(c, nullptr);
      EXPECT_STREQ(c, std::string(codec) == "zstd" ? "ZSTD" : "DEFLATE");
      // The Predictor tag that the encoded bytes need (GDAL reports it only when it is not 1).
      const char* p = GDALGetMetadataItem(ds, "PREDICTOR", "IMAGE_STRUCTURE");
      EXPECT_EQ(p ? std::string(p) : std::string("1"), std::string(predictor) == "horizontal" ? "2" : "1") << codec;
      EXPECT_EQ(GDALGetOverviewCount(GDALGetRasterBand(ds, 1)), 2);
      // Encoded with the file's predictor (the x2 level here, the smaller ones by GDAL): the same pixels either way.
      const std::vector<uint8_t> overview = first_overview(ds);
      if (overview_without_predictor.empty()) overview_without_predictor = overview;
      EXPECT_TRUE(overview == overview_without_predictor) << codec << " " << predictor;
      GDALClose(ds);
      io::Raster r = io::Raster::open(spec.path);
      std::vector<uint8_t> back(img.size());
      r.read_rgb({0, 0, 130, 150}, back.data(), 390);
      EXPECT_TRUE(back == img) << codec << " " << predictor;
    }
}

// The x2 level the ranks stage is GDAL's AVERAGE overview to the byte when the sides are even
// (the mean of each 2x2 block, rounded half up): against GDAL's own on a noisy image, and by hand.
TEST(OverviewStaging, HalvingIsGdalsAverage) {
  const int w = 130, h = 150;
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  std::mt19937 rng(3);
  for (uint8_t& v : img) v = static_cast<uint8_t>(rng() % 256);
  io::init_gdal();
  GDALDriverH mem = GDALGetDriverByName("MEM");
  ASSERT_NE(mem, nullptr);
  GDALDatasetH ds = GDALCreate(mem, "", w, h, 3, GDT_Byte, nullptr);
  ASSERT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, img.data(), w, h, GDT_Byte, 3, nullptr, 3, 3 * w, 1),
            CE_None);
  const int two = 2;
  ASSERT_EQ(GDALBuildOverviews(ds, "AVERAGE", 1, &two, 0, nullptr, nullptr, nullptr), CE_None);
  std::vector<uint8_t> gdal(static_cast<size_t>(w / 2) * (h / 2) * 3);
  for (int b = 0; b < 3; ++b) {
    std::vector<uint8_t> band(static_cast<size_t>(w / 2) * (h / 2));
    GDALRasterBandH o = GDALGetOverview(GDALGetRasterBand(ds, b + 1), 0);
    ASSERT_EQ(GDALRasterIO(o, GF_Read, 0, 0, w / 2, h / 2, band.data(), w / 2, h / 2, GDT_Byte, 0, 0), CE_None);
    for (size_t i = 0; i < band.size(); ++i) gdal[i * 3 + static_cast<size_t>(b)] = band[i];
  }
  GDALClose(ds);
  std::vector<uint8_t> ours;
  io::halve_rgb(img.data(), 3 * w, w, h, ours);
  EXPECT_TRUE(ours == gdal);
  // One 2x2 block per channel: means 2.5, 2.25 and 2.75 round to 3, 2 and 3.
  const std::vector<uint8_t> block = {1, 1, 1, 2, 2, 3, 3, 2, 3, 4, 4, 4};
  io::halve_rgb(block.data(), 6, 2, 2, ours);
  EXPECT_EQ(ours, (std::vector<uint8_t>{3, 2, 3}));
}

TEST(TileCodec, HorizontalDifferencingIsTiffPredictorTwo) {
  // Two RGB pixels in the image and one of padding: each byte minus the same channel's byte to its
  // left, modulo 256; the padding's zeros minus the last pixel.
  const std::vector<uint8_t> src = {10, 20, 30, 5, 25, 30};
  std::vector<uint8_t> dst(9, 77);
  io::difference_row(src.data(), dst.data(), 6, 9, 3);
  EXPECT_EQ(dst, (std::vector<uint8_t>{10, 20, 30, 251, 5, 0, 251, 231, 226}));
  EXPECT_EQ(io::predictor_from_name("none"), io::Predictor::kNone);
  EXPECT_THROW(io::predictor_from_name("2"), Error);
}

TEST(TileCodec, AMessageCutShortIsARuntimeError) {
  io::EncodedRow row;
  row.row = 3;
  row.sizes = {2, 3};
  row.bytes = "abcde";
  const std::string m = row.to_message();
  const io::EncodedRow back = io::EncodedRow::from_message(std::string(m));
  EXPECT_EQ(std::string(back.data(), back.size()), "abcde");
  EXPECT_EQ(back.sizes, row.sizes);
  // With a sender's prefix, and travelling again: the bytes after the header, nothing else.
  const io::EncodedRow prefixed = io::EncodedRow::from_message(row.to_message("R#"), 2);
  EXPECT_EQ(prefixed.row, 3);
  EXPECT_EQ(io::EncodedRow::from_message(prefixed.to_message()).bytes, m);
  try {
    io::EncodedRow::from_message(m.substr(0, m.size() - 1));
    FAIL() << "a short message was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kRuntime);
  }
  EXPECT_THROW(io::codec_from_name("lzw"), Error);
}

TEST(RasterIo, DecimationUsesTheFilesOverviews) {
  // An overview whose content differs from the full-resolution data on purpose: if decimation
  // reads it, the result is that content, not the average of the base image.
  test::ScratchDir dir("io-ovr");
  const std::string p = dir.file("ovr.tif");
  write_rgb(p, 128, 96);
  {
    GDALDatasetH ds = GDALOpen(p.c_str(), GA_Update);
    int level = 4;
    ASSERT_EQ(GDALBuildOverviews(ds, "AVERAGE", 1, &level, 0, nullptr, nullptr, nullptr), CE_None);
    for (int b = 1; b <= 3; ++b) {
      GDALRasterBandH ovr = GDALGetOverview(GDALGetRasterBand(ds, b), 0);
      std::vector<uint8_t> v(32 * 24, 200);
      ASSERT_EQ(GDALRasterIO(ovr, GF_Write, 0, 0, 32, 24, v.data(), 32, 24, GDT_Byte, 0, 0), CE_None);
    }
    GDALClose(ds);
  }
  io::Raster r = io::Raster::open(p);
  EXPECT_EQ(r.info().overviews, 1);
  io::GreyImage g = io::decimate_grey(r, 4);
  ASSERT_EQ(g.size, (Size{32, 24}));
  for (float v : g.pixels) ASSERT_NEAR(v, 200.0f, 0.01f);
}

namespace {

// An RGB(A) GeoTIFF of random bytes written by GDAL with the creation options given.
void write_random(const std::string& path, int w, int h, int bands, std::vector<const char*> options) {
  io::init_gdal();
  char** o = nullptr;
  for (size_t i = 0; i + 1 < options.size(); i += 2) o = CSLSetNameValue(o, options[i], options[i + 1]);
  GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), w, h, bands, GDT_Byte, o);
  CSLDestroy(o);
  ASSERT_NE(ds, nullptr) << path;
  std::mt19937 rng(static_cast<unsigned>(w * 131 + h));
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * bands);
  // Smooth runs with noise, so that the codecs have something to compress.
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i / 97) % 200 + rng() % 40);
  ASSERT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, px.data(), w, h, GDT_Byte, bands, nullptr, bands,
                                static_cast<GSpacing>(w) * bands, 1),
            CE_None);
  GDALClose(ds);
}

// GDAL's own reading of the window's first three bands, pixel-interleaved, a 4th band GDAL calls
// alpha composited over white as read_rgb does.
std::vector<uint8_t> gdal_window(const std::string& path, const Window& w) {
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  const int n =
      GDALGetRasterCount(ds) == 4 && GDALGetRasterColorInterpretation(GDALGetRasterBand(ds, 4)) == GCI_AlphaBand ? 4
                                                                                                                 : 3;
  std::vector<uint8_t> px(static_cast<size_t>(w.width * w.height * n));
  int bands[4] = {1, 2, 3, 4};
  EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Read, static_cast<int>(w.x0), static_cast<int>(w.y0), static_cast<int>(w.width),
                                static_cast<int>(w.height), px.data(), static_cast<int>(w.width),
                                static_cast<int>(w.height), GDT_Byte, n, bands, n, w.width * n, 1),
            CE_None);
  GDALClose(ds);
  std::vector<uint8_t> out(static_cast<size_t>(w.width * w.height * 3));
  for (size_t i = 0; i < out.size() / 3; ++i)
    for (int c = 0; c < 3; ++c)
      out[3 * i + c] = n == 4 ? io::composite_over_white(px[4 * i + c], px[4 * i + 3]) : px[3 * i + c];
  return out;
}

}  // namespace

// read_rgb reads plain RGB TIFFs with libtiff (src/io/tiff_blocks.cpp): the bytes must be GDAL's for
// every layout it takes (tiles, strips, codecs, alpha, edge blocks) and for windows that cross
// blocks, start and end inside them, and come back to blocks read before (the cache).
TEST(RasterIo, LibtiffBlocksReadTheBytesGdalReads) {
  test::ScratchDir dir("io-blocks");
  const std::vector<std::pair<std::string, std::vector<const char*>>> layouts = {
      {"tiled", {"TILED", "YES", "BLOCKXSIZE", "64", "BLOCKYSIZE", "32"}},
      {"tiled-zstd", {"TILED", "YES", "COMPRESS", "ZSTD", "PREDICTOR", "2"}},
      {"tiled-deflate", {"TILED", "YES", "BLOCKXSIZE", "32", "BLOCKYSIZE", "32", "COMPRESS", "DEFLATE"}},
      {"strips", {"BLOCKYSIZE", "7"}},
      {"strips-lzw", {"COMPRESS", "LZW"}},
      {"band-interleaved", {"TILED", "YES", "INTERLEAVE", "BAND"}},
      {"one-deflate-strip", {"COMPRESS", "DEFLATE", "BLOCKYSIZE", "203"}},
  };
  // A sparse file (blocks never written) is left to GDAL, which reads its holes as 0.
  {
    const std::string sparse = dir.file("sparse.tif");
    io::init_gdal();
    char** o = CSLSetNameValue(CSLSetNameValue(nullptr, "TILED", "YES"), "SPARSE_OK", "TRUE");
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), sparse.c_str(), 600, 600, 3, GDT_Byte, o);
    CSLDestroy(o);
    std::vector<uint8_t> px(256 * 256 * 3, 77);
    ASSERT_EQ(
        GDALDatasetRasterIO(ds, GF_Write, 0, 0, 256, 256, px.data(), 256, 256, GDT_Byte, 3, nullptr, 3, 256 * 3, 1),
        CE_None);
    GDALClose(ds);
    io::Raster r = io::Raster::open(sparse);
    EXPECT_FALSE(r.reads_tiff_blocks());
    std::vector<uint8_t> got(600 * 600 * 3, 1);
    r.read_rgb(Window{0, 0, 600, 600}, got.data(), 600 * 3);
    EXPECT_EQ(got[0], 77);
    EXPECT_EQ(got[(599 * 600 + 599) * 3], 0);
  }
  std::mt19937 rng(5);
  for (int bands : {3, 4})
    for (const auto& [name, options] : layouts) {
      const std::string p = dir.file(name + "-" + std::to_string(bands) + ".tif");
      write_random(p, 301, 203, bands, options);
      io::Raster r = io::Raster::open(p);
      EXPECT_EQ(r.reads_tiff_blocks(), name != "band-interleaved") << name;
      // A 20000-row strip would be one buffer of the whole image: GDAL reads such a file.
      if (name == "one-deflate-strip") {
        const std::string tall = dir.file("tall-" + std::to_string(bands) + ".tif");
        write_random(tall, 301, 20000, bands, {"COMPRESS", "DEFLATE", "BLOCKYSIZE", "20000"});
        EXPECT_FALSE(io::Raster::open(tall).reads_tiff_blocks());
      }
      for (int k = 0; k < 40; ++k) {
        Window w;
        w.x0 = rng() % 301;
        w.y0 = rng() % 203;
        w.width = 1 + rng() % (301 - w.x0);
        w.height = 1 + rng() % (203 - w.y0);
        if (k % 4 == 1) w.height = std::min<int64_t>(w.height, 1 + rng() % 3);  // a few rows of a block
        if (k == 0) w = Window{0, 0, 301, 203};
        const size_t stride = static_cast<size_t>(w.width) * 3 + 5;  // a row stride wider than the row
        std::vector<uint8_t> got(stride * static_cast<size_t>(w.height), 0xAB);
        r.read_rgb(w, got.data(), stride);
        const std::vector<uint8_t> want = gdal_window(p, w);
        for (int64_t y = 0; y < w.height; ++y)
          ASSERT_EQ(std::memcmp(got.data() + y * stride, want.data() + y * w.width * 3, w.width * 3), 0)
              << name << " bands " << bands << " window " << w.x0 << "," << w.y0 << " " << w.width << "x" << w.height
              << " row " << y;
      }
    }
}

// decimate_grey averages the bytes read_rgb reads (a file without overviews); GDAL's average
// resampler (read_grey_average) is the reference, to the bit (an RGBA file's through the copy it
// averages, composited over white as read_rgb reads it): the registration images, and so
// elastix's transforms, did not change when the decimation stopped going through GDAL.
TEST(RasterIo, DecimationEqualsGdalsAverageToTheBit) {
  test::ScratchDir dir("io-dec-gdal");
  for (const int bands : {3, 4}) {
    const std::string path = dir.file("r" + std::to_string(bands) + ".tif");
    write_random(path, 203, 131, bands, {"TILED", "YES", "BLOCKXSIZE", "64", "BLOCKYSIZE", "32"});
    io::Raster r = io::Raster::open(path);
    ASSERT_EQ(r.info().overviews, 0);
    for (const int f : {2, 3, 5, 7}) {
      const io::GreyImage g = io::decimate_grey(r, f, 4);  // 4 rows a read: several reads
      std::vector<float> want(static_cast<size_t>(g.size.pixels()));
      r.read_grey_average(Window{0, 0, g.size.width * f, g.size.height * f}, static_cast<int>(g.size.width),
                          static_cast<int>(g.size.height), want.data());
      for (size_t k = 0; k < want.size(); ++k)
        ASSERT_EQ(g.pixels[k], want[k]) << "bands " << bands << ", factor " << f << ", pixel " << k;
    }
  }
}
