// par/agree.hpp with the serial communicator (one rank: rank 0 is every failing rank and the
// reporter), and with a scripted rank 1 of 2 for the decoding of rank 0's broadcast and of the
// allreduces on a rank that did not fail. The same cases under mpirun: tests/mpi/agree_mpi_test.cpp.
#include "alinify/par/agree.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

#include "alinify/core/error.hpp"
#include "support/errors.hpp"

using namespace alinify;

namespace {

using test::error_of;

// Rank 1 of 2 whose collectives return what rank 0 would have contributed: the text rank 0
// broadcasts, and rank 0's value in every allreduce_max (in the order they are called).
class ScriptedRankOne final : public par::Communicator {
 public:
  ScriptedRankOne(std::string root_text, std::vector<int64_t> root_values)
      : root_text_(std::move(root_text)), root_values_(std::move(root_values)) {}
  int rank() const override { return 1; }
  int size() const override { return 2; }
  int local_rank() const override { return 1; }
  int local_size() const override { return 2; }
  int node_leader() const override { return 0; }
  void barrier() override {}
  void broadcast(std::string& text, int) override { text = root_text_; }
  std::vector<std::string> gather(const std::string&, int) override { return {}; }
  int64_t allreduce_max(int64_t v) override { return std::max(v, root_values_.at(next_++)); }
  int64_t allreduce_sum(int64_t v) override { return v + root_values_.at(next_++); }
  std::unique_ptr<Communicator> split(int, int) override { return nullptr; }
  std::unique_ptr<Communicator> duplicate() override { return nullptr; }
  void send(const std::string&, int, int) override {}
  std::optional<par::Message> try_receive(int, int) override { return std::nullopt; }
  bool thread_safe() const override { return true; }

 private:
  std::string root_text_;
  std::vector<int64_t> root_values_;
  size_t next_ = 0;
};

}  // namespace

TEST(Agree, EveryRankSucceeds) {
  auto comm = par::make_serial_communicator();
  int runs = 0;
  bool cleaned = false;
  par::on_every_rank(
      *comm, "stage", [&] { ++runs; }, [&] { cleaned = true; });
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(cleaned);
}

TEST(Agree, TheFailingRankRethrowsItsOwnErrorAndReportsIt) {
  auto comm = par::make_serial_communicator();
  bool cleaned = false;
  const auto e = error_of([&] {
    par::on_every_rank(
        *comm, "stage", [] { fail_input("a.tif", "not a raster"); }, [&] { cleaned = true; });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kBadInput);
  EXPECT_STREQ(e->what(), "a.tif: not a raster");
  EXPECT_FALSE(e->reported_elsewhere());
  EXPECT_TRUE(cleaned);
}

TEST(Agree, AForeignExceptionIsARuntimeFailureNamingTheStage) {
  auto comm = par::make_serial_communicator();
  const auto e = error_of([&] { par::on_every_rank(*comm, "warp setup", [] { throw std::runtime_error("boom"); }); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kRuntime);
  EXPECT_STREQ(e->what(), "warp setup: boom");
  const auto r = error_of([&] {
    par::on_root_then_broadcast(*comm, "registration", []() -> std::string { throw std::runtime_error("boom"); });
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), ExitCode::kRuntime);
  EXPECT_STREQ(r->what(), "registration: boom");
}

TEST(Agree, ARankThatSucceededStopsQuietlyWithTheWorstCode) {
  // Rank 0 failed with exit 3 (first allreduce); the lowest failing rank is 0 (second allreduce:
  // size - rank = 2).
  ScriptedRankOne comm("", {3, 2});
  bool cleaned = false;
  const auto e = error_of([&] {
    par::on_every_rank(
        comm, "warp", [] {}, [&] { cleaned = true; });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kRuntime);
  EXPECT_STREQ(e->what(), "warp failed on another rank");
  EXPECT_TRUE(e->reported_elsewhere());
  EXPECT_FALSE(cleaned);  // only rank 0 cleans up
}

TEST(Agree, OnlyTheLowestFailingRankReports) {
  // Rank 0 failed too, so rank 1 throws its own error but leaves the error line to rank 0.
  ScriptedRankOne both("", {2, 2});
  const auto e = error_of([&] { par::on_every_rank(both, "warp", [] { fail_runtime("disk full"); }); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kRuntime);
  EXPECT_STREQ(e->what(), "disk full");
  EXPECT_TRUE(e->reported_elsewhere());
  // Rank 0 succeeded: rank 1 is the reporter.
  ScriptedRankOne alone("", {0, 0});
  const auto f = error_of([&] { par::on_every_rank(alone, "warp", [] { fail_runtime("disk full"); }); });
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->reported_elsewhere());
}

TEST(Agree, RootTextReachesEveryRank) {
  auto comm = par::make_serial_communicator();
  EXPECT_EQ(par::on_root_then_broadcast(*comm, "stage", [] { return std::string("a\nb"); }), "a\nb");
  EXPECT_EQ(par::on_root_then_broadcast(*comm, "stage", [] { return std::string(); }), "");
  ScriptedRankOne rank_one("OK\n{\"x\": 1}\n", {});
  bool ran = false;
  EXPECT_EQ(par::on_root_then_broadcast(rank_one, "stage",
                                        [&] {
                                          ran = true;
                                          return std::string("not mine");
                                        }),
            "{\"x\": 1}\n");
  EXPECT_FALSE(ran);  // only rank 0 runs the work
}

TEST(Agree, RootFailureReachesEveryRankWithItsCode) {
  auto comm = par::make_serial_communicator();
  const auto e = error_of([&] {
    par::on_root_then_broadcast(*comm, "registration", []() -> std::string { fail_input("s.tif", "no overlap"); });
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), ExitCode::kBadInput);
  EXPECT_STREQ(e->what(), "s.tif: no overlap");
  EXPECT_FALSE(e->reported_elsewhere());
  ScriptedRankOne rank_one("E2\ns.tif: no overlap\nsecond line", {});
  const auto r = error_of([&] { par::on_root_then_broadcast(rank_one, "registration", [] { return std::string(); }); });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), ExitCode::kBadInput);
  EXPECT_STREQ(r->what(), "rank 0 failed in registration: s.tif: no overlap\nsecond line");
  EXPECT_TRUE(r->reported_elsewhere());
}
