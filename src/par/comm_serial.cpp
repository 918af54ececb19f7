#include <cstdlib>
#include <deque>
#include <mutex>

#include "alinify/core/error.hpp"
#include "alinify/par/comm.hpp"

namespace alinify::par {
namespace {

// One rank. Messages to itself go through a mailbox, so that code written for a dispatcher
// thread and a worker on rank 0 runs unchanged without MPI.
class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  int node_leader() const override { return 0; }
  void barrier() override {}
  void broadcast(std::string&, int) override {}
  std::vector<std::string> gather(const std::string& text, int) override { return {text}; }
  int64_t allreduce_max(int64_t v) override { return v; }
  int64_t allreduce_sum(int64_t v) override { return v; }
  std::unique_ptr<Communicator> split(int, int) override { return std::make_unique<SerialCommunicator>(); }
  std::unique_ptr<Communicator> duplicate() override { return std::make_unique<SerialCommunicator>(); }
  void send(const std::string& text, int dest, int tag) override {
    if (dest != 0) fail_runtime("serial communicator: send to rank " + std::to_string(dest));
    std::lock_guard<std::mutex> lock(mutex_);
    mailbox_.push_back(Message{0, tag, text});
  }
  std::optional<Message> try_receive(int source, int tag) override {
    if (source != 0 && source != kAnySource)
      fail_runtime("serial communicator: receive from " + std::to_string(source));
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = mailbox_.begin(); it != mailbox_.end(); ++it)
      if (it->tag == tag) {
        Message m = std::move(*it);
        mailbox_.erase(it);
        return m;
      }
    return std::nullopt;
  }
  bool thread_safe() const override { return true; }

 private:
  std::mutex mutex_;
  std::deque<Message> mailbox_;
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
