#pragma once
// The batch summary: <base>.summary.json (totals + one object per job), <base>.summary.csv
// (one row per job) and <base>.index.html (the page to look at), written atomically by the
// dispatcher at the end of a batch. QA verdicts come from each job's metrics.json.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alinify/batch/scheduler.hpp"

namespace alinify::batch {

struct SummaryTotals {
  std::string manifest, journal, started, finished;
  double wall_seconds = 0;
  int ranks = 1, groups = 1;
  std::string shard = "0/1";
  bool interrupted = false;
  int exit_code = 0;
};

nlohmann::json job_summary_json(const JobRecord& r);
nlohmann::json summary_json(const SummaryTotals& t, const std::vector<JobRecord>& records);
std::string summary_csv(const std::vector<JobRecord>& records);
// One HTML page, a row per job (thumbnail, status, key QA metrics, link to its report), failed
// and suspect jobs first.
std::string batch_index_html(const std::string& base, const std::vector<JobRecord>& records);
// Writes <base>.summary.json, <base>.summary.csv and <base>.index.html; returns the first two.
std::pair<std::string, std::string> write_summary(const std::string& base, const SummaryTotals& t,
                                                  const std::vector<JobRecord>& records);

}  // namespace alinify::batch
