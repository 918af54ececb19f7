// The batch dispatcher under real MPI at 1, 2 and 3 ranks (part of alinify_mpi_tests): more jobs
// than groups, more groups than jobs, a failing job among good ones, resume. A fake job writes a
// small file on the group's leader after a collective on the group, so no elastix is needed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "alinify/batch/runner.hpp"
#include "alinify/core/error.hpp"
#include "alinify/par/comm.hpp"
#include "support/files.hpp"
#include "support/mpi.hpp"

using namespace alinify;
namespace fs = std::filesystem;
using alinify::test::read_file;

namespace {

// A manifest of n jobs (ids j0.. and "bad" ones) in a folder every rank knows; removed at the end.
class BatchDir : public test::SharedDir {
 public:
  BatchDir(par::Communicator& w, const std::string& name, int n, const std::vector<int>& bad) : SharedDir(w, name) {
    if (w.is_root()) {
      std::ofstream(file("d.tif")) << "design";
      std::ofstream m(file("jobs.csv"));
      m << "id,design,scan,out\n";
      for (int i = 0; i < n; ++i) {
        const bool b = std::find(bad.begin(), bad.end(), i) != bad.end();
        m << (b ? "bad" : "j") << i << ",d.tif,d.tif,out/" << i << ".tif\n";
      }
      fs::create_directories(file("out"));
    }
    w.barrier();
  }
};

batch::JobResult fake_job(par::Communicator& group, const batch::BatchJob& j) {
  // Every rank of the group takes part, as in the pipeline.
  const int64_t ranks = group.allreduce_sum(1);
  if (j.id.rfind("bad", 0) == 0) {
    Error e(ExitCode::kBadInput, j.scan + ": not a raster (fake)");
    if (!group.is_root()) e.mark_reported_elsewhere();
    throw e;
  }
  if (group.is_root()) {
    std::ofstream(j.out + ".partial") << j.id << ":" << read_file(j.design);
    fs::rename(j.out + ".partial", j.out);
  }
  batch::JobResult r;
  r.registration_factor = static_cast<int>(ranks);  // the group size, visible in the summary
  return r;
}

std::map<std::string, int> count_events(const std::string& journal, const std::string& event) {
  std::map<std::string, int> n;
  std::ifstream in(journal);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == event) ++n[j["id"].get<std::string>()];
  }
  return n;
}

}  // namespace

TEST(BatchMpi, MoreJobsThanGroupsWithAFailingJob) {
  par::Communicator& world = test::world();
  BatchDir d(world, "batch-mpi-many", 7, {3});
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  o.group_size = 1;
  batch::BatchReport r = batch::run_batch(world, o, fake_job);
  EXPECT_EQ(r.done, 6);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.exit_code, 2);  // same on every rank
  if (world.is_root()) {
    auto started = count_events(r.journal, "started");
    EXPECT_EQ(started.size(), 7u);
    for (auto& [id, n] : started) EXPECT_EQ(n, 1) << id;
    for (int i = 0; i < 7; ++i)
      if (i != 3)
        EXPECT_EQ(read_file(d.file("out/" + std::to_string(i) + ".tif")), "j" + std::to_string(i) + ":design");
    EXPECT_FALSE(fs::exists(d.file("out/3.tif")));
    auto s = nlohmann::json::parse(read_file(r.summary_json));
    EXPECT_EQ(s["ranks"], world.size());
    EXPECT_NE(s["job_results"][3]["error"].get<std::string>().find("not a raster"), std::string::npos);
  }

  // Resume: the six verified outputs are not redone, the failed one is tried again.
  o.resume = true;
  r = batch::run_batch(world, o, fake_job);
  EXPECT_EQ(r.skipped, 6);
  EXPECT_EQ(r.failed, 1);
  if (world.is_root()) {
    auto started = count_events(r.journal, "started");
    for (auto& [id, n] : started) EXPECT_EQ(n, id == "bad3" ? 2 : 1) << id;
  }
}

TEST(BatchMpi, MoreGroupsThanJobs) {
  par::Communicator& world = test::world();
  BatchDir d(world, "batch-mpi-few", 2, {});
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  o.group_size = 1;
  batch::BatchReport r = batch::run_batch(world, o, fake_job);
  EXPECT_EQ(r.done, 2);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(BatchMpi, DefaultGroupIsTheNode) {
  par::Communicator& world = test::world();
  BatchDir d(world, "batch-mpi-node", 3, {});
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  batch::BatchReport r = batch::run_batch(world, o, fake_job);
  EXPECT_EQ(r.done, 3);
  if (world.is_root()) {
    // All ranks run on this machine: one group of every rank (rank 0 included when MPI gives
    // MPI_THREAD_MULTIPLE, else every rank but the dispatcher).
    const int expect = world.thread_safe() || world.size() == 1 ? world.size() : world.size() - 1;
    auto s = nlohmann::json::parse(read_file(r.summary_json));
    EXPECT_EQ(s["groups"], 1);
    for (const auto& j : s["job_results"]) EXPECT_EQ(j["registration_factor"], expect);
  }
}
