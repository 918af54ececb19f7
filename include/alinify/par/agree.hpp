#pragma once
// Failure agreement between ranks (docs/architecture.md, "Failure agreement"): a stage either
// succeeds on every rank or every rank stops with the same exit code, and only one rank prints the
// error line. Nothing waits for a rank that has given up, because the agreement is itself the
// collective that ends the stage.
#include <functional>
#include <string>

#include "alinify/par/comm.hpp"

namespace alinify::par {

// Runs `work` on every rank, then agrees on the outcome: returns only when every rank succeeded.
// A failing rank rethrows its own error; the others stop with the worst exit code, quietly. The
// lowest failing rank is the one whose error is printed (the others' are marked reported
// elsewhere). `on_failure_at_root` runs on rank 0 before it throws (e.g. removing a partial output).
// `work` must not call collectives: a rank that throws would never reach them.
// An exception that is not an alinify::Error becomes a runtime failure "<stage>: <what>".
void on_every_rank(Communicator& comm, const std::string& stage, const std::function<void()>& work,
                   const std::function<void()>& on_failure_at_root = {});

// Runs `work` on rank 0 and broadcasts "OK\n<its text>" or "E<code>\n<message>": every rank
// returns the text, or throws with rank 0's exit code (rank 0 its own error, the others quietly).
// Same rule for exceptions that are not an alinify::Error as on_every_rank.
std::string on_root_then_broadcast(Communicator& comm, const std::string& stage,
                                   const std::function<std::string()>& work);

}  // namespace alinify::par
