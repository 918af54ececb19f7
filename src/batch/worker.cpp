// A group of ranks: its leader asks the dispatcher for a job, the group runs it, the leader
// checksums the output and reports. A failed job is reported and the group takes the next one.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "alinify/batch/checksum.hpp"
#include "alinify/core/cancel.hpp"
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
  // "" when it went well, else "<R|P><exit code> <message>" (R: reported elsewhere, P: the cause).
  // The code has as many digits as it needs: a stopped job exits 128 + signal.
  std::string mine;
  if (err)
    mine = std::string(err->reported_elsewhere() ? "R" : "P") + std::to_string(static_cast<int>(err->code())) + " " +
           err->what();
  const std::vector<std::string> all = group.gather(mine, 0);
  r.ok = true;
  r.exit_code = 0;
  r.error.clear();
  if (group.rank() == 0) {
    const std::string* cause = nullptr;
    for (const std::string& s : all)
      if (!s.empty() && (!cause || ((*cause)[0] == 'R' && s[0] == 'P'))) cause = &s;
    if (cause) {
      const size_t space = cause->find(' ');
      r.ok = false;
      r.exit_code = std::stoi(cause->substr(1, space - 1));
      r.error = cause->substr(space + 1);
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
      nlohmann::json req{
          {"type", last ? "result" : "ready"}, {"stop", drain_requested()}, {"abandon", abandon_requested()}};
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
      spdlog::info("job {}: {} + {} -> {} on {} rank(s), time limit {}", job.id, job.design, job.scan, job.out,
                   group.size(), job.timeout_seconds > 0 ? fmt::format("{:.0f} s", job.timeout_seconds) : "none");
    // Every rank of the group watches the job's time limit at its safe points (the rank that waits
    // for elastix kills it); the first to pass it fails the job on the whole group.
    if (job.timeout_seconds > 0) cancel::set_deadline(now_seconds() + job.timeout_seconds, job.timeout_seconds);
    last = std::make_pair(job.index, run_one(group, job, run_job));
    cancel::clear_deadline();
  }
}

}  // namespace alinify::batch::detail
