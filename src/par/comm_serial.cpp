#include <cstdlib>

#include "alinify/par/comm.hpp"

namespace alinify::par {
namespace {

class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void barrier() override {}
  void broadcast(std::string&, int) override {}
  std::vector<std::string> gather(const std::string& text, int) override { return {text}; }
  int64_t allreduce_max(int64_t v) override { return v; }
  int64_t allreduce_sum(int64_t v) override { return v; }
};

}  // namespace

std::unique_ptr<Communicator> make_serial_communicator() { return std::make_unique<SerialCommunicator>(); }

bool launched_by_mpi_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

std::unique_ptr<Communicator> make_world_communicator(int* argc, char*** argv) {
  if (launched_by_mpi_launcher()) return make_mpi_communicator(argc, argv);
  return make_serial_communicator();
}

}  // namespace alinify::par
