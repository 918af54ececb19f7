// run_batch: validation and resume on rank 0, groups, the dispatcher, the summary.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/job/batch_summary.hpp"
#include "batch_internal.hpp"

namespace fs = std::filesystem;

namespace alinify::job {
namespace {

std::string shard_suffix(const BatchOptions& o) {
  if (o.shard_count <= 1) return "";
  return ".shard-" + std::to_string(o.shard_index) + "-of-" + std::to_string(o.shard_count);
}

// Rank 0 does `work`; every rank returns normally or throws the same exit code.
void on_root_agreed(par::Communicator& world, const std::function<void()>& work) {
  std::string message = "OK";
  std::optional<Error> mine;
  if (world.is_root()) {
    try {
      work();
    } catch (const Error& e) {
      mine = e;
    } catch (const std::exception& e) {
      mine = Error(ExitCode::kRuntime, e.what());
    }
    if (mine) message = "E" + std::to_string(static_cast<int>(mine->code())) + "\n" + mine->what();
  }
  world.broadcast(message, 0);
  if (message == "OK") return;
  if (mine) throw *mine;
  throw Error(static_cast<ExitCode>(std::atoi(message.c_str() + 1)), "batch setup failed on rank 0")
      .mark_reported_elsewhere();
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
  std::optional<Journal> journal;
  std::optional<Scheduler> scheduler;
  BatchReport report;
  report.journal = default_journal_path(options);

  // 1. Rank 0: read and check the whole manifest, open (lock) the journal, find finished work.
  on_root_agreed(world, [&] {
    if (options.shard_count < 1 || options.shard_index < 0 || options.shard_index >= options.shard_count)
      fail_usage("--shard: index out of range");
    if (options.retries < 0) fail_usage("--retries: must be 0 or more");
    if (options.group_size < 0) fail_usage("--group-size: must be positive");
    Manifest m = load_manifest(options.manifest);
    std::vector<BatchJob> jobs = select_shard(m.jobs, options.shard_index, options.shard_count);
    if (check_job)
      for (const BatchJob& j : jobs) {
        try {
          check_job(j);
        } catch (const Error& e) {
          m.problems.push_back(m.path + ":" + std::to_string(j.line) + ": " + e.what());
        }
      }
    if (!m.problems.empty()) {
      std::string text = options.manifest + ": " + std::to_string(m.problems.size()) +
                         (m.problems.size() == 1 ? " problem" : " problems") + ", no job was started:";
      for (const std::string& p : m.problems) text += "\n  " + p;
      throw Error(ExitCode::kBadInput, text);
    }
    journal.emplace(report.journal);
    scheduler.emplace(jobs, options.retries);
    int skipped = 0;
    if (options.resume) {
      const auto done = read_done_records(report.journal);
      for (const BatchJob& j : jobs) {
        auto it = done.find(j.id);
        if (it == done.end()) continue;
        if (it->second.out != j.out) {
          spdlog::warn("batch: job {} was done with output {}, the manifest now says {}: redoing it", j.id,
                       it->second.out, j.out);
          continue;
        }
        const std::string why = verify_output(it->second);
        if (why.empty()) {
          scheduler->skip(j.index, "output verified from an earlier run");
          // The summary keeps what the earlier run measured.
          JobRecord& rec = scheduler->record(j.index);
          const nlohmann::json& d = it->second.record;
          rec.result.out_size = it->second.size;
          rec.result.xxh64 = it->second.xxh64;
          rec.result.seconds = d.value("seconds", 0.0);
          rec.result.register_seconds = d.value("register_seconds", 0.0);
          rec.result.warp_seconds = d.value("warp_seconds", 0.0);
          rec.result.registration_factor = d.value("registration_factor", 0);
          rec.finished = d.value("time", std::string());
          rec.attempts = d.value("attempt", 0);
          rec.group = d.value("group", -1);
          ++skipped;
        } else {
          spdlog::warn("batch: job {} was recorded done but {}: redoing it", j.id, why);
        }
      }
    }
    journal->append({{"event", "batch_start"},
                     {"manifest", fs::absolute(options.manifest).string()},
                     {"jobs", jobs.size()},
                     {"skipped", skipped},
                     {"resume", options.resume},
                     {"shard", std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count)},
                     {"ranks", world.size()}});
    spdlog::info("batch: {} job(s) in {}{}, {} already done (verified), journal {}", jobs.size(), options.manifest,
                 options.shard_count > 1 ? " (shard " + std::to_string(options.shard_index) + "/" +
                                               std::to_string(options.shard_count) + ")"
                                         : std::string(),
                 skipped, report.journal);
  });

