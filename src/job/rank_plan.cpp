#include "rank_plan.hpp"

namespace alinify::job::detail {

plan::Budget rank_budget(par::Communicator& comm, std::optional<uint64_t> user) {
  return plan::choose_budget(plan::discover_memory(comm.local_size(), user));
}

int agreed_strip_rows(par::Communicator& comm, int my_strip_rows) {
  return static_cast<int>(-comm.allreduce_max(-static_cast<int64_t>(my_strip_rows)));
}

}  // namespace alinify::job::detail
