// run_batch in one process (serial communicator: the dispatcher thread and the worker talk through
// the mailbox), with a fake job that writes a small file: fast, no elastix.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "alinify/batch/drain.hpp"
#include "alinify/batch/runner.hpp"
#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "support/files.hpp"

using namespace alinify;
using alinify::test::read_file;
using alinify::test::ScratchDir;
namespace fs = std::filesystem;

namespace {

// Writes "<id>:<design bytes>" through <out>.partial; ids starting with "bad" fail as bad input,
// "flaky" fails at run time on its first attempt.
batch::JobResult fake_job(par::Communicator& group, const batch::BatchJob& j, std::map<std::string, int>& runs) {
  ++runs[j.id];
  if (j.id.rfind("bad", 0) == 0) fail_input(j.scan, "not a raster (fake)");
  if (j.id == "flaky" && runs[j.id] == 1) fail_runtime("elastix crashed (fake)");
  if (group.is_root()) {
    std::ofstream(j.out + ".partial") << j.id << ":" << read_file(j.design);
    fs::rename(j.out + ".partial", j.out);
  }
  batch::JobResult r;
  r.registration_factor = 2;
  return r;
}

std::vector<nlohmann::json> journal_events(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

int count(const std::vector<nlohmann::json>& ev, const std::string& event, const std::string& id) {
  int n = 0;
  for (const auto& e : ev) n += e["event"] == event && e.value("id", "") == id;
  return n;
}

}  // namespace

TEST(BatchRunner, AFailingJobDoesNotSinkTheBatchAndResumeSkipsVerifiedWork) {
  ScratchDir d("batch-serial");
  std::ofstream(d.file("d.tif")) << "design";
  std::ofstream(d.file("s.tif")) << "scan";
  std::ofstream(d.file("jobs.csv")) << "id,design,scan,out\n"
                                       "a,d.tif,s.tif,out/a.tif\n"
                                       "bad1,d.tif,s.tif,out/bad1.tif\n"
                                       "flaky,d.tif,s.tif,out/flaky.tif\n"
                                       "b,d.tif,s.tif,out/b.tif\n";
  fs::create_directories(d.file("out"));
  auto comm = par::make_serial_communicator();
  std::map<std::string, int> runs;
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  o.retries = 1;
  auto runner = [&](par::Communicator& g, const batch::BatchJob& j) { return fake_job(g, j, runs); };

  batch::BatchReport r = batch::run_batch(*comm, o, runner);
  EXPECT_EQ(r.done, 3);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.exit_code, 2);  // only a bad input failed
  EXPECT_EQ(runs["flaky"], 2);
  EXPECT_EQ(runs["bad1"], 1);  // bad input is not retried
  EXPECT_EQ(read_file(d.file("out/a.tif")), "a:design");
  EXPECT_EQ(r.journal, d.file("jobs.journal.jsonl"));
  auto ev = journal_events(r.journal);
  EXPECT_EQ(count(ev, "started", "flaky"), 2);
  EXPECT_EQ(count(ev, "failed", "bad1"), 1);
  EXPECT_EQ(count(ev, "done", "a"), 1);

  // The summary: one row per job with status, error and registration factor.
  auto s = nlohmann::json::parse(read_file(r.summary_json));
  EXPECT_EQ(s["done"], 3);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["job_results"][1]["id"], "bad1");
  EXPECT_EQ(s["job_results"][1]["status"], "failed");
  EXPECT_EQ(s["job_results"][1]["exit_code"], 2);
  EXPECT_NE(s["job_results"][1]["error"].get<std::string>().find("not a raster"), std::string::npos);
  EXPECT_EQ(s["job_results"][0]["registration_factor"], 2);
  EXPECT_EQ(s["job_results"][2]["attempts"], 2);
  const std::string csv = read_file(r.summary_csv);
  EXPECT_NE(csv.find("\nbad1,failed,2,"), std::string::npos) << csv;

  // Resume: a and flaky verify and are skipped; b was tampered with and is redone; bad1 again fails.
  std::ofstream(d.file("out/b.tif")) << "b:desigX";
  runs.clear();
  o.resume = true;
  r = batch::run_batch(*comm, o, runner);
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.done, 1);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(runs.count("a"), 0u);
  EXPECT_EQ(runs.count("flaky"), 0u);
  EXPECT_EQ(runs["b"], 1);
  EXPECT_EQ(read_file(d.file("out/b.tif")), "b:design");
  // The summary of the resumed batch keeps what the first run measured for the skipped jobs.
  s = nlohmann::json::parse(read_file(r.summary_json));
  EXPECT_EQ(s["job_results"][0]["status"], "skipped");
  EXPECT_EQ(s["job_results"][0]["registration_factor"], 2);
  EXPECT_FALSE(s["job_results"][0]["finished"].get<std::string>().empty());
}

