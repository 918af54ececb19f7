// Thin main: MPI (through par), logging, and one error line + exit code for any failure.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/log.hpp"
#include "app/cli.hpp"

int main(int argc, char** argv) {
  using alinify::ExitCode;
  // Before MPI starts (its shared-memory files are written then): a write past RLIMIT_FSIZE must
  // fail with EFBIG and be reported, not kill the process by SIGXFSZ.
  alinify::cancel::ignore_file_size_signal();
  std::unique_ptr<alinify::par::Communicator> comm;
  try {
    comm = alinify::par::make_world_communicator(&argc, &argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alinify: error: cannot start MPI: %s\n", e.what());
    return static_cast<int>(ExitCode::kRuntime);
  }
  int code = 0;
  try {
    alinify::log::init(comm->rank(), comm->size(), alinify::app::log_level_from(argc, argv));
    code = alinify::app::run_cli(*comm, argc, argv);
  } catch (const alinify::Error& e) {
    if (!e.reported_elsewhere()) spdlog::error("{}", e.what());
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    code = static_cast<int>(ExitCode::kRuntime);
  }
  spdlog::shutdown();
  comm.reset();
  alinify::par::finalize();
  return code;
}
