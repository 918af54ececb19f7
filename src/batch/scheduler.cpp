#include "alinify/batch/scheduler.hpp"

#include <algorithm>
#include <numeric>

#include "alinify/batch/journal.hpp"
#include "alinify/core/error.hpp"

namespace alinify::batch {

const char* status_name(JobStatus s) {
  switch (s) {
    case JobStatus::kPending:
      return "pending";
    case JobStatus::kRunning:
      return "running";
    case JobStatus::kDone:
      return "done";
    case JobStatus::kFailed:
      return "failed";
    case JobStatus::kSkipped:
      return "skipped";
    case JobStatus::kNotRun:
      return "not_run";
  }
  return "?";
}

Scheduler::Scheduler(std::vector<BatchJob> jobs, int retries) : retries_(retries) {
  std::sort(jobs.begin(), jobs.end(), [](const BatchJob& a, const BatchJob& b) { return a.index < b.index; });
  for (BatchJob& j : jobs) records_.push_back(JobRecord{std::move(j)});
  std::vector<int> order(records_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return records_[a].job.input_bytes > records_[b].job.input_bytes; });
  queue_.assign(order.begin(), order.end());
}

JobRecord& Scheduler::record(int index) {
  for (JobRecord& r : records_)
    if (r.job.index == index) return r;
  fail_runtime("batch: no job with index " + std::to_string(index));
}

void Scheduler::skip(int index, const std::string& note) {
  for (size_t p = 0; p < records_.size(); ++p)
    if (records_[p].job.index == index) {
      records_[p].status = JobStatus::kSkipped;
      records_[p].note = note;
      queue_.erase(std::remove(queue_.begin(), queue_.end(), static_cast<int>(p)), queue_.end());
    }
}

void Scheduler::fail_unstarted(int index, const JobResult& r, const std::string& note) {
  JobRecord& rec = record(index);
  rec.status = JobStatus::kFailed;
  rec.result = r;
  rec.note = note;
  rec.finished = utc_now_iso();
  const int p = static_cast<int>(&rec - records_.data());
  queue_.erase(std::remove(queue_.begin(), queue_.end(), p), queue_.end());
}

std::optional<int> Scheduler::next(int group) {
  if (stopped_ || queue_.empty()) return std::nullopt;
  JobRecord& r = records_[queue_.front()];
  queue_.pop_front();
  r.status = JobStatus::kRunning;
  r.group = group;
  r.started = utc_now_iso();
  ++r.attempts;
  ++running_;
  return r.job.index;
}

bool Scheduler::finish(int index, const JobResult& result, bool interrupted, bool abandoned) {
  JobRecord& r = record(index);
  --running_;
  r.result = result;
  r.finished = utc_now_iso();
  if (result.ok) {
    r.status = JobStatus::kDone;
    return false;
  }
  if (abandoned) {
    r.status = JobStatus::kNotRun;
    r.note = "abandoned by the stop: --resume redoes it";
    return false;
  }
  const bool retriable = result.exit_code == static_cast<int>(ExitCode::kRuntime) && !interrupted && !stopped_;
  if (retriable && r.attempts <= retries_) {
    r.status = JobStatus::kPending;
    r.note = "retrying after: " + result.error;
    for (size_t p = 0; p < records_.size(); ++p)
      if (records_[p].job.index == index) queue_.push_back(static_cast<int>(p));
    return true;
  }
  r.status = JobStatus::kFailed;
  if (interrupted) r.note = "interrupted";
  return false;
}

void Scheduler::stop() {
  stopped_ = true;
  for (int p : queue_) {
    records_[p].status = JobStatus::kNotRun;
    if (records_[p].note.empty()) records_[p].note = "batch stopped before this job";
  }
  queue_.clear();
}

}  // namespace alinify::batch
