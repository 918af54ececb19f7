#include "alinify/plan/memory_budget.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "alinify/core/resources.hpp"

namespace alinify::plan {
namespace {

std::optional<uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  try {
    uint64_t v = std::stoull(word);
    // cgroup v1 reports "no limit" as a huge page-rounded number.
    if (v >= (uint64_t(1) << 60)) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

std::string join(const std::string& root, const std::string& rel) {
  if (root.empty() || root == "/") return rel;
  return root + rel;
}

// cgroup v2: the limit of our own group and of every parent up to the root; the smallest applies.
std::optional<uint64_t> cgroup_v2_limit(const std::string& root) {
  std::ifstream in(join(root, "/proc/self/cgroup"));
  std::string line, group;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) group = line.substr(3);
  std::optional<uint64_t> best;
  auto take = [&](std::optional<uint64_t> v) {
    if (v && (!best || *v < *best)) best = v;
  };
  take(read_number(join(root, "/sys/fs/cgroup/memory.max")));
  while (!group.empty() && group != "/") {
    take(read_number(join(root, "/sys/fs/cgroup" + group + "/memory.max")));
    group = group.substr(0, group.rfind('/'));
  }
  return best;
}

std::optional<uint64_t> meminfo_available(const std::string& root) {
  std::ifstream in(join(root, "/proc/meminfo"));
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return std::nullopt;
}

std::optional<std::string> getenv_from(const std::map<std::string, std::string>* env, const char* name) {
  if (env) {
    auto it = env->find(name);
    if (it == env->end()) return std::nullopt;
    return it->second;
  }
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

// Slurm gives MiB, possibly with a unit suffix in some versions ("4096M").
std::optional<uint64_t> slurm_mib(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  try {
    size_t pos = 0;
    uint64_t v = std::stoull(*text, &pos);
    char unit = pos < text->size() ? (*text)[pos] : 'M';
    uint64_t mult = unit == 'G' ? (1ull << 30) : unit == 'T' ? (1ull << 40) : unit == 'K' ? 1024 : (1ull << 20);
    if (v == 0) return std::nullopt;  // --mem=0 means "all of the node"
    return v * mult;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

MemorySources discover_memory(int ranks_on_node, std::optional<uint64_t> user_per_rank, const std::string& root,
                              const std::map<std::string, std::string>* env) {
  MemorySources s;
  s.ranks_on_node = ranks_on_node < 1 ? 1 : ranks_on_node;
  s.user_per_rank = user_per_rank;
  s.cgroup_limit = cgroup_v2_limit(root);
  if (!s.cgroup_limit) s.cgroup_limit = read_number(join(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes"));
  s.mem_available = meminfo_available(root);
  if (auto node = slurm_mib(getenv_from(env, "SLURM_MEM_PER_NODE"))) {
    s.slurm_limit = node;
  } else if (auto per_cpu = slurm_mib(getenv_from(env, "SLURM_MEM_PER_CPU"))) {
    uint64_t cpus = 1;
    if (auto c = getenv_from(env, "SLURM_CPUS_ON_NODE"))
      cpus = std::max<uint64_t>(1, std::strtoull(c->c_str(), nullptr, 10));
    s.slurm_limit = *per_cpu * cpus;
  }
  return s;
}

Budget choose_budget(const MemorySources& s) {
  Budget b;
  b.bytes = std::numeric_limits<uint64_t>::max();
  std::ostringstream why;
  auto consider = [&](const std::optional<uint64_t>& v, uint64_t divisor, const char* name) {
    if (!v) return;
    uint64_t per_rank = *v / divisor;
    why << (why.tellp() > 0 ? ", " : "") << name << " " << format_bytes(per_rank);
    if (per_rank < b.bytes) {
      b.bytes = per_rank;
      b.source = name;
    }
  };
  const uint64_t n = static_cast<uint64_t>(s.ranks_on_node);
  consider(s.user_per_rank, 1, "--mem-budget");
  consider(s.cgroup_limit, n, "cgroup");
  consider(s.slurm_limit, n, "slurm");
  consider(s.mem_available, n, "MemAvailable");
  if (b.source.empty()) {  // nothing known: a conservative default rather than "everything"
    b.bytes = uint64_t(2) << 30;
    b.source = "default";
    why << "no limit found, default 2 GiB";
  }
  b.explain = why.str() + " (per rank, " + std::to_string(s.ranks_on_node) + " rank(s) on this node)";
  return b;
}

}  // namespace alinify::plan
