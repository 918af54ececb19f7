#include "alinify/reg/elastix_log.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "alinify/core/files.hpp"

namespace alinify::reg {

std::vector<ElastixResolutionLog> parse_elastix_log_text(const std::string& text) {
  std::vector<ElastixResolutionLog> out;
  std::istringstream in(text);
  int file = 0, resolution = 0;
  bool in_table = false;
  ElastixResolutionLog cur;
  auto starts = [](const std::string& s, const char* p) { return s.rfind(p, 0) == 0; };
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (starts(line, "Running elastix with parameter file ") && line.find("has finished") == std::string::npos) {
      file = std::atoi(line.c_str() + std::string("Running elastix with parameter file ").size());
    } else if (starts(line, "Resolution: ")) {
      resolution = std::atoi(line.c_str() + 12);
    } else if (starts(line, "1:ItNr")) {
      in_table = true;
      cur = ElastixResolutionLog{file, resolution, 0, 0, 0, ""};
    } else if (in_table) {
      std::istringstream row(line);
      int it = 0;
      double metric = 0;
      if (row >> it >> metric) {
        cur.iterations = it + 1;
        cur.final_metric = metric;
        continue;
      }
      in_table = false;
      if (starts(line, "Time spent in resolution")) {
        const size_t colon = line.find("):");
        if (colon != std::string::npos) cur.seconds = std::atof(line.c_str() + colon + 2);
      }
      out.push_back(cur);
    } else if (starts(line, "Stopping condition: ") && !out.empty() && out.back().stopping_condition.empty()) {
      out.back().stopping_condition = line.substr(20);
    }
  }
  if (in_table) out.push_back(cur);
  return out;
}

std::vector<ElastixResolutionLog> parse_elastix_log(const std::string& path) {
  const std::optional<std::string> text = files::try_read_file(path);
  if (!text) return {};
  return parse_elastix_log_text(*text);
}

}  // namespace alinify::reg
