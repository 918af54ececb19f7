#include <gtest/gtest.h>

#include <filesystem>

#include "alinify/batch/group_watch.hpp"
#include "alinify/batch/manifest.hpp"
#include "alinify/batch/timeout.hpp"
#include "alinify/core/error.hpp"
#include "support/files.hpp"

using namespace alinify;
using alinify::test::ScratchDir;
using alinify::test::write_file;

namespace {

bool has_problem(const batch::Manifest& m, const std::string& needle) {
  for (const auto& p : m.problems)
    if (p.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(BatchManifest, CsvPathsAreRelativeToTheManifestAndOverridesAreKept) {
  ScratchDir d("manifest-csv");
  write_file(d.file("in/a_design.tif"), "x");
  write_file(d.file("in/a_scan.tif"), "xyz");
  write_file(d.file("jobs.csv"),
             "# comment\nid,design,scan,out,preset,interp\n"
             "a,in/a_design.tif,in/a_scan.tif,out/a.tif,affine,\n"
             "\"b, quoted\",in/a_design.tif,\"in/a_scan.tif\",out/b.tif,,bicubic\n");
  batch::Manifest m = batch::load_manifest(d.file("jobs.csv"));
  ASSERT_TRUE(m.problems.empty()) << m.problems.front();
  ASSERT_EQ(m.jobs.size(), 2u);
  EXPECT_EQ(m.jobs[0].id, "a");
  EXPECT_EQ(m.jobs[0].design, d.file("in/a_design.tif"));
  EXPECT_EQ(m.jobs[0].out, d.file("out/a.tif"));
  EXPECT_EQ(m.jobs[0].transform_out, d.file("out/a.transform.json"));
  EXPECT_EQ(m.jobs[0].overrides.at("preset"), "affine");
  EXPECT_EQ(m.jobs[0].overrides.count("interp"), 0u);
  EXPECT_EQ(m.jobs[0].input_bytes, 4u);
  EXPECT_EQ(m.jobs[0].line, 3);
  EXPECT_EQ(m.jobs[1].id, "b, quoted");
  EXPECT_EQ(m.jobs[1].overrides.at("interp"), "bicubic");
}

TEST(BatchManifest, JsonLinesWorkToo) {
  ScratchDir d("manifest-jsonl");
  write_file(d.file("d.tif"), "x");
  write_file(d.file("s.tif"), "x");
  write_file(d.file("jobs.jsonl"),
             "{\"id\":\"a\",\"design\":\"d.tif\",\"scan\":\"s.tif\",\"out\":\"a.tif\",\"fill\":7}\n\n"
             "{\"id\":\"b\",\"design\":\"d.tif\",\"scan\":\"s.tif\",\"out\":\"b.tif\"}\n");
  batch::Manifest m = batch::load_manifest(d.file("jobs.jsonl"));
  ASSERT_TRUE(m.problems.empty()) << m.problems.front();
  ASSERT_EQ(m.jobs.size(), 2u);
  EXPECT_EQ(m.jobs[0].overrides.at("fill"), "7");
  EXPECT_EQ(m.jobs[1].line, 3);
}

TEST(BatchManifest, EveryProblemIsListedOnItsOwnLine) {
  ScratchDir d("manifest-bad");
  write_file(d.file("d.tif"), "x");
  write_file(d.file("s.tif"), "x");
  write_file(d.file("jobs.csv"),
             "id,design,scan,out,colour\n"
             "a,d.tif,s.tif,a.tif,red\n"
             "a,d.tif,missing_scan.tif,b.tif,\n"
             "c,missing_design.tif,s.tif,a.tif,\n"
             "d,d.tif,s.tif\n"
             "e,d.tif,s.tif,,\n");
  batch::Manifest m = batch::load_manifest(d.file("jobs.csv"));
  EXPECT_TRUE(has_problem(m, "jobs.csv:1: unknown column 'colour'"));
  EXPECT_TRUE(has_problem(m, "jobs.csv:3: duplicate id 'a' (first on line 2)"));
  EXPECT_TRUE(has_problem(m, "jobs.csv:4: duplicate output"));
  EXPECT_TRUE(has_problem(m, "jobs.csv:5: 3 fields, the header has 5"));
  EXPECT_TRUE(has_problem(m, "jobs.csv:6: no out"));
  EXPECT_EQ(m.problems.size(), 5u);
  for (const auto& p : m.problems) EXPECT_EQ(p.find('\n'), std::string::npos);
  // Missing inputs are not problems of the manifest: they are listed apart and fail their job.
  EXPECT_FALSE(has_problem(m, "no such file"));
  ASSERT_EQ(m.input_problems.size(), 2u);
  EXPECT_NE(m.input_problems[0].find("jobs.csv:3: "), std::string::npos) << m.input_problems[0];
  EXPECT_NE(m.input_problems[0].find("missing_scan.tif: no such file"), std::string::npos);
  EXPECT_NE(m.input_problems[1].find("missing_design.tif: no such file"), std::string::npos);
}

TEST(BatchManifest, AJobWithAHoleKeepsItsProblemAndTheOthersAreWhole) {
  ScratchDir d("manifest-holes");
  write_file(d.file("d.tif"), "xx");
  write_file(d.file("s.tif"), "xxx");
  std::filesystem::create_directories(d.file("folder.tif"));
  write_file(d.file("jobs.csv"),
             "id,design,scan,out\n"
             "ok,d.tif,s.tif,ok.tif\n"
             "gone,d.tif,gone.tif,gone_out.tif\n"
             "dir,folder.tif,s.tif,dir.tif\n");
  batch::Manifest m = batch::load_manifest(d.file("jobs.csv"));
  ASSERT_TRUE(m.problems.empty()) << m.problems.front();
  ASSERT_EQ(m.jobs.size(), 3u);
  EXPECT_TRUE(m.jobs[0].input_problem.empty());
  EXPECT_EQ(m.jobs[0].input_bytes, 5u);
  EXPECT_EQ(m.jobs[1].input_problem, d.file("gone.tif") + ": no such file");
  EXPECT_EQ(m.jobs[2].input_problem, d.file("folder.tif") + ": is a directory");
  EXPECT_EQ(m.input_problems.size(), 2u);
}

TEST(BatchManifest, JobTimeoutColumnIsSecondsAndNotAnOption) {
  ScratchDir d("manifest-timeout");
  write_file(d.file("d.tif"), "x");
  write_file(d.file("jobs.jsonl"),
             "{\"id\":\"a\",\"design\":\"d.tif\",\"scan\":\"d.tif\",\"out\":\"a.tif\",\"job-timeout\":90}\n"
             "{\"id\":\"b\",\"design\":\"d.tif\",\"scan\":\"d.tif\",\"out\":\"b.tif\",\"job-timeout\":\"0\"}\n"
             "{\"id\":\"c\",\"design\":\"d.tif\",\"scan\":\"d.tif\",\"out\":\"c.tif\"}\n"
             "{\"id\":\"e\",\"design\":\"d.tif\",\"scan\":\"d.tif\",\"out\":\"e.tif\",\"job-timeout\":\"-5\"}\n"
             "{\"id\":\"f\",\"design\":\"d.tif\",\"scan\":\"d.tif\",\"out\":\"f.tif\",\"job-timeout\":\"1h\"}\n");
  batch::Manifest m = batch::load_manifest(d.file("jobs.jsonl"));
  ASSERT_EQ(m.jobs.size(), 5u);
  EXPECT_EQ(m.jobs[0].timeout_seconds, 90);
  EXPECT_EQ(m.jobs[0].overrides.count("job-timeout"), 0u);
  EXPECT_EQ(m.jobs[1].timeout_seconds, 0);
  EXPECT_EQ(m.jobs[2].timeout_seconds, -1);
  EXPECT_TRUE(has_problem(m, "jobs.jsonl:4: job-timeout '-5' is not a number of seconds"));
  EXPECT_TRUE(has_problem(m, "jobs.jsonl:5: job-timeout '1h' is not a number of seconds"));
  EXPECT_EQ(m.problems.size(), 2u);
}

TEST(BatchTimeout, DefaultGrowsWithThePairAndTheColumnWins) {
  EXPECT_EQ(batch::default_job_timeout(0), batch::kTimeoutBaseSeconds);
  // 1.7 GB of a 18960x14960 pair (docs/performance.md: 200 s): 600 + 2 * 1621 s.
  EXPECT_NEAR(batch::default_job_timeout(1700ull * 1000 * 1000), 600 + 2 * 1700e6 / 1048576, 1e-6);
  EXPECT_GT(batch::default_job_timeout(2ull << 20), batch::default_job_timeout(1ull << 20));
  batch::BatchJob j;
  j.input_bytes = 10ull << 20;
  EXPECT_EQ(batch::job_timeout(j, -1), 620);  // no column, --job-timeout auto
  EXPECT_EQ(batch::job_timeout(j, 30), 30);   // --job-timeout 30
  EXPECT_EQ(batch::job_timeout(j, 0), 0);     // --job-timeout 0: no limit
  j.timeout_seconds = 5;
  EXPECT_EQ(batch::job_timeout(j, 30), 5);  // the manifest's column
}

TEST(BatchManifest, MissingFileAndMissingColumns) {
  ScratchDir d("manifest-missing");
  EXPECT_TRUE(has_problem(batch::load_manifest(d.file("nope.csv")), "nope.csv: no such file"));
  write_file(d.file("jobs.csv"), "id,design\n");
  batch::Manifest m = batch::load_manifest(d.file("jobs.csv"));
  EXPECT_TRUE(has_problem(m, "no 'scan' column"));
  EXPECT_TRUE(has_problem(m, "no 'out' column"));
}

TEST(BatchManifest, AFolderOrABinaryFileIsOneProblemSayingWhatItIs) {
  ScratchDir d("manifest-not-text");
  const batch::Manifest folder = batch::load_manifest(d.path().string());
  ASSERT_EQ(folder.problems.size(), 1u);
  EXPECT_TRUE(has_problem(folder, "is a directory, not a manifest")) << folder.problems[0];
  std::string binary = "II*";
  binary += std::string(1, '\0') + "\x08\n\x01\x02,,\n";
  for (int i = 0; i < 2000; ++i) binary += "\xff\n";
  write_file(d.file("image.tif"), binary);
  const batch::Manifest image = batch::load_manifest(d.file("image.tif"));
  ASSERT_EQ(image.problems.size(), 1u);
  EXPECT_TRUE(has_problem(image, "not a text file (a NUL byte at offset 3)")) << image.problems[0];
  EXPECT_TRUE(image.jobs.empty());
}

TEST(BatchManifest, ShardsPartitionTheManifest) {
  std::vector<batch::BatchJob> jobs(10);
  for (int i = 0; i < 10; ++i) jobs[i].index = i;
  std::vector<int> seen(10, 0);
  for (int s = 0; s < 3; ++s)
    for (const auto& j : batch::select_shard(jobs, s, 3)) {
      EXPECT_EQ(j.index % 3, s);
      ++seen[j.index];
    }
  for (int c : seen) EXPECT_EQ(c, 1);
  EXPECT_EQ(batch::parse_shard("2/4"), std::make_pair(2, 4));
  for (const char* bad : {"4/4", "-1/2", "1", "1/0", "a/b", "1/2x"})
    EXPECT_THROW(batch::parse_shard(bad), Error) << bad;
}

TEST(BatchGroupWatch, ASilentGroupIsOverdueOnceAfterItsLimitAndGrace) {
  EXPECT_EQ(batch::retire_grace_seconds(100), 20);  // 10 s + 10% of the limit
  batch::GroupWatch w;
  w.started(0, 4, 100, 1000);  // job 0 on the group of rank 4, limit 100 s, at t = 1000
  w.started(1, 2, 100, 1000);
  w.started(2, 6, 0, 1000);  // no limit: never overdue
  EXPECT_TRUE(w.overdue(1119).empty());
  w.answered(1);  // its group reported in time
  const auto late = w.overdue(1121);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0], std::make_pair(0, 4));
  EXPECT_TRUE(w.overdue(5000).empty());  // each job once
  w.retire(4);
  EXPECT_TRUE(w.retired(4));
  EXPECT_EQ(w.hung(), 1);
  w.released(4);  // it answered after all
  EXPECT_EQ(w.hung(), 0);
}
