#pragma once
// Where a rank's memory budget comes from: the smallest of what the machine, the cgroup,
// Slurm and the user allow wins. Discovery reads files and the environment; the choice is pure.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace alinify::plan {

struct MemorySources {
  std::optional<uint64_t> cgroup_limit;   // whole job (cgroup v2 memory.max or v1 limit_in_bytes)
  std::optional<uint64_t> slurm_limit;    // whole node's share: SLURM_MEM_PER_NODE or _PER_CPU * CPUs
  std::optional<uint64_t> mem_available;  // /proc/meminfo MemAvailable
  std::optional<uint64_t> user_per_rank;  // --mem-budget
  int ranks_on_node = 1;                  // node-wide limits are shared by this many ranks
};

struct Budget {
  uint64_t bytes = 0;   // per rank
  std::string source;   // which limit won, e.g. "--mem-budget", "cgroup", "slurm", "MemAvailable"
  std::string explain;  // every candidate, for the log
};

// Reads the limits of this process. `root` is the filesystem root (tests pass a fake tree).
MemorySources discover_memory(int ranks_on_node, std::optional<uint64_t> user_per_rank, const std::string& root = "/",
                              const std::map<std::string, std::string>* env = nullptr);

// Pure: the smallest per-rank figure among the sources (node-wide ones divided by ranks_on_node).
Budget choose_budget(const MemorySources& sources);

}  // namespace alinify::plan
