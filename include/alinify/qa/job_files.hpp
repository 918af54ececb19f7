#pragma once
// Where a job's QA files lie next to its output, and reading its metrics back: the pipeline writes
// them (job/qa_report.hpp) and the batch summary and index read them (docs/qa.md).
#include <nlohmann/json.hpp>
#include <string>

namespace alinify::qa {

struct QaPaths {
  std::string metrics;   // <out dir>/<out stem>.metrics.json
  std::string report;    // <out dir>/<out stem>.report.html
  std::string pictures;  // <out dir>/<out stem>.qa/ (checkerboard.png, ..., thumbnail.png)
};
QaPaths qa_paths_for(const std::string& output);

// Reads <out>.metrics.json when present (the batch summary and index); null otherwise.
nlohmann::json read_job_metrics(const std::string& output);

}  // namespace alinify::qa
