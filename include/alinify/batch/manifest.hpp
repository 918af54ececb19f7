#pragma once
// The batch manifest: one job per row, CSV with a header or JSON Lines (docs/batch.md).
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

namespace alinify::batch {

struct BatchJob {
  int index = 0;  // position in the manifest (0-based), the order of shards and reports
  int line = 0;   // line of the manifest that defines it (1-based), for messages
  std::string id;
  std::string design, scan, out;                 // resolved against the manifest's folder
  std::string transform_out;                     // default: <out without extension>.transform.json
  std::map<std::string, std::string> overrides;  // per-job options (preset, interp, ...)
  uint64_t input_bytes = 0;                      // design + scan file sizes: the largest jobs go first
  double timeout_seconds = -1;                   // the job-timeout column; -1: none given (batch option)
  // "<file>: no such file" when an input is missing, a folder or unreadable: the job fails with exit 2
  // instead of the batch refusing the manifest (unless --strict-inputs). Empty when both are readable.
  std::string input_problem;
};

struct Manifest {
  std::string path;
  std::vector<BatchJob> jobs;
  // Every problem found, one line each ("jobs.csv:4: duplicate id 'a' (first on line 2)").
  std::vector<std::string> problems;
  // The same lines for missing or unreadable inputs (also in each job's input_problem). Not problems
  // of the manifest: an archive has holes, and those jobs fail alone (--strict-inputs: problems).
  std::vector<std::string> input_problems;
};

// Per-job columns a manifest may have besides id, design, scan, out, transform and job-timeout.
const std::vector<std::string>& manifest_override_columns();

// Reads a manifest (.csv: header + rows; .jsonl/.ndjson/.json: one JSON object per line), resolves
// paths against its folder and checks it whole: unknown or missing columns, empty fields, duplicate
// ids, duplicate outputs, outputs that are inputs, a job-timeout that is not a number of seconds;
// missing inputs are listed apart (input_problems). Never throws for problems in the file.
Manifest load_manifest(const std::string& path);
// The same from a stream already open (`path` gives the format by its extension, the folder relative
// paths resolve against, and the name in the problems). Public for the fuzz target
// tests/fuzz/fuzz_manifest.cpp; load_manifest is this on the opened file.
Manifest parse_manifest(std::istream& in, const std::string& path);

// Jobs of shard i of n (0 <= i < n): every n-th job of the manifest, starting at i.
std::vector<BatchJob> select_shard(const std::vector<BatchJob>& jobs, int shard_index, int shard_count);

// "i/n" -> (i, n); throws a usage error.
std::pair<int, int> parse_shard(const std::string& text);

}  // namespace alinify::batch
