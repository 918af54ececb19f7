#pragma once
// The per-job report (one self-contained HTML file: pictures embedded as base64 PNG, inline CSS)
// and the batch index page (one row per job, flagged jobs first).
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace alinify::qa {

struct Picture {
  std::string title, caption;
  std::string png_path;  // embedded, not linked: the report survives being mailed or moved
};

std::string html_escape(const std::string& s);

// `metrics` is the job's metrics.json document (docs/qa.md).
std::string report_html(const nlohmann::json& metrics, const std::vector<Picture>& pictures);

struct IndexRow {
  std::string id, status;  // status: done, failed, skipped, not_run, ...
  bool suspect = false;
  std::string reasons;        // why suspect, or the error of a failed job
  std::string thumbnail_png;  // empty when the job has none
  std::string report_href;    // relative link to the job's report.html (empty: none)
  std::vector<std::pair<std::string, nlohmann::json>> key_metrics;  // shown in this order
  int64_t defects = -1;  // print defects found (--defects); -1: not looked for
};

// Failed and suspect jobs first, then the rest; within each, the jobs with the most print defects
// first, then the given order. `missing_inputs` (one line per
// job whose input is missing: "id: file: no such file") are listed together above the table.
std::string batch_index_html(const std::string& title, std::vector<IndexRow> rows,
                             const std::vector<std::string>& missing_inputs = {});

}  // namespace alinify::qa
