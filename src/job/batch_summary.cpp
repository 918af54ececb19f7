#include "alinify/job/batch_summary.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alinify/core/error.hpp"

namespace fs = std::filesystem;

namespace alinify::job {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return q + "\"";
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".partial";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) fail_runtime(path + ": cannot write the summary");
  }
  fs::rename(tmp, path);
}

}  // namespace

nlohmann::json job_summary_json(const JobRecord& r) {
  nlohmann::json j;
  j["id"] = r.job.id;
  j["index"] = r.job.index;
  j["status"] = status_name(r.status);
  j["attempts"] = r.attempts;
  j["group"] = r.group;
  j["started"] = r.started;
  j["finished"] = r.finished;
  j["seconds"] = r.result.seconds;
  j["register_seconds"] = r.result.register_seconds;
  j["warp_seconds"] = r.result.warp_seconds;
  j["registration_factor"] = r.result.registration_factor;
  j["output"] = r.job.out;
  j["output_bytes"] = r.result.out_size;
  j["xxh64"] = r.result.xxh64;
  j["exit_code"] = r.status == JobStatus::kFailed ? r.result.exit_code : 0;
  j["error"] = r.status == JobStatus::kFailed ? r.result.error : "";
  j["note"] = r.note;
  return j;
}

nlohmann::json summary_json(const SummaryTotals& t, const std::vector<JobRecord>& records) {
  nlohmann::json j;
  int counts[6] = {0, 0, 0, 0, 0, 0};
  for (const JobRecord& r : records) ++counts[static_cast<int>(r.status)];
  j["manifest"] = t.manifest;
  j["journal"] = t.journal;
  j["shard"] = t.shard;
  j["started"] = t.started;
  j["finished"] = t.finished;
  j["wall_seconds"] = t.wall_seconds;
  j["ranks"] = t.ranks;
  j["groups"] = t.groups;
  j["jobs"] = records.size();
  j["done"] = counts[static_cast<int>(JobStatus::kDone)];
  j["failed"] = counts[static_cast<int>(JobStatus::kFailed)];
  j["skipped"] = counts[static_cast<int>(JobStatus::kSkipped)];
  j["not_run"] = counts[static_cast<int>(JobStatus::kNotRun)] + counts[static_cast<int>(JobStatus::kPending)] +
                 counts[static_cast<int>(JobStatus::kRunning)];
  j["jobs_per_hour"] = t.wall_seconds > 0 ? counts[static_cast<int>(JobStatus::kDone)] * 3600.0 / t.wall_seconds : 0.0;
  j["interrupted"] = t.interrupted;
  j["exit_code"] = t.exit_code;
  nlohmann::json list = nlohmann::json::array();
  for (const JobRecord& r : records) list.push_back(job_summary_json(r));
  j["job_results"] = list;
  return j;
}

std::string summary_csv(const std::vector<JobRecord>& records) {
  std::ostringstream o;
  o << "id,status,exit_code,attempts,group,started,finished,seconds,register_seconds,warp_seconds,"
       "registration_factor,output,output_bytes,xxh64,error,note\n";
  for (const JobRecord& r : records) {
    const bool failed = r.status == JobStatus::kFailed;
    o << csv_field(r.job.id) << ',' << status_name(r.status) << ',' << (failed ? r.result.exit_code : 0) << ','
      << r.attempts << ',' << r.group << ',' << r.started << ',' << r.finished << ',' << num(r.result.seconds) << ','
      << num(r.result.register_seconds) << ',' << num(r.result.warp_seconds) << ',' << r.result.registration_factor
      << ',' << csv_field(r.job.out) << ',' << r.result.out_size << ',' << r.result.xxh64 << ','
      << csv_field(failed ? r.result.error : "") << ',' << csv_field(r.note) << '\n';
  }
  return o.str();
}

std::pair<std::string, std::string> write_summary(const std::string& base, const SummaryTotals& t,
                                                  const std::vector<JobRecord>& records) {
  std::error_code ec;
  if (!fs::path(base).parent_path().empty()) fs::create_directories(fs::path(base).parent_path(), ec);
  const std::string js = base + ".summary.json", cs = base + ".summary.csv";
  write_atomically(js, summary_json(t, records).dump(2) + "\n");
  write_atomically(cs, summary_csv(records));
  return {js, cs};
}

}  // namespace alinify::job
