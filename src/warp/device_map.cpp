#include "alinify/warp/device_map.hpp"

#include <algorithm>

#include "alinify/core/error.hpp"

namespace alinify::warp {

DeviceChoice devices_for_rank(int local_rank, int local_size, int device_count, int gpus_per_rank,
                              int explicit_device) {
  DeviceChoice c;
  if (gpus_per_rank < 1) fail_usage("--gpus-per-rank: must be at least 1");
  if (device_count <= 0) return c;
  if (explicit_device >= 0) {
    if (explicit_device >= device_count)
      fail_usage("--device " + std::to_string(explicit_device) + ": this node shows " + std::to_string(device_count) +
                 " GPU(s) (indices 0.." + std::to_string(device_count - 1) + ", after CUDA_VISIBLE_DEVICES)");
    c.devices.push_back(explicit_device);
    if (local_size > 1) c.note = "--device: all " + std::to_string(local_size) + " ranks of this node share one GPU";
    return c;
  }
  if (gpus_per_rank > device_count)
    fail_usage("--gpus-per-rank " + std::to_string(gpus_per_rank) + ": this node shows only " +
               std::to_string(device_count) + " GPU(s)");
  for (int k = 0; k < gpus_per_rank; ++k) c.devices.push_back((local_rank * gpus_per_rank + k) % device_count);
  const long wanted = static_cast<long>(local_size) * gpus_per_rank;
  if (wanted > device_count)
    c.note = std::to_string(local_size) + " ranks x " + std::to_string(gpus_per_rank) + " GPU(s) on " +
             std::to_string(device_count) + " visible GPU(s): ranks share devices";
  return c;
}

}  // namespace alinify::warp
