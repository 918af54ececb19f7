#pragma once
// Internals of `alinify batch` shared by the runner, the dispatcher and the workers.
#include <nlohmann/json.hpp>

#include "alinify/batch/drain.hpp"
#include "alinify/batch/journal.hpp"
#include "alinify/batch/runner.hpp"
#include "alinify/batch/scheduler.hpp"
#include "alinify/par/comm.hpp"

namespace alinify::batch::detail {

// Messages on the dispatch communicator (a duplicate of the world): group leaders send requests
// and results to world rank 0; the dispatcher answers with a job or "stop".
constexpr int kTagToDispatcher = 7101;
constexpr int kTagToGroup = 7102;

nlohmann::json to_json(const BatchJob& j);
BatchJob batch_job_from_json(const nlohmann::json& j);
nlohmann::json to_json(const JobResult& r);
JobResult job_result_from_json(const nlohmann::json& j);

// World rank 0: hands out jobs until every group has been told to stop or retired (batch/group_watch.hpp).
// Journals every event. Returns how many retired groups never answered: their ranks are stuck.
int dispatch_loop(par::Communicator& dispatch, Scheduler& scheduler, Journal& journal, int groups, int retries);

// Every rank of a group: asks for jobs (leader), runs them on the group, reports results.
void worker_loop(par::Communicator& group, par::Communicator& dispatch, const JobRunner& run_job);

}  // namespace alinify::batch::detail
