#pragma once
// One progress display for the whole warp, on rank 0: strips done of total over every rank, MP/s
// and ETA. On a terminal it is one line redrawn in place; otherwise (Slurm logs, pipes) a log
// line every `log_interval` seconds. Other ranks never wait for rank 0: they send a few bytes
// (eager, at most every quarter second) on a communicator of their own, and rank 0 reads whatever
// has arrived between its own blocks.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alinify/par/comm.hpp"

namespace alinify::job {

enum class ProgressMode { kAuto, kLine, kLog, kOff };
// auto|line|log|off (auto: line when rank 0's stderr is a terminal, log otherwise); usage error otherwise.
ProgressMode parse_progress_mode(const std::string& text);

class WarpProgress {
 public:
  // Collective (duplicates `comm`).
  WarpProgress(par::Communicator& comm, ProgressMode mode, int64_t total_strips, int64_t total_pixels,
               double log_interval_seconds = 10);
  ~WarpProgress();
  WarpProgress(const WarpProgress&) = delete;
  WarpProgress& operator=(const WarpProgress&) = delete;

  // After each strip this rank finished.
  void strip_done(int64_t pixels);
  // Rank 0, between its own blocks: takes in what the other ranks sent and redraws.
  void poll();
  // After this rank's last strip (or its failure): other ranks send their final count; rank 0
  // waits until every rank has sent its final count, drawing as they arrive, then prints a summary.
  void finish(bool failed);

 private:
  void send_counts(bool final, bool failed);
  void draw(bool force);

  std::unique_ptr<par::Communicator> comm_;
  ProgressMode mode_;
  int64_t total_strips_, total_pixels_;
  double log_interval_;
  double start_, last_send_ = 0, last_draw_ = 0;
  int64_t my_strips_ = 0, my_pixels_ = 0;
  std::vector<int64_t> strips_, pixels_;  // rank 0: latest counts per rank
  std::vector<bool> final_;
  bool line_open_ = false, finished_ = false;
};

}  // namespace alinify::job

namespace alinify::job {

// Rank 0 while elastix runs (a child process that reports nothing but its log): a thread reads
// the growing elastix.log and shows the parameter file, resolution, iteration and latest metric,
// as a live line or a log line every `log_interval` seconds. Stops when destroyed.
class RegistrationTicker {
 public:
  RegistrationTicker(ProgressMode mode, std::string elastix_log, double log_interval_seconds = 10);
  ~RegistrationTicker();
  RegistrationTicker(const RegistrationTicker&) = delete;
  RegistrationTicker& operator=(const RegistrationTicker&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace alinify::job
