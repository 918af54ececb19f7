#pragma once
// Runs the elastix executable as a child process (posix_spawn with an argument vector, no shell):
// its crashes and memory stay out of the MPI rank, its log is kept, and a user's own parameter
// files are passed unchanged. The contract (inputs, outputs parsed) is docs/elastix_contract.md.
#include <cstdint>
#include <string>
#include <vector>

namespace alinify::reg {

// `name_or_path` with a slash must be an executable file; otherwise it is searched on PATH.
// Missing: a usage error that says how to install elastix or pass --elastix.
std::string find_executable(const std::string& name_or_path);

struct ElastixJob {
  std::string executable;
  std::string fixed, moving;  // .mhd
  std::vector<std::string> parameter_files;
  std::string out_dir;
  std::string initial_transform;  // optional TransformParameters file (-t0)
  int threads = 0;                // 0: elastix's default
};

struct ElastixResult {
  std::vector<std::string> transform_files;  // TransformParameters.N.txt, one per parameter file
  std::string log_path;                      // out_dir/elastix.log (elastix's own log)
  double seconds = 0;
  uint64_t peak_rss_bytes = 0;  // the child's own peak (wait4)
};

// Throws a runtime error (or bad input when the log shows the images do not overlap) with the
// last lines of elastix's log when elastix fails.
ElastixResult run_elastix(const ElastixJob& job);

// Spawns argv[0] with argv (no shell), stdout and stderr to log_path, in working folder `cwd`
// when given; returns the exit status, or -signal when a signal ended the child.
int spawn_and_wait(const std::vector<std::string>& argv, const std::string& log_path, uint64_t* peak_rss_bytes,
                   const std::string& cwd = "");

}  // namespace alinify::reg
