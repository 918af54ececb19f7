#include "alinify/reg/presets.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/reg/presets_generated.hpp"

namespace alinify::reg {

namespace {

// Replaces the value of (FinalGridSpacingInPhysicalUnits ...) where the file has one.
std::string with_grid_spacing(const std::string& text, double spacing) {
  const std::string key = "(FinalGridSpacingInPhysicalUnits ";
  size_t at = text.find(key);
  if (at == std::string::npos) return text;
  size_t end = text.find(')', at);
  std::ostringstream v;
  v << spacing;
  return text.substr(0, at + key.size()) + v.str() + text.substr(end);
}

}  // namespace

std::vector<std::string> preset_names() { return {"rigid", "affine", "bspline"}; }

std::string embedded_config(const std::string& file_name) {
  for (const auto& [name, text] : generated::kElastixConfigs)
    if (file_name == name) return text;
  return {};
}

std::vector<std::string> write_preset_files(const std::string& preset, const std::string& dir, double grid_spacing) {
  static const std::map<std::string, std::vector<std::string>> kFiles{
      {"rigid", {"rigid.txt"}}, {"affine", {"affine.txt"}}, {"bspline", {"affine.txt", "bspline.txt"}}};
  auto it = kFiles.find(preset);
  if (it == kFiles.end()) fail_usage("--preset: '" + preset + "' is not one of rigid, affine, bspline");
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (size_t k = 0; k < it->second.size(); ++k) {
    std::string text = embedded_config(it->second[k]);
    if (text.empty()) fail_runtime("preset file " + it->second[k] + " is not embedded in this build");
    if (grid_spacing > 0) text = with_grid_spacing(text, grid_spacing);
    std::string path = (std::filesystem::path(dir) / ("preset." + std::to_string(k) + "." + it->second[k])).string();
    std::ofstream(path) << text;
    paths.push_back(path);
  }
  return paths;
}

}  // namespace alinify::reg
