// par/agree.hpp under mpirun at 1, 2 and 3 ranks (part of alinify_mpi_tests): success, a failure on
// rank 0, a failure on the last rank, failures on several ranks; the exit code each rank ends with
// and which rank prints the error line (the one whose error is not marked reported elsewhere).
#include <gtest/gtest.h>

#include <optional>

#include "alinify/core/error.hpp"
#include "alinify/par/agree.hpp"
#include "alinify/par/comm.hpp"
#include "support/errors.hpp"
#include "support/mpi.hpp"

using namespace alinify;

namespace {

using test::error_of;

// How many ranks print an error line.
int64_t reporters(par::Communicator& comm, const std::optional<Error>& e) {
  return comm.allreduce_sum(e && !e->reported_elsewhere() ? 1 : 0);
}

}  // namespace

TEST(AgreeMpi, EveryRankSucceeds) {
  par::Communicator& world = test::world();
  int runs = 0;
  par::on_every_rank(world, "stage", [&] { ++runs; });
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(world.allreduce_sum(runs), world.size());
}

TEST(AgreeMpi, FailureOnRankZero) {
  par::Communicator& world = test::world();
  bool cleaned = false;
  const auto e = error_of([&] {
    par::on_every_rank(
        world, "stage",
        [&] {
          if (world.is_root()) fail_input("a.tif", "not a raster");
        },
        [&] { cleaned = true; });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kBadInput);
  EXPECT_EQ(cleaned, world.is_root());
  if (world.is_root()) {
    EXPECT_STREQ(e->what(), "a.tif: not a raster");
    EXPECT_FALSE(e->reported_elsewhere());
  } else {
    EXPECT_STREQ(e->what(), "stage failed on another rank");
    EXPECT_TRUE(e->reported_elsewhere());
  }
  EXPECT_EQ(reporters(world, e), 1);
}

TEST(AgreeMpi, FailureOnTheLastRank) {
  par::Communicator& world = test::world();
  const int last = world.size() - 1;
  bool cleaned = false;
  const auto e = error_of([&] {
    par::on_every_rank(
        world, "stage",
        [&] {
          if (world.rank() == last) fail_runtime("disk full");
        },
        [&] { cleaned = true; });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kRuntime);
  EXPECT_EQ(cleaned, world.is_root());  // rank 0 cleans up whoever failed
  EXPECT_EQ(e->reported_elsewhere(), world.rank() != last);
  EXPECT_STREQ(e->what(), world.rank() == last ? "disk full" : "stage failed on another rank");
  EXPECT_EQ(reporters(world, e), 1);
}

TEST(AgreeMpi, SeveralFailuresTheWorstCodeAndTheLowestReporter) {
  par::Communicator& world = test::world();
  // Ranks >= 1 fail (rank 1 with 2, the others with 3); at one rank, rank 0 fails with 2.
  const int first_failing = world.size() == 1 ? 0 : 1;
  const auto e = error_of([&] {
    par::on_every_rank(world, "stage", [&] {
      if (world.rank() == first_failing) fail_input("x", "bad");
      if (world.rank() > first_failing) fail_runtime("broken");
    });
  });
  ASSERT_TRUE(e);
  const int size = world.size();
  if (world.rank() < first_failing)  // did not fail: the worst code of all
    EXPECT_EQ(e->code(), size > 2 ? ExitCode::kRuntime : ExitCode::kBadInput);
  else  // failed: its own code
    EXPECT_EQ(e->code(), world.rank() == first_failing ? ExitCode::kBadInput : ExitCode::kRuntime);
  EXPECT_EQ(e->reported_elsewhere(), world.rank() != first_failing);
  EXPECT_EQ(reporters(world, e), 1);
}

TEST(AgreeMpi, RootTextReachesEveryRank) {
  par::Communicator& world = test::world();
  const std::string text =
      par::on_root_then_broadcast(world, "stage", [&] { return "from " + std::to_string(world.rank()) + "\n"; });
  EXPECT_EQ(text, "from 0\n");
}

TEST(AgreeMpi, RootFailureReachesEveryRankWithItsCode) {
  par::Communicator& world = test::world();
  const auto e = error_of([&] {
    par::on_root_then_broadcast(world, "registration", []() -> std::string { fail_input("s.tif", "no overlap"); });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kBadInput);
  EXPECT_STREQ(e->what(), world.is_root() ? "s.tif: no overlap" : "rank 0 failed in registration: s.tif: no overlap");
  EXPECT_EQ(e->reported_elsewhere(), !world.is_root());
  EXPECT_EQ(reporters(world, e), 1);
}