TEST(BatchRunner, ManifestProblemsStopEverythingBeforeWork) {
  ScratchDir d("batch-invalid");
  std::ofstream(d.file("d.tif")) << "design";
  std::ofstream(d.file("jobs.csv")) << "id,design,scan,out\na,d.tif,nope.tif,a.tif\na,d.tif,d.tif,b.tif\n";
  auto comm = par::make_serial_communicator();
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  o.strict_inputs = true;  // the missing input is a problem of the manifest too
  int calls = 0;
  try {
    batch::run_batch(*comm, o, [&](par::Communicator&, const batch::BatchJob&) {
      ++calls;
      return batch::JobResult{};
    });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    const std::string m = e.what();
    EXPECT_NE(m.find("2 problems"), std::string::npos) << m;
    EXPECT_NE(m.find("nope.tif: no such file"), std::string::npos) << m;
    EXPECT_NE(m.find("duplicate id 'a'"), std::string::npos) << m;
  }
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(fs::exists(d.file("jobs.journal.jsonl")));
}

TEST(BatchRunner, ACheckerListsEveryProblemOfARowAndALongListIsCut) {
  ScratchDir d("batch-many-problems");
  std::ofstream(d.file("d.tif")) << "design";
  std::string csv = "id,design,scan,out\n";
  for (int i = 0; i < 15; ++i) csv += "j" + std::to_string(i) + ",d.tif,d.tif,o" + std::to_string(i) + ".tif\n";
  std::ofstream(d.file("jobs.csv")) << csv;
  auto comm = par::make_serial_communicator();
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  const auto two_problems = [](const batch::BatchJob&) { fail_usage("--fill: 300 is not in 0..255\n--interp: 'x'"); };
  try {
    batch::run_batch(
        *comm, o, [](par::Communicator&, const batch::BatchJob&) { return batch::JobResult{}; }, two_problems);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    const std::string m = e.what();
    EXPECT_NE(m.find("30 problems"), std::string::npos) << m;
    EXPECT_NE(m.find("jobs.csv:2: --fill: 300 is not in 0..255\n  " + d.file("jobs.csv") + ":2: --interp: 'x'"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(":11: --interp"), std::string::npos) << m;  // the 20th problem
    EXPECT_EQ(m.find(":12: --fill"), std::string::npos) << m;    // the 21st is counted only
    EXPECT_NE(m.find("\n  ... and 10 more"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(d.file("jobs.journal.jsonl")));
}

TEST(BatchRunner, AStopRequestLeavesTheRestForResume) {
  ScratchDir d("batch-stop");
  std::ofstream(d.file("d.tif")) << "design";
  std::ofstream(d.file("jobs.csv")) << "id,design,scan,out\na,d.tif,d.tif,a.tif\nb,d.tif,d.tif,b.tif\n"
                                       "c,d.tif,d.tif,c.tif\n";
  auto comm = par::make_serial_communicator();
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  std::map<std::string, int> runs;
  auto stopping = [&](par::Communicator& g, const batch::BatchJob& j) {
    auto r = fake_job(g, j, runs);
    batch::request_drain();  // as SIGTERM/SIGUSR1 would, during the first job
    return r;
  };
  batch::BatchReport r = batch::run_batch(*comm, o, stopping);
  EXPECT_EQ(r.done, 1);
  EXPECT_EQ(r.not_run, 2);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.exit_code, 3);
  batch::clear_drain_request();
}

TEST(BatchRunner, AMissingInputFailsItsJobAloneAndIsListed) {
  ScratchDir d("batch-holes");
  std::ofstream(d.file("d.tif")) << "design";
  std::ofstream(d.file("jobs.csv")) << "id,design,scan,out\na,d.tif,d.tif,a.tif\nhole,d.tif,nope.tif,h.tif\n"
                                       "b,d.tif,d.tif,b.tif\n";
  auto comm = par::make_serial_communicator();
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  std::map<std::string, int> runs;
  batch::BatchReport r =
      batch::run_batch(*comm, o, [&](par::Communicator& g, const batch::BatchJob& j) { return fake_job(g, j, runs); });
  EXPECT_EQ(r.done, 2);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.exit_code, 2);  // only bad input failed
  EXPECT_EQ(runs.count("hole"), 0u);
  EXPECT_FALSE(fs::exists(d.file("h.tif")));
  const nlohmann::json s = nlohmann::json::parse(read_file(r.summary_json));
  ASSERT_EQ(s["missing_inputs"].size(), 1u);
  EXPECT_EQ(s["missing_inputs"][0], "hole: " + d.file("nope.tif") + ": no such file");
  EXPECT_EQ(s["job_results"][1]["exit_code"], 2);
  EXPECT_NE(read_file(d.file("jobs.index.html")).find("Missing inputs (1 jobs)"), std::string::npos);
  const auto ev = journal_events(r.journal);
  EXPECT_EQ(count(ev, "failed", "hole"), 1);
  EXPECT_EQ(count(ev, "started", "hole"), 0);
  EXPECT_EQ(ev.back()["redo"], nlohmann::json::array({"hole"}));
}

TEST(BatchRunner, AJobPastItsTimeLimitFailsAndTheGroupTakesTheNext) {
  ScratchDir d("batch-timeout");
  std::ofstream(d.file("d.tif")) << "design";
  // "hang" is first in the queue (largest input), then "a" runs on the same (only) group.
  std::ofstream(d.file("big.tif")) << "a larger design file";
  std::ofstream(d.file("jobs.csv")) << "id,design,scan,out,job-timeout\nhang,big.tif,d.tif,h.tif,0.05\n"
                                       "a,d.tif,d.tif,a.tif,\n";
  auto comm = par::make_serial_communicator();
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  std::map<std::string, int> runs;
  auto hanging = [&](par::Communicator& g, const batch::BatchJob& j) {
    if (j.id == "hang")
      for (;;) {  // a job that never ends on its own: only its deadline stops it
        cancel::throw_if_requested();
        ::usleep(1000);
      }
    EXPECT_FALSE(cancel::stop_requested());  // the next job starts with no deadline passed
    return fake_job(g, j, runs);
  };
  batch::BatchReport r = batch::run_batch(*comm, o, hanging);
  EXPECT_EQ(r.done, 1);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.exit_code, 3);
  const nlohmann::json s = nlohmann::json::parse(read_file(r.summary_json));
  EXPECT_EQ(s["job_results"][0]["exit_code"], 3);
  EXPECT_NE(s["job_results"][0]["error"].get<std::string>().find("time limit of 0.05 s (--job-timeout)"),
            std::string::npos)
      << s["job_results"][0]["error"];
  EXPECT_EQ(s["job_results"][1]["status"], "done");
}