  // 2. Groups. With MPI_THREAD_MULTIPLE (or one rank) rank 0 works in a group and dispatches from
  // a thread; otherwise rank 0 only dispatches.
  const bool root_works = world.size() == 1 || world.thread_safe();
  const int group_size = options.group_size > 0 ? options.group_size : world.local_size();
  int local_index = world.local_rank();
  if (!root_works && world.node_leader() == 0) local_index -= 1;  // rank 0 is local rank 0 of its node
  int color = std::numeric_limits<int>::max();
  if (world.rank() != 0 || root_works) {
    const int64_t c = world.node_leader() + static_cast<int64_t>(world.size()) * (local_index / group_size);
    if (c >= std::numeric_limits<int>::max()) fail_runtime("batch: too many groups");
    color = static_cast<int>(c);
  }
  std::unique_ptr<par::Communicator> group = world.split(color, world.rank());
  std::unique_ptr<par::Communicator> dispatch =
      world.size() == 1 ? par::make_serial_communicator() : world.duplicate();
  const bool works = world.rank() != 0 || root_works;
  const bool leader = works && group->rank() == 0;
  const int groups = static_cast<int>(world.allreduce_sum(leader ? 1 : 0));
  if (world.is_root())
    spdlog::info("batch: {} group(s) of up to {} rank(s); rank 0 {}", groups, group_size,
                 root_works ? "dispatches from a thread and works in a group" : "only dispatches");

  // 3. Dispatch and work.
  if (world.is_root()) {
    auto dispatcher = [&] {
      try {
        detail::dispatch_loop(*dispatch, *scheduler, *journal, groups, options.retries);
      } catch (const std::exception& e) {
        spdlog::error("batch dispatcher: {}", e.what());
        par::abort_all(static_cast<int>(ExitCode::kRuntime));
      }
    };
    if (works) {
      std::thread t(dispatcher);
      try {
        detail::worker_loop(*group, *dispatch, run_job);
      } catch (...) {
        spdlog::error("batch: worker on rank 0 failed outside a job");
        par::abort_all(static_cast<int>(ExitCode::kRuntime));
      }
      t.join();
    } else {
      dispatcher();
    }
  } else if (works) {
    detail::worker_loop(*group, *dispatch, run_job);
  }

  // 4. Summary (rank 0), then every rank learns the outcome.
  std::string outcome;
  if (world.is_root()) {
    for (const JobRecord& r : scheduler->records()) {
      switch (r.status) {
        case JobStatus::kDone: ++report.done; break;
        case JobStatus::kFailed: ++report.failed; break;
        case JobStatus::kSkipped: ++report.skipped; break;
        default: ++report.not_run; break;
      }
    }
    report.interrupted = stop_requested() && report.not_run > 0;
    bool runtime_failure = false;
    for (const JobRecord& r : scheduler->records())
      if (r.status == JobStatus::kFailed && r.result.exit_code != static_cast<int>(ExitCode::kBadInput))
        runtime_failure = true;
    if (report.interrupted || runtime_failure)
      report.exit_code = static_cast<int>(ExitCode::kRuntime);
    else if (report.failed > 0)
      report.exit_code = static_cast<int>(ExitCode::kBadInput);
    SummaryTotals t;
    t.manifest = fs::absolute(options.manifest).string();
    t.journal = report.journal;
    t.started = started_iso;
    t.finished = utc_now_iso();
    t.wall_seconds = now_seconds() - t_start;
    t.ranks = world.size();
    t.groups = groups;
    t.shard = std::to_string(options.shard_index) + "/" + std::to_string(options.shard_count);
    t.interrupted = report.interrupted;
    t.exit_code = report.exit_code;
    try {
      std::tie(report.summary_json, report.summary_csv) =
          write_summary(summary_base_path(options), t, scheduler->records());
    } catch (const std::exception& e) {
      spdlog::error("batch: {}", e.what());
      report.exit_code = static_cast<int>(ExitCode::kRuntime);
    }
    journal->append({{"event", "batch_end"},
                     {"done", report.done},
                     {"failed", report.failed},
                     {"skipped", report.skipped},
                     {"not_run", report.not_run},
                     {"interrupted", report.interrupted},
                     {"wall_seconds", t.wall_seconds}});
    spdlog::info("batch: {} done, {} failed, {} skipped (done earlier), {} not run in {:.1f} s ({:.1f} jobs/hour); "
                 "summary {}, index page {}.index.html",
                 report.done, report.failed, report.skipped, report.not_run, t.wall_seconds,
                 t.wall_seconds > 0 ? report.done * 3600.0 / t.wall_seconds : 0.0, report.summary_json,
                 summary_base_path(options));
    for (const JobRecord& r : scheduler->records())
      if (r.status == JobStatus::kFailed)
        spdlog::warn("batch: failed: {} (exit {}): {}", r.job.id, r.result.exit_code, r.result.error);
    if (report.interrupted)
      spdlog::warn("batch: stopped by a signal with {} job(s) not run: rerun with --resume to continue",
                   report.not_run);
    outcome = nlohmann::json{{"done", report.done},
                             {"failed", report.failed},
                             {"skipped", report.skipped},
                             {"not_run", report.not_run},
                             {"interrupted", report.interrupted},
                             {"exit_code", report.exit_code},
                             {"json", report.summary_json},
                             {"csv", report.summary_csv}}
                  .dump();
    journal.reset();  // releases the lock
  }
  world.broadcast(outcome, 0);
  const nlohmann::json o = nlohmann::json::parse(outcome);
  report.done = o["done"];
  report.failed = o["failed"];
  report.skipped = o["skipped"];
  report.not_run = o["not_run"];
  report.interrupted = o["interrupted"];
  report.exit_code = o["exit_code"];
  report.summary_json = o["json"];
  report.summary_csv = o["csv"];
  return report;
}

}  // namespace alinify::job
