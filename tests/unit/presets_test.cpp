// The embedded elastix presets as written for a run: grid spacing, and the lighter bspline preset
// when the refinement follows (reg/presets.cpp says why and what it measured).
#include "alinify/reg/presets.hpp"

#include <gtest/gtest.h>

#include "alinify/core/error.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "support/files.hpp"

namespace alinify::reg {
namespace {
using alinify::test::ScratchDir;
using transform::ParameterMap;
using transform::read_parameter_file;

using Strings = std::vector<std::string>;

std::vector<ParameterMap> written(const std::string& preset, double spacing, bool refinement_follows) {
  ScratchDir dir("presets");
  std::vector<ParameterMap> maps;
  for (const std::string& path : write_preset_files(preset, dir.path().string(), spacing, refinement_follows))
    maps.push_back(read_parameter_file(path));
  return maps;
}

TEST(Presets, TheBsplinePresetAsShippedWithItsGridSpacing) {
  const std::vector<ParameterMap> m = written("bspline", 1024, false);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("Transform"), Strings{"AffineTransform"});
  EXPECT_EQ(m[0].at("MaximumNumberOfIterations"), Strings{"500"});
  EXPECT_EQ(m[0].at("NumberOfResolutions"), Strings{"4"});
  EXPECT_EQ(m[1].at("Transform"), Strings{"BSplineTransform"});
  EXPECT_EQ(m[1].at("MaximumNumberOfIterations"), Strings{"500"});
  EXPECT_EQ(m[1].at("NumberOfResolutions"), Strings{"4"});
  EXPECT_EQ(m[1].at("GridSpacingSchedule"), (Strings{"4.0", "2.0", "1.0", "1.0"}));
  EXPECT_EQ(m[1].at("FinalGridSpacingInPhysicalUnits"), Strings{"1024"});
}

TEST(Presets, BeforeTheRefinementTheBsplinePresetIsLighterAndStillParses) {
  const std::vector<ParameterMap> m = written("bspline", 1024, true);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("MaximumNumberOfIterations"), Strings{"250"});
  EXPECT_EQ(m[0].at("NumberOfResolutions"), Strings{"4"});
  EXPECT_EQ(m[1].at("MaximumNumberOfIterations"), Strings{"250"});
  EXPECT_EQ(m[1].at("NumberOfResolutions"), Strings{"2"});
  // One schedule entry per level, or elastix refuses the file.
  EXPECT_EQ(m[1].at("GridSpacingSchedule"), (Strings{"2.0", "1.0"}));
  EXPECT_EQ(m[1].at("FinalGridSpacingInPhysicalUnits"), Strings{"1024"});
  // The words of the log and --help say what the files got.
  EXPECT_NE(std::string(kLightenedSummary).find(m[1].at("MaximumNumberOfIterations")[0] + " iterations a level"),
            std::string::npos);
  EXPECT_NE(std::string(kLightenedSummary).find("on two levels"), std::string::npos);
  // Nothing else changes: the same keys as the preset as shipped.
  const std::vector<ParameterMap> full = written("bspline", 1024, false);
  for (size_t k = 0; k < m.size(); ++k) {
    EXPECT_EQ(m[k].size(), full[k].size());
    for (const auto& [key, value] : full[k])
      if (key != "MaximumNumberOfIterations" && key != "NumberOfResolutions" && key != "GridSpacingSchedule") {
        EXPECT_EQ(m[k].at(key), value) << key;
      }
  }
}

TEST(Presets, OnlyTheBsplinePresetIsLightened) {
  for (const std::string preset : {"rigid", "affine"}) {
    const std::vector<ParameterMap> m = written(preset, 0, true);
    ASSERT_EQ(m.size(), 1u) << preset;
    EXPECT_EQ(m[0], written(preset, 0, false)[0]) << preset;
  }
}

TEST(Presets, AnUnknownPresetIsAUsageError) {
  ScratchDir dir("presets");
  try {
    write_preset_files("spline", dir.path().string());
    FAIL() << "no error for an unknown preset";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("'spline'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alinify::reg
