// The dispatcher (world rank 0): answers group leaders with the next job, largest first; journals
// every start and result; stops handing out jobs when a stop was requested.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

#include "alinify/batch/group_watch.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
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

namespace {

// The dispatcher's state between messages.
struct Dispatch {
  par::Communicator& comm;
  Scheduler& scheduler;
  Journal& journal;
  GroupWatch watch;
  std::deque<int> waiting;  // leaders (world ranks) waiting for an answer
  int active = 0;           // groups not yet told to stop (nor retired)
  bool stopping = false, abandoning = false;
};

void record_result(Dispatch& d, int source, const nlohmann::json& j) {
  const int index = j.at("index").get<int>();
  const JobResult res = job_result_from_json(j.at("result"));
  d.watch.answered(index);
  const bool interrupted = !res.ok && drain_requested();
  const bool abandoned = interrupted && abandon_requested();
  const bool requeued = d.scheduler.finish(index, res, interrupted, abandoned);
  const JobRecord& r = d.scheduler.record(index);
  journal_result(d.journal, r, res, requeued, interrupted, abandoned);
  if (res.ok)
    spdlog::info("batch: job {} done in {:.1f} s by group {} ({} running, {} waiting)", r.job.id, res.seconds, source,
                 d.scheduler.running(), d.scheduler.has_waiting() ? "jobs" : "no jobs");
  else
    spdlog::warn("batch: job {} failed (exit {}){}: {}", r.job.id, res.exit_code, requeued ? ", will retry" : "",
                 res.error);
}

// One message from a group leader: its flags, its result, and it waits for an answer.
void take_message(Dispatch& d, const par::Message& m) {
  if (d.watch.retired(m.source)) {
    // Its job was failed when it stopped answering: it is only told to stop.
    d.watch.released(m.source);
    d.comm.send(nlohmann::json{{"type", "stop"}}.dump(), m.source, kTagToGroup);
    spdlog::warn("batch: retired group {} answered after all; told to stop", m.source);
    return;
  }
  const nlohmann::json j = nlohmann::json::parse(m.text);
  // A group's rank saw the signal: the stop is the whole batch's (an abandon also ends the job of
  // rank 0's group). Journaled before the result, which it may explain.
  if (j.value("stop", false)) request_drain();
  if (j.value("abandon", false) && !abandon_requested()) request_abandon();
  note_stop(d.journal, d.scheduler, d.stopping, d.abandoning);
  if (j.at("type") == "result") record_result(d, m.source, j);
  d.waiting.push_back(m.source);
}

// Jobs whose group did not report by their limit + grace: failed (exit 3), the group retired.
void retire_silent_groups(Dispatch& d) {
  for (const auto& [index, leader] : d.watch.overdue(now_seconds())) {
    JobResult res;
    res.exit_code = static_cast<int>(ExitCode::kRuntime);
    const double limit = d.scheduler.record(index).job.timeout_seconds;
    res.error = fmt::format(
        "the job ran past its time limit of {} s (--job-timeout) and its group (rank {}) did not answer within {} s "
        "more: the group is retired, its ranks are ended with the batch",
        limit, leader, retire_grace_seconds(limit));
    const bool requeued = d.scheduler.finish(index, res, false);
    journal_result(d.journal, d.scheduler.record(index), res, requeued, false, false);
    spdlog::error("batch: job {}: {}", d.scheduler.record(index).job.id, res.error);
    d.watch.retire(leader);
    --d.active;
  }
}

// Answers the waiting leaders: a job each, or "stop". Returns whether any was answered.
bool answer_waiting(Dispatch& d, int retries) {
  bool answered = false;
  while (!d.waiting.empty()) {
    const int leader = d.waiting.front();
    if (auto index = d.scheduler.next(leader)) {
      const JobRecord& r = d.scheduler.record(*index);
      d.journal.append({{"event", "started"},
                        {"id", r.job.id},
                        {"index", r.job.index},
                        {"attempt", r.attempts},
                        {"group", leader},
                        {"out", r.job.out}});
      spdlog::info("batch: job {} -> group {} (attempt {})", r.job.id, leader, r.attempts);
      d.watch.started(*index, leader, r.job.timeout_seconds, now_seconds());
      d.comm.send(nlohmann::json{{"type", "job"}, {"job", to_json(r.job)}}.dump(), leader, kTagToGroup);
    } else if (d.scheduler.running() == 0 || d.stopping || retries == 0) {
      // Nothing left for this group (with retries, an idle group waits while a job that may be
      // retried is still running).
      d.comm.send(nlohmann::json{{"type", "stop"}}.dump(), leader, kTagToGroup);
      --d.active;
    } else {
      break;
    }
    d.waiting.pop_front();
    answered = true;
  }
  return answered;
}

}  // namespace

int dispatch_loop(par::Communicator& dispatch, Scheduler& scheduler, Journal& journal, int groups, int retries) {
  Dispatch d{dispatch, scheduler, journal};
  d.active = groups;
  auto pause = std::chrono::microseconds(50);
  while (d.active > 0) {
    bool progressed = false;
    if (auto m = dispatch.try_receive(par::Communicator::kAnySource, kTagToDispatcher)) {
      progressed = true;
      take_message(d, *m);
    }
    note_stop(journal, scheduler, d.stopping, d.abandoning);
    retire_silent_groups(d);
    progressed = answer_waiting(d, retries) || progressed;
    if (progressed) {
      pause = std::chrono::microseconds(50);
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
  }
  return d.watch.hung();
}

}  // namespace alinify::batch::detail
