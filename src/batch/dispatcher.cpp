// The dispatcher (world rank 0): answers group leaders with the next job, largest first; journals
// every start and result; stops handing out jobs when a stop was requested.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

#include "internal.hpp"

namespace alinify::batch::detail {
namespace {

void journal_result(Journal& journal, const JobRecord& r, const JobResult& res, bool requeued, bool interrupted,
                    bool abandoned) {
  if (res.ok) {
    journal.append({{"event", "done"},
                    {"id", r.job.id},
                    {"index", r.job.index},
                    {"attempt", r.attempts},
                    {"group", r.group},
                    {"out", r.job.out},
                    {"size", res.out_size},
                    {"xxh64", res.xxh64},
                    {"seconds", res.seconds},
                    {"register_seconds", res.register_seconds},
                    {"warp_seconds", res.warp_seconds},
                    {"registration_factor", res.registration_factor}});
  } else {
    journal.append({{"event", "failed"},
                    {"id", r.job.id},
                    {"index", r.job.index},
                    {"attempt", r.attempts},
                    {"group", r.group},
                    {"exit_code", res.exit_code},
                    {"error", res.error},
                    {"seconds", res.seconds},
                    {"interrupted", interrupted},
                    {"abandoned", abandoned},
                    {"will_retry", requeued}});
  }
}

std::vector<std::string> running_ids(const Scheduler& scheduler) {
  std::vector<std::string> ids;
  for (const JobRecord& r : scheduler.records())
    if (r.status == JobStatus::kRunning) ids.push_back(r.job.id);
  return ids;
}

// The first stop: no new jobs. When it (or a second signal) abandons the running jobs, one more
// record names them: they end at their next safe point and --resume redoes them.
void note_stop(Journal& journal, Scheduler& scheduler, bool& stopping, bool& abandoning) {
  if (drain_requested() && !stopping) {
    stopping = true;
    spdlog::warn("batch: stop requested (signal): no new jobs; {} running job(s) finish first", scheduler.running());
    journal.append({{"event", "stop_requested"}, {"running", scheduler.running()}, {"jobs", running_ids(scheduler)}});
    scheduler.stop();
  }
  if (abandon_requested() && !abandoning) {
    abandoning = true;
    spdlog::warn("batch: abandoning {} running job(s) (second stop signal or --on-stop abandon): --resume redoes them",
                 scheduler.running());
    journal.append(
        {{"event", "abandon_requested"}, {"running", scheduler.running()}, {"redo", running_ids(scheduler)}});
  }
}

}  // namespace

void dispatch_loop(par::Communicator& dispatch, Scheduler& scheduler, Journal& journal, int groups, int retries) {
  std::deque<int> waiting;  // leaders (world ranks) waiting for an answer
  int active = groups;
  bool stopping = false, abandoning = false;
  auto pause = std::chrono::microseconds(50);
  while (active > 0) {
    bool progressed = false;
    if (auto m = dispatch.try_receive(par::Communicator::kAnySource, kTagToDispatcher)) {
      progressed = true;
      const nlohmann::json j = nlohmann::json::parse(m->text);
      // A group's rank saw the signal: the stop is the whole batch's (an abandon also ends the job
      // of rank 0's group). Journaled before the result, which it may explain.
      if (j.value("stop", false)) request_drain();
      if (j.value("abandon", false) && !abandon_requested()) request_abandon();
      note_stop(journal, scheduler, stopping, abandoning);
      if (j.at("type") == "result") {
        const int index = j.at("index").get<int>();
        const JobResult res = job_result_from_json(j.at("result"));
        const bool interrupted = !res.ok && drain_requested();
        const bool abandoned = interrupted && abandon_requested();
        const bool requeued = scheduler.finish(index, res, interrupted, abandoned);
        const JobRecord& r = scheduler.record(index);
        journal_result(journal, r, res, requeued, interrupted, abandoned);
        if (res.ok)
          spdlog::info("batch: job {} done in {:.1f} s by group {} ({} running, {} waiting)", r.job.id, res.seconds,
                       m->source, scheduler.running(), scheduler.has_waiting() ? "jobs" : "no jobs");
        else
          spdlog::warn("batch: job {} failed (exit {}){}: {}", r.job.id, res.exit_code, requeued ? ", will retry" : "",
                       res.error);
      }
      waiting.push_back(m->source);
    }
    note_stop(journal, scheduler, stopping, abandoning);
    while (!waiting.empty()) {
      const int leader = waiting.front();
      if (auto index = scheduler.next(leader)) {
        const JobRecord& r = scheduler.record(*index);
        journal.append({{"event", "started"},
                        {"id", r.job.id},
                        {"index", r.job.index},
                        {"attempt", r.attempts},
                        {"group", leader},
                        {"out", r.job.out}});
        spdlog::info("batch: job {} -> group {} (attempt {})", r.job.id, leader, r.attempts);
        dispatch.send(nlohmann::json{{"type", "job"}, {"job", to_json(r.job)}}.dump(), leader, kTagToGroup);
      } else if (scheduler.running() == 0 || stopping || retries == 0) {
        // Nothing left for this group (with retries, an idle group waits while a job that may be
        // retried is still running).
        dispatch.send(nlohmann::json{{"type", "stop"}}.dump(), leader, kTagToGroup);
        --active;
      } else {
        break;
      }
      waiting.pop_front();
      progressed = true;
    }
    if (progressed) {
      pause = std::chrono::microseconds(50);
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
  }
}

}  // namespace alinify::batch::detail
