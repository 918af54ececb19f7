#include "alinify/par/agree.hpp"

#include <cstdlib>
#include <optional>

#include "alinify/core/error.hpp"

namespace alinify::par {
namespace {

// The error `work` ended with, or nothing.
std::optional<Error> attempt(const std::string& stage, const std::function<void()>& work) {
  try {
    work();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    return Error(ExitCode::kRuntime, stage + ": " + e.what());
  }
  return std::nullopt;
}

}  // namespace

void on_every_rank(Communicator& comm, const std::string& stage, const std::function<void()>& work,
                   const std::function<void()>& on_failure_at_root) {
  std::optional<Error> mine = attempt(stage, work);
  const int code = mine ? static_cast<int>(mine->code()) : 0;
  const int64_t worst = comm.allreduce_max(code);
  if (worst == 0) return;
  // The lowest failing rank prints the error line; the same failure on other ranks stays quiet.
  const int reporter = comm.size() - static_cast<int>(comm.allreduce_max(mine ? comm.size() - comm.rank() : 0));
  if (comm.is_root() && on_failure_at_root) on_failure_at_root();
  if (mine) {
    if (comm.rank() != reporter) mine->mark_reported_elsewhere();
    throw *mine;
  }
  throw Error(static_cast<ExitCode>(worst), stage + " failed on another rank").mark_reported_elsewhere();
}

std::string on_root_then_broadcast(Communicator& comm, const std::string& stage,
                                   const std::function<std::string()>& work) {
  std::string message;
  std::optional<Error> mine;
  if (comm.is_root()) {
    mine = attempt(stage, [&] { message = "OK\n" + work(); });
    if (mine) message = "E" + std::to_string(static_cast<int>(mine->code())) + "\n" + mine->what();
  }
  comm.broadcast(message, 0);
  if (message.rfind("OK\n", 0) == 0) return message.substr(3);
  if (mine) throw *mine;
  const int code = std::atoi(message.c_str() + 1);
  const std::string what = message.substr(message.find('\n') + 1);
  throw Error(static_cast<ExitCode>(code), "rank 0 failed in " + stage + ": " + what).mark_reported_elsewhere();
}

}  // namespace alinify::par
