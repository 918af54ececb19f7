#include "alinify/job/rank_report.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using namespace alinify;

namespace {

job::RankReport awkward_report() {
  job::RankReport r;
  r.rank = 17;
  r.host = "node-\"7\"\n";  // quotes and a control character survive the JSON text
  r.local_rank = 3;
  r.local_size = 4;
  r.budget_bytes = (uint64_t{1} << 62) + 9;
  r.strips = (int64_t{1} << 40) + 3;
  r.read_seconds = 0.1;  // no exact binary value: a text record rounded to 6 digits would lose it
  r.warp_seconds = 12345.678901234567;
  r.write_seconds = 1e-9;
  r.peak_rss_bytes = (uint64_t{1} << 63) + 5;
  r.elastix_peak_rss_bytes = 123456789012345;
  r.device.measured = true;
  r.device.h2d = 1.0 / 3;
  r.device.kernel = 2.5e-7;
  r.device.d2h = 42;
  return r;
}

}  // namespace

TEST(RankReport, MessageRoundTripsEveryFieldExactly) {
  const job::RankReport in = awkward_report();
  const job::RankReport out = job::rank_report_from_message(job::to_message(in));
  EXPECT_EQ(out.rank, in.rank);
  EXPECT_EQ(out.host, in.host);
  EXPECT_EQ(out.local_rank, in.local_rank);
  EXPECT_EQ(out.local_size, in.local_size);
  EXPECT_EQ(out.budget_bytes, in.budget_bytes);
  EXPECT_EQ(out.strips, in.strips);
  EXPECT_EQ(out.read_seconds, in.read_seconds);
  EXPECT_EQ(out.warp_seconds, in.warp_seconds);
  EXPECT_EQ(out.write_seconds, in.write_seconds);
  EXPECT_EQ(out.peak_rss_bytes, in.peak_rss_bytes);
  EXPECT_EQ(out.elastix_peak_rss_bytes, in.elastix_peak_rss_bytes);
  EXPECT_EQ(out.device.measured, in.device.measured);
  EXPECT_EQ(out.device.h2d, in.device.h2d);
  EXPECT_EQ(out.device.kernel, in.device.kernel);
  EXPECT_EQ(out.device.d2h, in.device.d2h);
}

TEST(RankReport, MessageLackingAFieldIsRefused) {
  nlohmann::json m = nlohmann::json::parse(job::to_message(awkward_report()));
  m.erase("write_seconds");
  EXPECT_ANY_THROW(job::rank_report_from_message(m.dump()));
}

TEST(RankReport, MetricsCarryDeviceSecondsOnlyWhenMeasured) {
  job::RankReport r = awkward_report();
  const nlohmann::json with = job::to_metrics(r);
  EXPECT_EQ(with.at("rank"), 17);
  EXPECT_EQ(with.at("host"), r.host);
  EXPECT_EQ(with.at("local_rank"), 3);
  EXPECT_EQ(with.at("local_size"), 4);
  EXPECT_EQ(with.at("budget_bytes"), r.budget_bytes);
  EXPECT_EQ(with.at("read_seconds"), 0.1);
  EXPECT_EQ(with.at("elastix_peak_rss_bytes"), r.elastix_peak_rss_bytes);
  EXPECT_EQ(with.at("device_seconds").at("kernel"), 2.5e-7);
  r.device.measured = false;
  EXPECT_FALSE(job::to_metrics(r).contains("device_seconds"));
}
