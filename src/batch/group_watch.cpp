#include "alinify/batch/group_watch.hpp"

namespace alinify::batch {

double retire_grace_seconds(double limit_seconds) { return 10 + 0.1 * limit_seconds; }

void GroupWatch::started(int index, int leader, double limit_seconds, double now) {
  if (limit_seconds <= 0) return;
  running_[index] = {leader, now + limit_seconds + retire_grace_seconds(limit_seconds)};
}

void GroupWatch::answered(int index) { running_.erase(index); }

std::vector<std::pair<int, int>> GroupWatch::overdue(double now) {
  std::vector<std::pair<int, int>> out;
  for (auto it = running_.begin(); it != running_.end();) {
    if (now > it->second.give_up_at) {
      out.emplace_back(it->first, it->second.leader);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace alinify::batch
