#include "alinify/reg/presets.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/reg/presets_generated.hpp"

namespace alinify::reg {

namespace {

// Replaces the value of (key ...) where the file has that key.
std::string with_value(const std::string& text, const std::string& key, const std::string& value) {
  const std::string open = "(" + key + " ";
  size_t at = text.find(open);
  if (at == std::string::npos) return text;
  size_t end = text.find(')', at);
  return text.substr(0, at + open.size()) + value + text.substr(end);
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The bspline preset when the refinement follows it (RegisterOptions::refinement_follows): elastix
// then only has to bring every 64 px block within the refinement's search radius, and the
// refinement's 128 px control grid measured at full resolution brings the accuracy. Half the
// iterations in both stages, and the B-spline stage's two levels on the final grid (2x, then 1x
// the spacing) instead of four: on the 283 MP synth pair (seed 1) elastix 38.6 s -> 13.4-16.8 s and
// the job's eval mean 0.070 px either way (docs/registration.md, "elastix before the
// refinement"). Without the B-spline stage (affine alone) the residual was 4.8 px and the
// refinement ended at 0.77 px: that stage stays.
std::string lightened(const std::string& file_name, const std::string& text) {
  const std::string note = "// alinify: lightened because the refinement follows (docs/registration.md)\n";
  std::string out = with_value(text, "MaximumNumberOfIterations", "250");
  if (file_name == "bspline.txt") {
    out = with_value(out, "NumberOfResolutions", "2");
    out = with_value(out, "GridSpacingSchedule", "2.0 1.0");
  }
  return note + out;
}

}  // namespace

std::vector<std::string> preset_names() { return {"rigid", "affine", "bspline"}; }

std::string embedded_config(const std::string& file_name) {
  for (const auto& [name, text] : generated::kElastixConfigs)
    if (file_name == name) return text;
  return {};
}

std::vector<std::string> write_preset_files(const std::string& preset, const std::string& dir, double grid_spacing,
                                            bool refinement_follows) {
  static const std::map<std::string, std::vector<std::string>> kFiles{
      {"rigid", {"rigid.txt"}}, {"affine", {"affine.txt"}}, {"bspline", {"affine.txt", "bspline.txt"}}};
  auto it = kFiles.find(preset);
  if (it == kFiles.end()) fail_usage("--preset: '" + preset + "' is not one of rigid, affine, bspline");
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (size_t k = 0; k < it->second.size(); ++k) {
    std::string text = embedded_config(it->second[k]);
    if (text.empty()) fail_runtime("preset file " + it->second[k] + " is not embedded in this build");
    if (grid_spacing > 0) text = with_value(text, "FinalGridSpacingInPhysicalUnits", number(grid_spacing));
    if (refinement_follows && preset == "bspline") text = lightened(it->second[k], text);
    std::string path = (std::filesystem::path(dir) / ("preset." + std::to_string(k) + "." + it->second[k])).string();
    std::ofstream(path) << text;
    paths.push_back(path);
  }
  return paths;
}

}  // namespace alinify::reg
