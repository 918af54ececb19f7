#pragma once
// `alinify batch`: many pairs through the pipeline, dynamically dispatched to groups of ranks, with a
// journal for resuming, fault isolation and a summary (docs/batch.md).
#include <functional>
#include <string>
#include <vector>

#include "alinify/batch/manifest.hpp"
#include "alinify/batch/scheduler.hpp"
#include "alinify/par/comm.hpp"

namespace alinify::batch {

struct BatchOptions {
  std::string manifest;
  int group_size = 0;  // ranks per group; 0: the ranks of one node
  bool resume = false;
  int retries = 0;
  int shard_index = 0, shard_count = 1;
  std::string journal;         // default <manifest dir>/<stem>[.shard-i-of-n].journal.jsonl
  std::string summary_dir;     // default: the manifest's folder
  double job_timeout = -1;     // seconds per job; 0: none; < 0: from the pair's size (batch/timeout.hpp)
  bool strict_inputs = false;  // a missing or unreadable input refuses the whole manifest (exit 2)
};

// Runs one job on every rank of `group` (throws alinify::Error consistently on every rank of the
// group on failure, leaving no output). Returns the result as seen by the group's rank 0; the
// batch adds the output's size and checksum.
using JobRunner = std::function<JobResult(par::Communicator& group, const BatchJob& job)>;
// Checks a job's options before any work (on rank 0); throws alinify::Error with the problems, one
// a line (each is listed with the manifest's line in front).
using JobChecker = std::function<void(const BatchJob& job)>;

struct BatchReport {
  int done = 0, failed = 0, skipped = 0, not_run = 0;
  bool interrupted = false;
  int exit_code = 0;
  std::string summary_json, summary_csv, journal;
};

// Every rank of `world` calls it. Manifest problems end every rank with exit 2 before any work.
BatchReport run_batch(par::Communicator& world, const BatchOptions& options, const JobRunner& run_job,
                      const JobChecker& check_job = {});

// Default journal and summary paths (see BatchOptions).
std::string default_journal_path(const BatchOptions& o);
std::string summary_base_path(const BatchOptions& o);

}  // namespace alinify::batch
