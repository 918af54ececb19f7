#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "alinify/batch/checksum.hpp"
#include "alinify/batch/journal.hpp"
#include "alinify/batch/scheduler.hpp"
#include "alinify/core/error.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

using namespace alinify;
using alinify::test::ScratchDir;

TEST(BatchChecksum, MatchesXxhsumReferenceValues) {
  EXPECT_EQ(batch::hex64(batch::xxh64("", 0)), "ef46db3751d8e999");
  EXPECT_EQ(batch::hex64(batch::xxh64("abc", 3)), "44bc2cf5ad770999");
  std::string zeros(100000, '\0');
  EXPECT_EQ(batch::hex64(batch::xxh64(zeros.data(), zeros.size())), "2c9fd5b2f34e23db");
  std::string letters;
  for (int i = 0; i < 1000; ++i) letters += static_cast<char>('A' + i % 26);
  EXPECT_EQ(batch::hex64(batch::xxh64(letters.data(), letters.size())), "69f8ef7a9b517dec");
}

TEST(BatchChecksum, FileHashEqualsBufferHashAcrossReadBoundaries) {
  ScratchDir d("checksum");
  for (size_t n : {size_t{0}, size_t{31}, size_t{4} << 20, (size_t{4} << 20) + 17, (size_t{9} << 20) + 5}) {
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
    std::ofstream(d.file("f.bin"), std::ios::binary) << data;
    EXPECT_EQ(batch::xxh64_file(d.file("f.bin")), batch::xxh64(data.data(), data.size())) << n;
  }
  EXPECT_THROW(batch::xxh64_file(d.file("missing")), Error);
}

// The digests a resumed batch trusts are the ones `xxhsum -H1` (Debian package xxhash) prints, on a
// file longer than one read buffer with a tail that is not a whole stripe.
TEST(BatchChecksum, FileHashEqualsXxhsum) {
  ScratchDir d("checksum-xxhsum");
  const size_t n = (size_t{5} << 20) + 13;
  std::string data(n, '\0');
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 2654435761u) >> 11);
  std::ofstream(d.file("f.bin"), std::ios::binary) << data;
  // stderr carries xxhsum's progress line (run_command merges it, hence the subshell); stdout is
  // "<16 hex digits>  <file>".
  const test::CommandResult r = test::run_command("(xxhsum -H1 '" + d.file("f.bin") + "' 2>/dev/null)");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string digest = r.output.substr(0, r.output.find(' '));
  EXPECT_EQ(digest, batch::hex64(batch::xxh64_file(d.file("f.bin"))));
  EXPECT_EQ(digest, batch::hex64(batch::xxh64(data.data(), data.size())));
}

TEST(BatchJournal, RecordsAreLinesAndTheLastDoneWins) {
  ScratchDir d("journal");
  std::ofstream(d.file("a.tif")) << "first";
  {
    batch::Journal j(d.file("j.jsonl"));
    j.append({{"event", "started"}, {"id", "a"}});
    j.append({{"event", "done"},
              {"id", "a"},
              {"out", d.file("a.tif")},
              {"size", 5},
              {"xxh64", batch::hex64(batch::xxh64("first", 5))}});
    j.append({{"event", "started"}, {"id", "b"}});  // b never finished
    j.append({{"event", "done"}, {"id", "c"}, {"out", d.file("c.tif")}, {"size", 1}, {"xxh64", "00"}});
    j.append({{"event", "started"}, {"id", "c"}});  // c started again: its old result no longer counts
  }
  std::ofstream(d.file("j.jsonl"), std::ios::app) << "{\"event\":\"done\",\"id\":\"b\",\"ou";  // torn last line
  auto done = batch::read_done_records(d.file("j.jsonl"));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done.at("a").size, 5u);
  EXPECT_EQ(batch::verify_output(done.at("a")), "");
  std::ofstream(d.file("a.tif")) << "fir5t";  // same size, other bytes
  EXPECT_NE(batch::verify_output(done.at("a")).find("checksum"), std::string::npos);
  std::ofstream(d.file("a.tif")) << "short";
  std::filesystem::resize_file(d.file("a.tif"), 3);
  EXPECT_NE(batch::verify_output(done.at("a")).find("bytes"), std::string::npos);
  std::filesystem::remove(d.file("a.tif"));
  EXPECT_NE(batch::verify_output(done.at("a")).find("missing"), std::string::npos);
}

TEST(BatchJournal, ASecondBatchOnTheSameJournalIsRefused) {
  ScratchDir d("journal-lock");
  batch::Journal first(d.file("j.jsonl"));
  try {
    batch::Journal second(d.file("j.jsonl"));
    FAIL() << "second journal opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("another alinify batch"), std::string::npos);
  }
}

TEST(BatchScheduler, LargestFirstRetriesRuntimeFailuresOnly) {
  std::vector<batch::BatchJob> jobs(4);
  for (int i = 0; i < 4; ++i) {
    jobs[i].index = i;
    jobs[i].id = "j" + std::to_string(i);
  }
  jobs[0].input_bytes = 10;
  jobs[1].input_bytes = 30;
  jobs[2].input_bytes = 20;
  jobs[3].input_bytes = 30;
  batch::Scheduler s(jobs, 1);
  s.skip(2, "done before");
  EXPECT_EQ(s.next(0), 1);
  EXPECT_EQ(s.next(0), 3);  // ties keep manifest order
  EXPECT_EQ(s.next(0), 0);
  EXPECT_EQ(s.next(0), std::nullopt);
  batch::JobResult runtime{false, 3, "elastix crashed"}, bad{false, 2, "not a raster"}, ok{true, 0, ""};
  EXPECT_TRUE(s.finish(1, runtime, false));  // retried once
  EXPECT_FALSE(s.finish(3, bad, false));     // bad input: never retried
  EXPECT_FALSE(s.finish(0, ok, false));
  EXPECT_EQ(s.next(5), 1);
  EXPECT_FALSE(s.finish(1, runtime, false));  // out of retries
  EXPECT_EQ(s.next(5), std::nullopt);
  EXPECT_EQ(s.running(), 0);
  EXPECT_EQ(s.record(1).status, batch::JobStatus::kFailed);
  EXPECT_EQ(s.record(1).attempts, 2);
  EXPECT_EQ(s.record(1).group, 5);
  EXPECT_EQ(s.record(3).status, batch::JobStatus::kFailed);
  EXPECT_EQ(s.record(0).status, batch::JobStatus::kDone);
  EXPECT_EQ(s.record(2).status, batch::JobStatus::kSkipped);
}

TEST(BatchScheduler, StopLeavesWaitingJobsNotRun) {
  std::vector<batch::BatchJob> jobs(3);
  for (int i = 0; i < 3; ++i) jobs[i].index = i;
  batch::Scheduler s(jobs, 0);
  EXPECT_EQ(s.next(0), 0);
  s.stop();
  EXPECT_EQ(s.next(0), std::nullopt);
  EXPECT_EQ(s.record(1).status, batch::JobStatus::kNotRun);
  EXPECT_EQ(s.record(0).status, batch::JobStatus::kRunning);
}
