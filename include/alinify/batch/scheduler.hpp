#pragma once
// The dispatcher's bookkeeping, without any communication: which job goes next, retries, results.
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "alinify/batch/manifest.hpp"

namespace alinify::batch {

enum class JobStatus { kPending, kRunning, kDone, kFailed, kSkipped, kNotRun };
const char* status_name(JobStatus s);

struct JobResult {
  bool ok = false;
  int exit_code = 0;  // 0 ok, 2 bad input, 3 runtime failure
  std::string error;
  double seconds = 0, register_seconds = 0, warp_seconds = 0;
  int registration_factor = 0;
  uint64_t out_size = 0;
  std::string xxh64;
};

struct JobRecord {
  BatchJob job;
  JobStatus status = JobStatus::kPending;
  int attempts = 0;
  int group = -1;                 // world rank of the leader of the group that ran it last
  std::string started, finished;  // UTC ISO times of the last attempt
  JobResult result;
  std::string note;  // "output verified from an earlier run", "interrupted", ...
};

class Scheduler {
 public:
  // `jobs` in any order: handed out largest first (input bytes), ties in manifest order. Jobs in
  // `skipped` (by index) are not run. Runtime failures (exit 3) are retried up to `retries` times.
  Scheduler(std::vector<BatchJob> jobs, int retries);
  void skip(int index, const std::string& note);
  // A job that cannot start (a missing input): failed with `r` without running, not retried.
  void fail_unstarted(int index, const JobResult& r, const std::string& note);
  // The next job to run (marks it running), or none waiting.
  std::optional<int> next(int group);
  // Records a result; a retriable failure goes back to the queue. Returns true when requeued. An
  // abandoned job (a stop that did not wait for it) is "not run": --resume redoes it.
  bool finish(int index, const JobResult& r, bool interrupted, bool abandoned = false);
  // Stop handing out: waiting jobs become "not run".
  void stop();
  bool has_waiting() const { return !queue_.empty(); }
  int running() const { return running_; }
  const std::vector<JobRecord>& records() const { return records_; }  // in manifest order
  JobRecord& record(int index);

 private:
  std::vector<JobRecord> records_;
  std::deque<int> queue_;  // positions in records_
  int retries_ = 0;
  int running_ = 0;
  bool stopped_ = false;
};

}  // namespace alinify::batch
