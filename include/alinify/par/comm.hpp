#pragma once
// The abstract communicator. MPI lives only in src/par/comm_mpi.cpp; the serial implementation
// serves single-process runs and tests that need no MPI.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace alinify::par {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks on this node (shared-memory split), for device choice and per-node budgets.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual void barrier() = 0;
  // root's text replaces everyone's.
  virtual void broadcast(std::string& text, int root) = 0;
  // Every rank's text, in rank order, on root (empty elsewhere).
  virtual std::vector<std::string> gather(const std::string& text, int root) = 0;
  virtual int64_t allreduce_max(int64_t value) = 0;
  virtual int64_t allreduce_sum(int64_t value) = 0;
  bool is_root() const { return rank() == 0; }
};

std::unique_ptr<Communicator> make_serial_communicator();

// True when this process was started by mpirun/srun (Open MPI, PMIx or Slurm step variables).
bool launched_by_mpi_launcher();
// Initialises MPI (once per process) and returns a communicator over MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv);
// The right one for this process: MPI under a launcher, serial otherwise.
std::unique_ptr<Communicator> make_world_communicator(int* argc, char*** argv);
// Ends MPI cleanly if it was started (no-op otherwise).
void finalize();
// Ends every rank now (used when a rank cannot reach a collective after an error).
[[noreturn]] void abort_all(int code);

}  // namespace alinify::par
