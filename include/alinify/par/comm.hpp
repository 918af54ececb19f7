#pragma once
// The abstract communicator. MPI lives only in src/par/comm_mpi.cpp; the serial implementation
// serves single-process runs and tests that need no MPI.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace alinify::par {

// A point-to-point message (text payload).
struct Message {
  int source = 0;
  int tag = 0;
  std::string text;
};

class Communicator {
 public:
  static constexpr int kAnySource = -1;

  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks on this node (shared-memory split), for device choice and per-node budgets.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // The lowest rank (of this communicator) on this rank's node: names the node.
  virtual int node_leader() const = 0;
  virtual void barrier() = 0;
  // root's text replaces everyone's.
  virtual void broadcast(std::string& text, int root) = 0;
  // Every rank's text, in rank order, on root (empty elsewhere).
  virtual std::vector<std::string> gather(const std::string& text, int root) = 0;
  virtual int64_t allreduce_max(int64_t value) = 0;
  virtual int64_t allreduce_sum(int64_t value) = 0;

  // Collective: ranks with the same color form a new communicator, ordered by key (then rank).
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;
  // Collective: a new communicator over the same ranks, whose messages never meet this one's.
  virtual std::unique_ptr<Communicator> duplicate() = 0;

  // Point to point. send() returns once the text may be reused (it may wait for the receiver);
  // try_receive() returns a matching message if one has arrived (source may be kAnySource).
  virtual void send(const std::string& text, int dest, int tag) = 0;
  virtual std::optional<Message> try_receive(int source, int tag) = 0;
  // Waits for a matching message, sleeping between polls (no busy spin).
  Message receive(int source, int tag);
  // A send that does not wait for the receiver: the communicator keeps the text until it has gone.
  // Posted sends to one destination with one tag arrive in the order posted (MPI's non-overtaking
  // rule). By default (serial, test doubles) it is send().
  virtual void post(std::string text, int dest, int tag) { send(text, dest, tag); }
  // Waits, sleeping between polls, until at most `bytes` of posted texts have not gone yet.
  virtual void wait_posted(size_t bytes = 0) { (void)bytes; }

  // Whether two threads of this process may use communicators at once (MPI_THREAD_MULTIPLE, or serial).
  virtual bool thread_safe() const = 0;

  bool is_root() const { return rank() == 0; }
};

std::unique_ptr<Communicator> make_serial_communicator();

// True when this process was started by mpirun/srun (Open MPI, PMIx or Slurm step variables).
bool launched_by_mpi_launcher();
// Initialises MPI (once per process, asking for MPI_THREAD_MULTIPLE) and returns a communicator
// over MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv);
// The right one for this process: MPI under a launcher, serial otherwise.
std::unique_ptr<Communicator> make_world_communicator(int* argc, char*** argv);
// Ends MPI cleanly if it was started (no-op otherwise).
void finalize();
// Ends every rank now (used when a rank cannot reach a collective after an error).
[[noreturn]] void abort_all(int code);

}  // namespace alinify::par
