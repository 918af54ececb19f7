#include "alinify/qa/job_files.hpp"

#include <filesystem>
#include <optional>

#include "alinify/core/files.hpp"

namespace fs = std::filesystem;

namespace alinify::qa {

QaPaths qa_paths_for(const std::string& output) {
  const fs::path o(output);
  const fs::path base = o.parent_path() / o.stem();
  return {base.string() + ".metrics.json", base.string() + ".report.html", base.string() + ".qa"};
}

nlohmann::json read_job_metrics(const std::string& output) {
  const std::optional<std::string> text = files::try_read_file(qa_paths_for(output).metrics);
  if (!text) return nullptr;
  try {
    return nlohmann::json::parse(*text);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace alinify::qa
