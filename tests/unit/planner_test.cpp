#include "alinify/plan/planner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "alinify/core/error.hpp"
#include "alinify/plan/memory_budget.hpp"
#include "support/files.hpp"

using namespace alinify;
using namespace alinify::plan;
using alinify::test::write_file;

namespace {
constexpr uint64_t GiB = 1ull << 30;
constexpr uint64_t MiB = 1ull << 20;
const Size kBigScan{18960, 14960};

}  // namespace

TEST(Budget, SmallestSourceWinsAndNodeWideLimitsAreShared) {
  MemorySources s;
  s.ranks_on_node = 4;
  s.mem_available = 32 * GiB;  // 8 GiB per rank
  s.cgroup_limit = 16 * GiB;   // 4 GiB per rank
  Budget b = choose_budget(s);
  EXPECT_EQ(b.bytes, 4 * GiB);
  EXPECT_EQ(b.source, "cgroup");
  s.user_per_rank = 2 * GiB;
  b = choose_budget(s);
  EXPECT_EQ(b.bytes, 2 * GiB);
  EXPECT_EQ(b.source, "--mem-budget");
  s.slurm_limit = 4 * GiB;  // 1 GiB per rank
  b = choose_budget(s);
  EXPECT_EQ(b.bytes, 1 * GiB);
  EXPECT_EQ(b.source, "slurm");
}

TEST(Budget, DefaultWhenNothingIsKnown) {
  Budget b = choose_budget(MemorySources{});
  EXPECT_EQ(b.bytes, 2 * GiB);
  EXPECT_EQ(b.source, "default");
}

TEST(Budget, DiscoversCgroupV2MeminfoAndSlurmFromAFakeTree) {
  test::ScratchDir root("fake-root");
  write_file(root.path() / "proc/self/cgroup", "0::/job/step\n");
  write_file(root.path() / "proc/meminfo", "MemTotal: 33554432 kB\nMemAvailable: 16777216 kB\n");
  write_file(root.path() / "sys/fs/cgroup/memory.max", "max\n");
  write_file(root.path() / "sys/fs/cgroup/job/memory.max", "6442450944\n");       // 6 GiB, the parent
  write_file(root.path() / "sys/fs/cgroup/job/step/memory.max", "8589934592\n");  // 8 GiB, own group
  std::map<std::string, std::string> env{{"SLURM_MEM_PER_CPU", "1024"}, {"SLURM_CPUS_ON_NODE", "2"}};
  MemorySources s = discover_memory(2, std::nullopt, root.path().string(), &env);
  ASSERT_TRUE(s.cgroup_limit.has_value());
  EXPECT_EQ(*s.cgroup_limit, 6 * GiB);  // the tighter parent applies
  ASSERT_TRUE(s.mem_available.has_value());
  EXPECT_EQ(*s.mem_available, 16 * GiB);
  ASSERT_TRUE(s.slurm_limit.has_value());
  EXPECT_EQ(*s.slurm_limit, 2 * GiB);
  Budget b = choose_budget(s);
  EXPECT_EQ(b.bytes, 1 * GiB);  // Slurm's 2 GiB shared by 2 ranks
  EXPECT_EQ(b.source, "slurm");

  std::map<std::string, std::string> per_node{{"SLURM_MEM_PER_NODE", "3072"}};
  s = discover_memory(1, 512 * MiB, root.path().string(), &per_node);
  EXPECT_EQ(*s.slurm_limit, 3 * GiB);
  EXPECT_EQ(choose_budget(s).bytes, 512 * MiB);
}

TEST(Planner, OptionsWithoutAnExplicitSizeAreStillBudgeted) {
  // The old tool skipped its downsampling whenever options came without a target size and then
  // tried to register the full 283 MP image. Here no max-pixels is given: the budget decides.
  ElastixMemoryModel m = elastix_memory_model("bspline");
  RegistrationPlan p = plan_registration(kBigScan, kBigScan, 2 * GiB, m, std::nullopt);
  EXPECT_GT(p.factor, 1);
  EXPECT_LE(p.estimated_bytes + (160ull << 20), 2 * GiB);
  EXPECT_EQ(p.design_reg.width, kBigScan.width / p.factor);
  // And the factor is the smallest that fits: one less would not.
  if (p.factor > 1) {
    double smaller =
        m.overhead + m.bytes_per_pixel * 2.0 * (kBigScan.width / (p.factor - 1)) * (kBigScan.height / (p.factor - 1));
    EXPECT_GT(smaller + (160ull << 20), 2.0 * GiB * 0.97);
  }
}

