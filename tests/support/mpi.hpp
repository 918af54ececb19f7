#pragma once
// For the tests of alinify_mpi_tests, which mpirun starts at 1, 2 and 3 ranks (tests/mpi/main.cpp).
#include <memory>
#include <optional>
#include <string>

#include "alinify/par/comm.hpp"
#include "support/files.hpp"

namespace alinify::test {

// The communicator over every rank of the test run.
par::Communicator& world();
void set_world(par::Communicator* comm);

// A scratch folder every rank of comm agrees on: rank 0 makes it, and removes it after every rank
// has left the test (the destructor is collective).
class SharedDir {
 public:
  SharedDir(par::Communicator& comm, const std::string& name);
  ~SharedDir();
  SharedDir(const SharedDir&) = delete;
  SharedDir& operator=(const SharedDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const;

 private:
  par::Communicator& comm_;
  std::unique_ptr<ScratchDir> dir_;  // rank 0 only
  std::string path_;
};

// Rank-count requirements (as GROMACS registers its MPI tests): the reason a test cannot run at
// this many ranks, or nothing when the count fits.
std::optional<std::string> ranks_below(int minimum);
std::optional<std::string> ranks_other_than(int exact);

}  // namespace alinify::test

// A test that needs at least / exactly N ranks says so first; at another count it is skipped with
// the reason (every rank skips alike, so no collective is left waiting).
#define ALINIFY_REQUIRE_RANKS_AT_LEAST(n) \
  if (const auto alinify_rank_mismatch = ::alinify::test::ranks_below(n)) GTEST_SKIP() << *alinify_rank_mismatch
#define ALINIFY_REQUIRE_RANKS_EXACTLY(n) \
  if (const auto alinify_rank_mismatch = ::alinify::test::ranks_other_than(n)) GTEST_SKIP() << *alinify_rank_mismatch
