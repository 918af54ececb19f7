#include "alinify/batch/summary.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/job/qa_report.hpp"
#include "alinify/qa/job_files.hpp"
#include "alinify/qa/report_html.hpp"

namespace fs = std::filesystem;

namespace alinify::batch {
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

std::string num(double v) { return fmt::format("{:.3f}", v); }

// The job's QA verdict and key metrics from its metrics.json (written by the job itself, so a
// resumed batch still shows the verdicts of jobs done by an earlier run).
struct JobQa {
  bool present = false, suspect = false;
  int64_t defects = -1;  // print defects found; -1: the job did not look (no --defects)
  std::string reasons, report, thumbnail;
  std::vector<std::pair<std::string, nlohmann::json>> key;  // in the index page's column order
  nlohmann::json value(const std::string& name) const {
    for (const auto& [k, v] : key)
      if (k == name) return v;
    return nullptr;
  }
};

// Rows of <out stem>.defects.csv (its header aside), or -1 without the file: the count of a job run
// with --defects --no-qa, which writes no metrics.json.
int64_t defect_rows(const std::string& out) {
  const fs::path o(out);
  std::ifstream in(o.parent_path() / (o.stem().string() + ".defects.csv"));
  if (!in) return -1;
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return std::max<int64_t>(0, n - 1);
}

JobQa job_qa(const JobRecord& r) {
  JobQa q;
  if (r.status != JobStatus::kDone && r.status != JobStatus::kSkipped) return q;
  const nlohmann::json m = qa::read_job_metrics(r.job.out);
  const nlohmann::json* count = m.is_object() && m.contains("defects") ? &m["defects"] : nullptr;
  q.defects = count && count->contains("count") ? (*count)["count"].get<int64_t>() : defect_rows(r.job.out);
  if (!m.is_object()) return q;
  q.present = true;
  const nlohmann::json& v = m.value("verdict", nlohmann::json::object());
  q.suspect = v.value("suspect", false);
  for (const auto& reason : v.value("reasons", nlohmann::json::array()))
    q.reasons += (q.reasons.empty() ? "" : "; ") + reason.get<std::string>();
  const qa::QaPaths paths = qa::qa_paths_for(r.job.out);
  q.report = fs::exists(paths.report) ? paths.report : "";
  q.thumbnail = fs::exists(paths.pictures + "/thumbnail.png") ? paths.pictures + "/thumbnail.png" : "";
  auto get = [&](const char* a, const char* b, const char* c = nullptr) {
    const nlohmann::json* p = &m;
    for (const char* k : {a, b, c}) {
      if (!k) break;
      if (!p->is_object() || !p->contains(k)) return nlohmann::json();
      p = &(*p)[k];
    }
    return *p;
  };
  q.key = {{"NCC before", get("similarity", "before", "ncc")}, {"NCC after", get("similarity", "after", "ncc")},
           {"MI after", get("similarity", "after", "mi")},     {"Jacobian min", get("deformation", "jacobian_min")},
           {"max local px", get("deformation", "max_local")},  {"seconds", r.result.seconds}};
  if (q.defects >= 0) q.key.emplace_back("defects", q.defects);
  return q;
}

// "id: file: problem" for every job that failed on a missing or unreadable input: an archive's
// holes, listed together so that they can be fixed at once.
std::vector<std::string> missing_inputs(const std::vector<JobRecord>& records) {
  std::vector<std::string> lines;
  for (const JobRecord& r : records)
    if (r.status == JobStatus::kFailed && !r.job.input_problem.empty() && r.attempts == 0)
      lines.push_back(r.job.id + ": " + r.job.input_problem);
  return lines;
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
  const JobQa q = job_qa(r);
  j["suspect"] = q.suspect;
  j["suspect_reasons"] = q.reasons;
  nlohmann::json key = nlohmann::json::object();
  for (const auto& [k, v] : q.key) key[k] = v;
  j["qa"] = q.present ? key : nlohmann::json();
  j["report"] = q.report;
  j["defects"] = q.defects >= 0 ? nlohmann::json(q.defects) : nlohmann::json();
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
  int suspect = 0;
  for (const JobRecord& r : records) suspect += job_qa(r).suspect;
  j["suspect"] = suspect;
  j["not_run"] = counts[static_cast<int>(JobStatus::kNotRun)] + counts[static_cast<int>(JobStatus::kPending)] +
                 counts[static_cast<int>(JobStatus::kRunning)];
  j["jobs_per_hour"] = t.wall_seconds > 0 ? counts[static_cast<int>(JobStatus::kDone)] * 3600.0 / t.wall_seconds : 0.0;
  j["interrupted"] = t.interrupted;
  j["exit_code"] = t.exit_code;
  j["missing_inputs"] = missing_inputs(records);
  nlohmann::json list = nlohmann::json::array();
  for (const JobRecord& r : records) list.push_back(job_summary_json(r));
  j["job_results"] = list;
  return j;
}

std::string summary_csv(const std::vector<JobRecord>& records) {
  std::ostringstream o;
  o << "id,status,exit_code,attempts,group,started,finished,seconds,register_seconds,warp_seconds,"
       "registration_factor,output,output_bytes,xxh64,error,note,suspect,ncc_after,jacobian_min,report,defects\n";
  for (const JobRecord& r : records) {
    const bool failed = r.status == JobStatus::kFailed;
    o << csv_field(r.job.id) << ',' << status_name(r.status) << ',' << (failed ? r.result.exit_code : 0) << ','
      << r.attempts << ',' << r.group << ',' << r.started << ',' << r.finished << ',' << num(r.result.seconds) << ','
      << num(r.result.register_seconds) << ',' << num(r.result.warp_seconds) << ',' << r.result.registration_factor
      << ',' << csv_field(r.job.out) << ',' << r.result.out_size << ',' << r.result.xxh64 << ','
      << csv_field(failed ? r.result.error : "") << ',' << csv_field(r.note);
    const JobQa q = job_qa(r);
    auto val = [](const nlohmann::json& v) { return v.is_number() ? num(v.get<double>()) : std::string(); };
    o << ',' << (q.present ? (q.suspect ? "yes" : "no") : "") << ',' << val(q.value("NCC after")) << ','
      << val(q.value("Jacobian min")) << ',' << csv_field(q.report) << ','
      << (q.defects >= 0 ? std::to_string(q.defects) : std::string()) << '\n';
  }
  return o.str();
}

std::string batch_index_html(const std::string& base, const std::vector<JobRecord>& records) {
  const fs::path dir = fs::absolute(base).parent_path();
  std::vector<qa::IndexRow> rows;
  for (const JobRecord& r : records) {
    const JobQa q = job_qa(r);
    qa::IndexRow row;
    row.id = r.job.id;
    row.status = status_name(r.status);
    row.suspect = q.suspect;
    row.reasons = r.status == JobStatus::kFailed ? r.result.error : q.suspect ? q.reasons : r.note;
    row.thumbnail_png = q.thumbnail;
    // Relative, so the folder of reports can be moved or served as a whole.
    if (!q.report.empty()) row.report_href = fs::absolute(q.report).lexically_relative(dir).string();
    row.key_metrics = q.key;
    row.defects = q.defects;
    rows.push_back(std::move(row));
  }
  return qa::batch_index_html("alinify batch " + fs::path(base).filename().string(), rows, missing_inputs(records));
}

std::pair<std::string, std::string> write_summary(const std::string& base, const SummaryTotals& t,
                                                  const std::vector<JobRecord>& records) {
  std::error_code ec;
  if (!fs::path(base).parent_path().empty()) fs::create_directories(fs::path(base).parent_path(), ec);
  const std::string js = base + ".summary.json", cs = base + ".summary.csv";
  const auto write = [](const std::string& path, const std::string& text) {
    files::write_atomically(path, text, path + ": cannot write the summary");
  };
  write(js, summary_json(t, records).dump(2) + "\n");
  write(cs, summary_csv(records));
  write(base + ".index.html", batch_index_html(base, records));
  return {js, cs};
}

}  // namespace alinify::batch