TEST(Planner, MoreMemoryRegistersLarger) {
  ElastixMemoryModel m = elastix_memory_model("bspline");
  int f2 = plan_registration(kBigScan, kBigScan, 2 * GiB, m, std::nullopt).factor;
  int f8 = plan_registration(kBigScan, kBigScan, 8 * GiB, m, std::nullopt).factor;
  int f32 = plan_registration(kBigScan, kBigScan, 32 * GiB, m, std::nullopt).factor;
  EXPECT_GE(f2, f8);
  EXPECT_GE(f8, f32);
  EXPECT_GT(f2, f32);
}

TEST(Planner, MaxPixelsCapsEachImageButNeverRaisesTheBudget) {
  ElastixMemoryModel m = elastix_memory_model("bspline");
  RegistrationPlan p = plan_registration(kBigScan, kBigScan, 64 * GiB, m, int64_t{1'000'000});
  EXPECT_LE(p.design_reg.pixels(), 1'000'000);
  EXPECT_LE(p.scan_reg.pixels(), 1'000'000);
  EXPECT_GT(p.design_reg.pixels(), 1'000'000 / 2);  // not needlessly small
  RegistrationPlan q = plan_registration(kBigScan, kBigScan, 2 * GiB, m, int64_t{200'000'000});
  EXPECT_EQ(q.factor, plan_registration(kBigScan, kBigScan, 2 * GiB, m, std::nullopt).factor);
}

// With the refinement on, the 283 MP pair registers at the refinement's size on a machine whose
// memory would allow full resolution, the reason names the cap, and a tight budget still wins.
TEST(Planner, TheRefinementsSizeCapsTheRegistrationAndSaysSo) {
  ElastixMemoryModel m = elastix_memory_model("bspline");
  const std::string why = "the refinement's registration size";
  RegistrationPlan p = plan_registration(kBigScan, kBigScan, 64 * GiB, m, kRefinedRegistrationPixels, why);
  EXPECT_EQ(plan_registration(kBigScan, kBigScan, 64 * GiB, m, std::nullopt).factor, 1);
  EXPECT_GT(p.factor, 1);
  EXPECT_LE(p.scan_reg.pixels(), kRefinedRegistrationPixels);
  EXPECT_NE(p.reason.find(why), std::string::npos) << p.reason;
  RegistrationPlan tight = plan_registration(kBigScan, kBigScan, GiB / 2, m, kRefinedRegistrationPixels, why);
  EXPECT_GE(tight.factor, p.factor);
  EXPECT_EQ(tight.factor, plan_registration(kBigScan, kBigScan, GiB / 2, m, std::nullopt).factor);
}

TEST(Planner, SmallImagesRegisterAtFullResolution) {
  RegistrationPlan p =
      plan_registration({1200, 900}, {1200, 900}, 2 * GiB, elastix_memory_model("affine"), std::nullopt);
  EXPECT_EQ(p.factor, 1);
}

TEST(Planner, ImpossibleBudgetsAreClearErrors) {
  EXPECT_THROW(plan_registration(kBigScan, kBigScan, 100 * MiB, elastix_memory_model("bspline"), std::nullopt), Error);
  EXPECT_THROW(plan_registration(kBigScan, kBigScan, 2 * GiB, elastix_memory_model("bspline"), int64_t{10}), Error);
}

TEST(Planner, AnImageSmallerThanRegistrationNeedsIsBadInputNamingIt) {
  check_registration_size("ok.tif", {64, 64});
  try {
    check_registration_size("scan.tif", {40, 30});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_STREQ(e.what(), "scan.tif: 40x30 is smaller than the 64 px registration needs");
  }
  EXPECT_THROW(check_registration_size("design.tif", {1200, 60}), Error);
}

TEST(Planner, StripsAreTileAlignedAndFitTheBudget) {
  StripPlan s = plan_strips(kBigScan, 256, 2 * GiB);
  EXPECT_EQ(s.strip_rows % 256, 0);
  EXPECT_EQ(s.block_cols % 256, 0);
  EXPECT_LE(s.estimated_bytes, 2 * GiB / 2);
  StripPlan tiny = plan_strips(kBigScan, 256, 64 * MiB);
  EXPECT_EQ(tiny.strip_rows, 256);  // one tile row at least
  // Many ranks: strips shrink so that every rank gets about eight of them.
  StripPlan shared = plan_strips(kBigScan, 256, 2 * GiB, 8);
  EXPECT_EQ(shared.strip_rows, 256);  // 59 tile rows / (8 * 8) -> 1 tile
  const StripPlan two = plan_strips(kBigScan, 256, 2 * GiB, 2);
  EXPECT_GE((kBigScan.height + two.strip_rows - 1) / two.strip_rows, 16);  // eight or more a rank
  EXPECT_GE(plan_strips({3000, 2250}, 256, 2 * GiB, 2).strip_rows, 256);
  EXPECT_LE(plan_strips({3000, 2250}, 256, 2 * GiB, 2).strip_rows, 256);
}

