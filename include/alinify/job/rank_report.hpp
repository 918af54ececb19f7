#pragma once
// What each rank tells rank 0 after the warp: where it ran (host, place on its node, the memory
// budget it planned with there), its strips, where its time went, its peak memory.
// One writer and one reader of the message a rank sends, so the two cannot drift apart.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "alinify/warp/backend.hpp"

namespace alinify::job {

struct RankReport {
  int rank = 0;
  std::string host;           // gethostname() of the rank's node
  int local_rank = 0;         // its place among the ranks of its node (MPI shared memory)
  int local_size = 1;         // the ranks of its node
  uint64_t budget_bytes = 0;  // its memory budget, from what its own node has (plan/memory_budget)
  int64_t strips = 0;
  double read_seconds = 0, warp_seconds = 0, write_seconds = 0;
  uint64_t peak_rss_bytes = 0;
  uint64_t elastix_peak_rss_bytes = 0;  // the largest child process (0: none ran on this rank)
  warp::DeviceTimes device;             // a device backend's own split of warp_seconds
};

// The message (JSON text; doubles round-trip exactly) and its reader, which throws on a message
// that lacks a field.
std::string to_message(const RankReport& report);
RankReport rank_report_from_message(const std::string& message);

// The rank's entry of metrics.json's "ranks" (device_seconds only when the device measured them).
nlohmann::json to_metrics(const RankReport& report);

// Rank 0's log line for one rank.
void log_rank_report(const RankReport& report);

}  // namespace alinify::job
