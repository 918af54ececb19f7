// A group of ranks: its leader asks the dispatcher for a job, the group runs it, the leader
// checksums the output and reports. A failed job is reported and the group takes the next one.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "alinify/batch/checksum.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "internal.hpp"

namespace alinify::batch::detail {
namespace {

JobResult run_one(par::Communicator& group, const BatchJob& job, const JobRunner& run_job) {
  const double t0 = now_seconds();
  JobResult r;
  std::optional<Error> err;
  try {
    r = run_job(group, job);
  } catch (const Error& e) {
    err = e;
  } catch (const std::exception& e) {
    err = Error(ExitCode::kRuntime, e.what());
  }
  // The pipeline fails on every rank of the group together; the rank that saw the cause has the
  // message. Collect it on the leader.
  std::string mine = "0";
  if (err) mine = std::to_string(static_cast<int>(err->code())) + (err->reported_elsewhere() ? "R" : "P") + err->what();
  const std::vector<std::string> all = group.gather(mine, 0);
  r.ok = true;
  r.exit_code = 0;
  r.error.clear();
  if (group.rank() == 0) {
    const std::string* cause = nullptr;
    for (const std::string& s : all)
      if (s != "0" && (!cause || ((*cause)[1] == 'R' && s[1] == 'P'))) cause = &s;
    if (cause) {
      r.ok = false;
      r.exit_code = (*cause)[0] - '0';
      r.error = cause->substr(2);
    } else {
      try {
        r.out_size = std::filesystem::file_size(job.out);
        r.xxh64 = hex64(xxh64_file(job.out));
      } catch (const std::exception& e) {
        r.ok = false;
        r.exit_code = static_cast<int>(ExitCode::kRuntime);
        r.error = std::string("checksum of the output: ") + e.what();
      }
    }
    r.seconds = now_seconds() - t0;
    if (!r.ok) spdlog::error("job {} failed (exit {}): {}", job.id, r.exit_code, r.error);
  }
  return r;
}

}  // namespace

void worker_loop(par::Communicator& group, par::Communicator& dispatch, const JobRunner& run_job) {
  std::optional<std::pair<int, JobResult>> last;
  for (;;) {
    std::string msg;
    if (group.rank() == 0) {
      nlohmann::json req{{"type", last ? "result" : "ready"}, {"stop", drain_requested()}};
      if (last) {
        req["index"] = last->first;
        req["result"] = to_json(last->second);
      }
      dispatch.send(req.dump(), 0, kTagToDispatcher);
      msg = dispatch.receive(0, kTagToGroup).text;
    }
    group.broadcast(msg, 0);
    const nlohmann::json j = nlohmann::json::parse(msg);
    if (j.at("type") == "stop") return;
    const BatchJob job = batch_job_from_json(j.at("job"));
    if (group.rank() == 0)
      spdlog::info("job {}: {} + {} -> {} on {} rank(s)", job.id, job.design, job.scan, job.out, group.size());
    last = std::make_pair(job.index, run_one(group, job, run_job));
  }
}

}  // namespace alinify::batch::detail