TEST(Planner, AStripBufferStaysWithinTheCacheTarget) {
  // 283 MP, one rank, a large budget: one tile row (14.5 MB), not the 7 the balance rule allows.
  const StripPlan wide = plan_strips(kBigScan, 256, 22 * GiB, 1);
  EXPECT_EQ(wide.strip_rows, 256);
  // A narrow output: as many tile rows as fit the target (4000 px: 3 MB a tile row -> 5).
  const StripPlan narrow = plan_strips({4000, 60000}, 256, 22 * GiB, 1);
  EXPECT_LE(3.0 * 4096 * narrow.strip_rows, kStripBufferTarget);
  EXPECT_GT(3.0 * 4096 * (narrow.strip_rows + 256), kStripBufferTarget);
  // Wider than the target in one tile row: still one tile row.
  EXPECT_EQ(plan_strips({60000, 20000}, 256, 22 * GiB, 1).strip_rows, 256);
}

TEST(Planner, EveryRowIsWrittenByExactlyOneRank) {
  for (int64_t height : {1, 255, 256, 1000, 14960})
    for (int size = 1; size <= 5; ++size) {
      std::vector<int> seen(height, 0);
      for (int r = 0; r < size; ++r)
        for (const RowRange& range : strips_for_rank(height, 512, r, size)) {
          EXPECT_EQ(range.y0 % 512, 0);
          for (int64_t y = range.y0; y < range.y0 + range.rows; ++y) ++seen[y];
        }
      for (int64_t y = 0; y < height; ++y) ASSERT_EQ(seen[y], 1) << "height " << height << " ranks " << size;
    }
}

// The defect stage's deal: the same strips as round-robin, in one run per rank, in rank order, the
// runs' strip counts differing by at most one.
TEST(Planner, StripRunsAreTheSameStripsContiguousInRankOrder) {
  for (int64_t height : {1, 127, 128, 1000, 14960})
    for (int size = 1; size <= 5; ++size) {
      std::vector<RowRange> dealt, runs;
      int64_t next = 0, fewest = height, most = 0;
      for (int r = 0; r < size; ++r) {
        for (const RowRange& range : strips_for_rank(height, 128, r, size)) dealt.push_back(range);
        const std::vector<RowRange> mine = strip_run_for_rank(height, 128, r, size);
        for (const RowRange& range : mine) {
          EXPECT_EQ(range.y0, next) << "height " << height << " rank " << r << " of " << size;
          next = range.y0 + range.rows;
          runs.push_back(range);
        }
        fewest = std::min<int64_t>(fewest, static_cast<int64_t>(mine.size()));
        most = std::max<int64_t>(most, static_cast<int64_t>(mine.size()));
      }
      EXPECT_EQ(next, height);
      EXPECT_LE(most - fewest, 1);
      std::sort(dealt.begin(), dealt.end(), [](const RowRange& a, const RowRange& b) { return a.y0 < b.y0; });
      ASSERT_EQ(dealt.size(), runs.size());
      for (size_t i = 0; i < runs.size(); ++i) {
        EXPECT_EQ(dealt[i].y0, runs[i].y0);
        EXPECT_EQ(dealt[i].rows, runs[i].rows);
      }
    }
  EXPECT_TRUE(strip_run_for_rank(1000, 128, 3, 3).empty());  // no such rank
}

TEST(Planner, RowsOfRankAreContiguousInRankOrderAndEven) {
  for (int64_t height : {1, 2, 67, 154, 4986})
    for (int size = 1; size <= 5; ++size) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const RowRange range = rows_of_rank(height, r, size);
        EXPECT_EQ(range.y0, next) << "height " << height << " rank " << r << " of " << size;
        EXPECT_GE(range.rows, height / size);
        EXPECT_LE(range.rows, height / size + 1);
        next = range.y0 + range.rows;
      }
      EXPECT_EQ(next, height) << "every row has one rank";
    }
  EXPECT_EQ(rows_of_rank(10, 3, 3).rows, 0);  // no such rank
}

TEST(Planner, BSplineGridSpacingFollowsTheDesignNotTheRegistrationScale) {
  EXPECT_EQ(bspline_grid_spacing({1200, 900}), 256);    // small designs: the floor
  EXPECT_EQ(bspline_grid_spacing(kBigScan), 1024);      // 18960 / 18 = 1053 -> 1024
  EXPECT_EQ(bspline_grid_spacing({900, 18960}), 1024);  // the longer side counts
  EXPECT_EQ(bspline_grid_spacing({4608, 100}), 256);
  EXPECT_EQ(bspline_grid_spacing({9216, 100}), 512);
}
