// run_batch: validation and resume on rank 0, groups, the dispatcher, the summary.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

#include "alinify/batch/summary.hpp"
#include "alinify/batch/timeout.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/par/agree.hpp"
#include "internal.hpp"

namespace fs = std::filesystem;

namespace alinify::batch {
namespace {

std::string shard_suffix(const BatchOptions& o) {
  if (o.shard_count <= 1) return "";
  return ".shard-" + std::to_string(o.shard_index) + "-of-" + std::to_string(o.shard_count);
}

std::string shard_text(const BatchOptions& o) {
  return std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count);
}

// What only rank 0 holds: the locked journal and the jobs' states.
struct RootState {
  std::optional<Journal> journal;
  std::optional<Scheduler> scheduler;
};

// Manifest problems listed in the error; the rest are counted.
constexpr size_t kProblemsShown = 20;

void check_options(const BatchOptions& options) {
  if (options.shard_count < 1 || options.shard_index < 0 || options.shard_index >= options.shard_count)
    fail_usage("--shard: index out of range");
  if (options.retries < 0) fail_usage("--retries: must be 0 or more");
  if (options.group_size < 0) fail_usage("--group-size: must be positive");
}

// This shard's jobs; every problem of the manifest and of the jobs' options in one bad-input error.
std::vector<BatchJob> load_checked_jobs(const BatchOptions& options, const JobChecker& check_job) {
  Manifest m = load_manifest(options.manifest);
  std::vector<BatchJob> jobs = select_shard(m.jobs, options.shard_index, options.shard_count);
  // An archive has holes: a missing input fails its job alone, unless asked to refuse them all.
  if (options.strict_inputs)
    for (const BatchJob& j : jobs)
      if (!j.input_problem.empty())
        m.problems.push_back(m.path + ":" + std::to_string(j.line) + ": " + j.input_problem);
  for (BatchJob& j : jobs) j.timeout_seconds = job_timeout(j, options.job_timeout);
  if (check_job)
    for (const BatchJob& j : jobs) {
      try {
        check_job(j);
      } catch (const Error& e) {
        std::istringstream lines(e.what());
        for (std::string line; std::getline(lines, line);)
          m.problems.push_back(m.path + ":" + std::to_string(j.line) + ": " + line);
      }
    }
  if (!m.problems.empty()) {
    std::string text = options.manifest + ": " + std::to_string(m.problems.size()) +
                       (m.problems.size() == 1 ? " problem" : " problems") + ", no job was started:";
    // A file that is no manifest at all could list thousands: the first ones say enough.
    const size_t shown = std::min(m.problems.size(), kProblemsShown);
    for (size_t i = 0; i < shown; ++i) text += "\n  " + m.problems[i];
    if (shown < m.problems.size()) text += "\n  ... and " + std::to_string(m.problems.size() - shown) + " more";
    throw Error(ExitCode::kBadInput, text);
  }
  return jobs;
}

// The summary of a skipped job keeps what the earlier run measured.
void keep_earlier_measures(JobRecord& rec, const DoneRecord& done) {
  const nlohmann::json& d = done.record;
  rec.result.out_size = done.size;
  rec.result.xxh64 = done.xxh64;
  rec.result.seconds = d.value("seconds", 0.0);
  rec.result.register_seconds = d.value("register_seconds", 0.0);
  rec.result.warp_seconds = d.value("warp_seconds", 0.0);
  rec.result.registration_factor = d.value("registration_factor", 0);
  rec.finished = d.value("time", std::string());
  rec.attempts = d.value("attempt", 0);
  rec.group = d.value("group", -1);
}

// --resume: skips the jobs that the journal records done and whose output is still the one it
// recorded; returns how many.
int skip_verified_jobs(const std::vector<BatchJob>& jobs, const std::string& journal_path, Scheduler& scheduler) {
  int skipped = 0;
  const auto done = read_done_records(journal_path);
  for (const BatchJob& j : jobs) {
    auto it = done.find(j.id);
    if (it == done.end()) continue;
    if (it->second.out != j.out) {
      spdlog::warn("batch: job {} was done with output {}, the manifest now says {}: redoing it", j.id, it->second.out,
                   j.out);
      continue;
    }
    const std::string why = verify_output(it->second);
    if (why.empty()) {
      scheduler.skip(j.index, "output verified from an earlier run");
      keep_earlier_measures(scheduler.record(j.index), it->second);
      ++skipped;
    } else {
      spdlog::warn("batch: job {} was recorded done but {}: redoing it", j.id, why);
    }
  }
  return skipped;
}

// Jobs with a missing or unreadable input (not skipped as done earlier) fail now, with exit 2 and
// the line naming the file, and are journaled; the others run.
int fail_jobs_with_missing_inputs(const std::vector<BatchJob>& jobs, Scheduler& scheduler, Journal& journal) {
  int failed = 0;
  for (const BatchJob& j : jobs) {
    if (j.input_problem.empty() || scheduler.record(j.index).status == JobStatus::kSkipped) continue;
    JobResult r;
    r.exit_code = static_cast<int>(ExitCode::kBadInput);
    r.error = j.input_problem;
    scheduler.fail_unstarted(j.index, r, "missing input");
    journal.append({{"event", "failed"},
                    {"id", j.id},
                    {"index", j.index},
                    {"attempt", 0},
                    {"exit_code", r.exit_code},
                    {"error", r.error},
                    {"missing_input", true},
                    {"will_retry", false}});
    spdlog::warn("batch: job {} not started: {} (manifest line {})", j.id, j.input_problem, j.line);
    ++failed;
  }
  return failed;
}

// 1. Rank 0: read and check the whole manifest, open (lock) the journal, find finished work.
void prepare_on_root(par::Communicator& world, const BatchOptions& options, const JobChecker& check_job,
                     const std::string& journal_path, RootState& root) {
  check_options(options);
  const std::vector<BatchJob> jobs = load_checked_jobs(options, check_job);
  // The summary is written after every job: a folder it cannot go to is found now, not then.
  paths::require_creatable_folder(
      fs::path(summary_base_path(options)).parent_path().string(),
      options.summary_dir.empty() ? "the summary folder (the manifest's; --summary-dir)" : "--summary-dir");
  root.journal.emplace(journal_path);
  root.scheduler.emplace(jobs, options.retries);
  const int skipped = options.resume ? skip_verified_jobs(jobs, journal_path, *root.scheduler) : 0;
  const int missing = fail_jobs_with_missing_inputs(jobs, *root.scheduler, *root.journal);
  root.journal->append({{"event", "batch_start"},
                        {"manifest", fs::absolute(options.manifest).string()},
                        {"jobs", jobs.size()},
                        {"skipped", skipped},
                        {"missing_inputs", missing},
                        {"resume", options.resume},
                        {"shard", shard_text(options)},
                        {"ranks", world.size()}});
  spdlog::info("batch: {} job(s) in {}{}, {} already done (verified), {} with a missing input, journal {}", jobs.size(),
               options.manifest, options.shard_count > 1 ? " (shard " + shard_text(options) + ")" : std::string(),
               skipped, missing, journal_path);
}

struct Groups {
  std::unique_ptr<par::Communicator> group;     // the ranks this rank runs jobs with
  std::unique_ptr<par::Communicator> dispatch;  // the dispatcher's messages, apart from the jobs'
  bool root_works = false;                      // rank 0 runs jobs too (from a second thread)
  bool works = false;                           // this rank runs jobs
  int count = 0;
};

// 2. Groups. With MPI_THREAD_MULTIPLE (or one rank) rank 0 works in a group and dispatches from
// a thread; otherwise rank 0 only dispatches.
Groups form_groups(par::Communicator& world, const BatchOptions& options) {
  Groups g;
  g.root_works = world.size() == 1 || world.thread_safe();
  const int group_size = options.group_size > 0 ? options.group_size : world.local_size();
  int local_index = world.local_rank();
  if (!g.root_works && world.node_leader() == 0) local_index -= 1;  // rank 0 is local rank 0 of its node
  int color = std::numeric_limits<int>::max();
  if (world.rank() != 0 || g.root_works) {
    const int64_t c = world.node_leader() + static_cast<int64_t>(world.size()) * (local_index / group_size);
    if (c >= std::numeric_limits<int>::max()) fail_runtime("batch: too many groups");
    color = static_cast<int>(c);
  }
  g.group = world.split(color, world.rank());
  g.dispatch = world.size() == 1 ? par::make_serial_communicator() : world.duplicate();
  g.works = world.rank() != 0 || g.root_works;
  const bool leader = g.works && g.group->rank() == 0;
  g.count = static_cast<int>(world.allreduce_sum(leader ? 1 : 0));
  if (world.is_root())
    spdlog::info("batch: {} group(s) of up to {} rank(s); rank 0 {}", g.count, group_size,
                 g.root_works ? "dispatches from a thread and works in a group" : "only dispatches");
  return g;
}

// 3. Dispatch and work. A failure outside a job cannot be agreed on (the other ranks are inside
// the dispatch protocol), so it ends every rank. So does a group that never answered after its job's
// time limit (batch/group_watch.hpp): its ranks are stuck and would hold the batch's end for ever;
// `stuck_end` writes the summary first.
void dispatch_and_work(par::Communicator& world, Groups& g, RootState& root, const BatchOptions& options,
                       const JobRunner& run_job, const std::function<void()>& stuck_end) {
  if (!world.is_root()) {
    if (g.works) detail::worker_loop(*g.group, *g.dispatch, run_job);
    return;
  }
  auto dispatcher = [&] {
    try {
      const int stuck = detail::dispatch_loop(*g.dispatch, *root.scheduler, *root.journal, g.count, options.retries);
      if (stuck > 0) {
        stuck_end();
        spdlog::error("batch: {} group(s) never answered after their job's time limit: ending every rank (exit 3)",
                      stuck);
        par::abort_all(static_cast<int>(ExitCode::kRuntime));
      }
    } catch (const std::exception& e) {
      spdlog::error("batch dispatcher: {}", e.what());
      par::abort_all(static_cast<int>(ExitCode::kRuntime));
    }
  };
  if (!g.works) {
    dispatcher();
    return;
  }
  std::thread t(dispatcher);
  try {
    detail::worker_loop(*g.group, *g.dispatch, run_job);
  } catch (...) {
    spdlog::error("batch: worker on rank 0 failed outside a job");
    par::abort_all(static_cast<int>(ExitCode::kRuntime));
  }
  t.join();
}

// The counts and the exit code: 3 when drained early or when a job failed at run time, 2 when
// jobs failed only on bad input.
void count_outcomes(const std::vector<JobRecord>& records, BatchReport& report) {
  for (const JobRecord& r : records) {
    switch (r.status) {
      case JobStatus::kDone:
        ++report.done;
        break;
      case JobStatus::kFailed:
        ++report.failed;
        break;
      case JobStatus::kSkipped:
        ++report.skipped;
        break;
      default:
        ++report.not_run;
        break;
    }
  }
  report.interrupted = drain_requested() && report.not_run > 0;
  bool runtime_failure = false;
  for (const JobRecord& r : records)
    if (r.status == JobStatus::kFailed && r.result.exit_code != static_cast<int>(ExitCode::kBadInput))
      runtime_failure = true;
  if (report.interrupted || runtime_failure)
    report.exit_code = static_cast<int>(ExitCode::kRuntime);
  else if (report.failed > 0)
    report.exit_code = static_cast<int>(ExitCode::kBadInput);
}

void log_outcome(const BatchReport& report, const std::vector<JobRecord>& records, double wall_seconds,
                 const std::string& summary_base) {
  spdlog::info(
      "batch: {} done, {} failed, {} skipped (done earlier), {} not run in {:.1f} s ({:.1f} jobs/hour); "
      "summary {}, index page {}.index.html",
      report.done, report.failed, report.skipped, report.not_run, wall_seconds,
      wall_seconds > 0 ? report.done * 3600.0 / wall_seconds : 0.0, report.summary_json, summary_base);
  for (const JobRecord& r : records)
    if (r.status == JobStatus::kFailed)
      spdlog::warn("batch: failed: {} (exit {}): {}", r.job.id, r.result.exit_code, r.result.error);
  if (report.interrupted)
    spdlog::warn("batch: stopped by a signal with {} job(s) not run: rerun with --resume to continue", report.not_run);
}

// What --resume will run: every job neither done nor skipped (failed, abandoned, not run).
std::vector<std::string> ids_to_redo(const std::vector<JobRecord>& records) {
  std::vector<std::string> ids;
  for (const JobRecord& r : records)
    if (r.status != JobStatus::kDone && r.status != JobStatus::kSkipped) ids.push_back(r.job.id);
  return ids;
}

// 4. Rank 0: counts, summary files, journal's last record, log lines. Releases the journal's lock.
void summarise_on_root(par::Communicator& world, const BatchOptions& options, RootState& root, int groups,
                       const std::string& started_iso, double t_start, BatchReport& report) {
  const std::vector<JobRecord>& records = root.scheduler->records();
  count_outcomes(records, report);
  SummaryTotals t;
  t.manifest = fs::absolute(options.manifest).string();
  t.journal = report.journal;
  t.started = started_iso;
  t.finished = utc_now_iso();
  t.wall_seconds = now_seconds() - t_start;
  t.ranks = world.size();
  t.groups = groups;
  t.shard = shard_text(options);
  t.interrupted = report.interrupted;
  t.exit_code = report.exit_code;
  try {
    std::tie(report.summary_json, report.summary_csv) = write_summary(summary_base_path(options), t, records);
  } catch (const std::exception& e) {
    spdlog::error("batch: {}", e.what());
    report.exit_code = static_cast<int>(ExitCode::kRuntime);
  }
  root.journal->append({{"event", "batch_end"},
                        {"done", report.done},
                        {"failed", report.failed},
                        {"skipped", report.skipped},
                        {"not_run", report.not_run},
                        {"interrupted", report.interrupted},
                        {"redo", ids_to_redo(records)},
                        {"wall_seconds", t.wall_seconds}});
  log_outcome(report, records, t.wall_seconds, summary_base_path(options));
  root.journal.reset();  // releases the lock
}

// Every rank learns rank 0's report.
void share_report(par::Communicator& world, BatchReport& report) {
  std::string text;
  if (world.is_root())
    text =
        nlohmann::json{
            {"done", report.done},         {"failed", report.failed},           {"skipped", report.skipped},
            {"not_run", report.not_run},   {"interrupted", report.interrupted}, {"exit_code", report.exit_code},
            {"json", report.summary_json}, {"csv", report.summary_csv}}
            .dump();
  world.broadcast(text, 0);
  const nlohmann::json o = nlohmann::json::parse(text);
  report.done = o["done"];
  report.failed = o["failed"];
  report.skipped = o["skipped"];
  report.not_run = o["not_run"];
  report.interrupted = o["interrupted"];
  report.exit_code = o["exit_code"];
  report.summary_json = o["json"];
  report.summary_csv = o["csv"];
}

}  // namespace

