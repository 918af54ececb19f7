#pragma once
// Which GPUs a rank warps on. Ranks on one node share its visible GPUs by local rank; the CUDA
// runtime already applies CUDA_VISIBLE_DEVICES (and Slurm's --gpu-bind / --gpus-per-task, which
// set it per task), so indices here are into what this process sees. Pure: unit-tested with fake
// device counts.
#include <string>
#include <vector>

namespace alinify::warp {

struct DeviceChoice {
  std::vector<int> devices;  // empty: no GPU for this rank
  std::string note;          // one line for the log (sharing, wrap-around)
};

// explicit_device >= 0 (--device): that GPU for every rank. Else local rank r takes the
// gpus_per_rank consecutive devices starting at r * gpus_per_rank, wrapping round when the node
// has fewer GPUs than local_size * gpus_per_rank (ranks then share, and the note says so).
// Usage error (naming the option) for a device index or count the node does not have.
DeviceChoice devices_for_rank(int local_rank, int local_size, int device_count, int gpus_per_rank, int explicit_device);

}  // namespace alinify::warp
