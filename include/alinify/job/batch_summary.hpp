#pragma once
// The batch summary: <base>.summary.json (totals + one object per job) and <base>.summary.csv
// (one row per job), written atomically by the dispatcher at the end of a batch.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alinify/job/batch_scheduler.hpp"

namespace alinify::job {

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
// Writes <base>.summary.json and <base>.summary.csv; returns their paths.
std::pair<std::string, std::string> write_summary(const std::string& base, const SummaryTotals& t,
                                                  const std::vector<JobRecord>& records);

}  // namespace alinify::job
