#include "alinify/qa/job_files.hpp"

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace alinify::qa {

QaPaths qa_paths_for(const std::string& output) {
  const fs::path o(output);
  const fs::path base = o.parent_path() / o.stem();
  return {base.string() + ".metrics.json", base.string() + ".report.html", base.string() + ".qa"};
}

nlohmann::json read_job_metrics(const std::string& output) {
  std::ifstream in(qa_paths_for(output).metrics);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace alinify::qa
