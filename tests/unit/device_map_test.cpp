// Rank -> GPU mapping with fake device counts (no GPU needed).
#include "alinify/warp/device_map.hpp"

#include <gtest/gtest.h>

#include "alinify/core/error.hpp"

namespace alinify::warp {
namespace {

using V = std::vector<int>;

TEST(DeviceMap, OneGpuPerLocalRank) {
  for (int r = 0; r < 4; ++r) {
    const DeviceChoice c = devices_for_rank(r, 4, 4, 1, -1);
    EXPECT_EQ(c.devices, V{r});
    EXPECT_TRUE(c.note.empty());
  }
}

TEST(DeviceMap, MoreRanksThanGpusShareAndSaySo) {
  EXPECT_EQ(devices_for_rank(2, 3, 2, 1, -1).devices, V{0});
  EXPECT_EQ(devices_for_rank(1, 3, 2, 1, -1).devices, V{1});
  EXPECT_NE(devices_for_rank(0, 3, 2, 1, -1).note.find("share"), std::string::npos);
}

TEST(DeviceMap, SlurmBindingLeavesEachTaskItsOwnDevices) {
  // --gpus-per-task=2 --gpu-bind: every task sees exactly its 2 GPUs as 0 and 1.
  for (int r = 0; r < 4; ++r) EXPECT_EQ(devices_for_rank(r, 4, 2, 2, -1).devices, (V{0, 1}));
  // No binding: 8 GPUs visible to 4 ranks, 2 each.
  EXPECT_EQ(devices_for_rank(3, 4, 8, 2, -1).devices, (V{6, 7}));
  EXPECT_TRUE(devices_for_rank(3, 4, 8, 2, -1).note.empty());
}

TEST(DeviceMap, ExplicitDeviceAndErrors) {
  EXPECT_EQ(devices_for_rank(3, 4, 2, 1, 1).devices, V{1});
  EXPECT_TRUE(devices_for_rank(0, 1, 0, 1, -1).devices.empty());  // no GPU: the CPU backend
  EXPECT_THROW(devices_for_rank(0, 1, 2, 1, 2), Error);
  EXPECT_THROW(devices_for_rank(0, 1, 2, 3, -1), Error);
  EXPECT_THROW(devices_for_rank(0, 1, 2, 0, -1), Error);
}

}  // namespace
}  // namespace alinify::warp
