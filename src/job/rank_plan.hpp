#pragma once
// What every stage that works by strips shares (the warp, the refinement): the memory this rank
// may use, and the one strip height all ranks cut the image with.
#include <cstdint>
#include <optional>

#include "alinify/par/comm.hpp"
#include "alinify/plan/memory_budget.hpp"

namespace alinify::job::detail {

// --mem-budget capped by what this node really has, shared among its ranks (plan/memory_budget).
plan::Budget rank_budget(par::Communicator& comm, std::optional<uint64_t> user);

// Collective: budgets can differ slightly between ranks (MemAvailable is read by each), so the
// smallest strip height any rank planned wins and every row belongs to exactly one rank.
int agreed_strip_rows(par::Communicator& comm, int my_strip_rows);

}  // namespace alinify::job::detail
