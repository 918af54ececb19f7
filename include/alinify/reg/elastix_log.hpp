#pragma once
// What alinify reads back from elastix.log for QA: per parameter file and resolution, the number
// of iterations, the last metric value and the stopping condition (docs/elastix_contract.md).
// Parsed from the iteration table elastix prints ("1:ItNr 2:Metric ..."), whose first two columns
// have been stable across elastix 4.9 to 5.x.
#include <string>
#include <vector>

namespace alinify::reg {

struct ElastixResolutionLog {
  int parameter_file = 0;
  int resolution = 0;
  int iterations = 0;       // rows in the iteration table
  double final_metric = 0;  // the metric of its last row
  double seconds = 0;       // "Time spent in resolution N"
  std::string stopping_condition;
};

// Empty when the log has no iteration table (or cannot be read): QA must not fail a good job.
std::vector<ElastixResolutionLog> parse_elastix_log(const std::string& path);
std::vector<ElastixResolutionLog> parse_elastix_log_text(const std::string& text);

}  // namespace alinify::reg