std::string default_journal_path(const BatchOptions& o) {
  if (!o.journal.empty()) return o.journal;
  fs::path m = fs::absolute(o.manifest);
  return (m.parent_path() / (m.stem().string() + shard_suffix(o) + ".journal.jsonl")).string();
}

std::string summary_base_path(const BatchOptions& o) {
  fs::path m = fs::absolute(o.manifest);
  fs::path dir = o.summary_dir.empty() ? m.parent_path() : fs::path(o.summary_dir);
  return (dir / (m.stem().string() + shard_suffix(o))).string();
}

BatchReport run_batch(par::Communicator& world, const BatchOptions& options, const JobRunner& run_job,
                      const JobChecker& check_job) {
  const double t_start = now_seconds();
  const std::string started_iso = utc_now_iso();
  RootState root;
  BatchReport report;
  report.journal = default_journal_path(options);
  // Manifest problems end every rank with the same exit code before any group is formed.
  par::on_root_then_broadcast(world, "batch setup", [&] {
    prepare_on_root(world, options, check_job, report.journal, root);
    return std::string();
  });
  Groups groups = form_groups(world, options);
  auto summarise = [&] { summarise_on_root(world, options, root, groups.count, started_iso, t_start, report); };
  dispatch_and_work(world, groups, root, options, run_job, summarise);
  if (world.is_root()) summarise();
  share_report(world, report);
  return report;
}

}  // namespace alinify::batch