TEST(BatchRunner, AbandonStopsTheRunningJobAndTheJournalNamesItForRedo) {
  ScratchDir d("batch-abandon");
  std::ofstream(d.file("d.tif")) << "design";
  std::ofstream(d.file("jobs.csv")) << "id,design,scan,out\na,d.tif,d.tif,a.tif\nb,d.tif,d.tif,b.tif\n";
  auto comm = par::make_serial_communicator();
  batch::BatchOptions o;
  o.manifest = d.file("jobs.csv");
  auto abandoned = [&](par::Communicator&, const batch::BatchJob&) -> batch::JobResult {
    batch::request_abandon();  // as a second SIGTERM would, during the first job
    cancel::throw_if_requested();
    ADD_FAILURE() << "the abandon did not stop the job";
    return {};
  };
  batch::BatchReport r = batch::run_batch(*comm, o, abandoned);
  batch::clear_drain_request();
  EXPECT_EQ(r.done, 0);
  EXPECT_EQ(r.not_run, 2);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.exit_code, 3);
  const auto ev = journal_events(r.journal);
  bool named = false;
  for (const auto& e : ev)
    if (e["event"] == "abandon_requested") named = e["redo"] == nlohmann::json::array({"a"});
  EXPECT_TRUE(named);
  EXPECT_EQ(ev.back()["redo"], nlohmann::json::array({"a", "b"}));
  EXPECT_FALSE(cancel::stop_requested());
}
