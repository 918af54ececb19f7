#pragma once
// The command line: the only user of Boost.Program_options. Subcommands and flags are the
// contract scripts and docs rely on (docs/cli.md).
#include "alinify/par/comm.hpp"

namespace alinify::app {

// Parses argv and runs the subcommand; returns the exit code. Throws alinify::Error.
int run_cli(par::Communicator& comm, int argc, char** argv);
// Peeks at --log-level before logging is set up (default "info").
std::string log_level_from(int argc, char** argv);

}  // namespace alinify::app
