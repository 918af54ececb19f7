#include "support/mpi.hpp"

#include <stdexcept>

namespace alinify::test {
namespace {
par::Communicator* g_world = nullptr;
}  // namespace

par::Communicator& world() {
  if (!g_world) throw std::logic_error("test::world() outside alinify_mpi_tests (no MPI test main)");
  return *g_world;
}

void set_world(par::Communicator* comm) { g_world = comm; }

SharedDir::SharedDir(par::Communicator& comm, const std::string& name) : comm_(comm) {
  std::string p;
  if (comm_.is_root()) {
    dir_ = std::make_unique<ScratchDir>(name);
    p = dir_->path().string();
  }
  comm_.broadcast(p, 0);
  path_ = p;
}

SharedDir::~SharedDir() { comm_.barrier(); }

std::string SharedDir::file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

std::optional<std::string> ranks_below(int minimum) {
  const int ranks = world().size();
  if (ranks >= minimum) return std::nullopt;
  return "needs at least " + std::to_string(minimum) + " ranks, runs on " + std::to_string(ranks);
}

std::optional<std::string> ranks_other_than(int exact) {
  const int ranks = world().size();
  if (ranks == exact) return std::nullopt;
  return "needs exactly " + std::to_string(exact) + " ranks, runs on " + std::to_string(ranks);
}

}  // namespace alinify::test
