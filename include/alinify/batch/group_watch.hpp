#pragma once
// The dispatcher's watch over groups that stop answering. A job past its time limit is normally
// stopped by its own group (core/cancel's deadline, checked at safe points); a group blocked where
// no check runs (a read that never returns, a rank stopped by SIGSTOP) never reports. Once such a
// job is past its limit plus a grace, the dispatcher fails it and retires the group: no more jobs
// for it, and the batch ends every rank once the others are done (batch/runner.cpp).
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace alinify::batch {

// Seconds a group gets after its job's limit to report before it is retired: 10 s + 10% of the
// limit. Its own stop takes at most the elastix kill (2 s), one warp block and the group's
// agreement; 10 s covers that on a loaded node, the 10% a long job's last block on a slow disk.
double retire_grace_seconds(double limit_seconds);

class GroupWatch {
 public:
  // A job handed to the group led by `leader` at time `now`; limit <= 0: not watched.
  void started(int index, int leader, double limit_seconds, double now);
  void answered(int index);
  // Jobs (index, leader) whose group has not reported by limit + grace; each is returned once.
  std::vector<std::pair<int, int>> overdue(double now);
  void retire(int leader) { retired_.insert(leader); }
  bool retired(int leader) const { return retired_.count(leader) > 0; }
  // A retired group answered after all (it was told to stop): it no longer holds the batch.
  void released(int leader) { retired_.erase(leader); }
  int hung() const { return static_cast<int>(retired_.size()); }

 private:
  struct Watched {
    int leader;
    double give_up_at;
  };
  std::map<int, Watched> running_;  // by job index
  std::set<int> retired_;
};

}  // namespace alinify::batch
