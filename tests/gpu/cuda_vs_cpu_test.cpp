// CPU and CUDA run the same math (the lattice and integer filters by default, warp_pixel() with
// --exact); their outputs must be identical, byte for byte, on both paths.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "alinify/warp/backend.hpp"
#include "alinify/warp/cpu_backend.hpp"
#include "alinify/warp/cuda_backend.hpp"
#include "support/test_transforms.hpp"

using namespace alinify;

using alinify::test::affine_plus_bspline;

TEST(Gpu, CudaWarpEqualsCpuWarpExactly) {
  if (!warp::cuda_compiled()) GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
  if (warp::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible on this machine";
  const int64_t sw = 400, sh = 300, ow = 380, oh = 290;
  std::vector<uint8_t> scan(sw * sh * 3);
  for (int64_t i = 0; i < sw * sh * 3; ++i) scan[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  auto t = affine_plus_bspline();
  for (bool exact : {false, true})
    for (warp::Interp interp : {warp::Interp::kNearest, warp::Interp::kBilinear, warp::Interp::kBicubic}) {
      std::vector<uint8_t> cpu(ow * oh * 3), gpu(ow * oh * 3);
      warp::SourceView sv{scan.data(), 0, 0, sw, sh, sw * 3, sw, sh};
      warp::WarpSettings s;
      s.interp = interp;
      s.exact = exact;
      s.fill = {1, 2, 3};
      warp::CpuBackend cb;
      cb.set_transform(t);
      cb.warp(sv, {cpu.data(), 0, 0, ow, oh, ow * 3}, s);
      auto gb = warp::make_cuda_backend(0);
      gb->set_transform(t);
      gb->warp(sv, {gpu.data(), 0, 0, ow, oh, ow * 3}, s);
      size_t differ = 0;
      for (size_t i = 0; i < cpu.size(); ++i) differ += cpu[i] != gpu[i];
      EXPECT_EQ(differ, 0u) << warp::interp_name(interp) << (exact ? " --exact" : " lattice");
    }
}

// The pipelined path: blocks submitted back to back (two in flight), the caller's source buffer
// overwritten right after each submit, results complete only after drain(); every GPU of the
// node through --gpus-per-rank.
TEST(Gpu, PipelinedBlocksOnAllGpusEqualCpu) {
  if (!warp::cuda_compiled()) GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
  const int gpus = warp::cuda_device_count();
  if (gpus == 0) GTEST_SKIP() << "no CUDA device visible on this machine";
  const int64_t sw = 400, sh = 300, ow = 380, oh = 290, bw = 100;
  std::vector<uint8_t> scan(sw * sh * 3);
  for (int64_t i = 0; i < sw * sh * 3; ++i) scan[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  auto t = affine_plus_bspline();
  warp::WarpSettings s;
  s.interp = warp::Interp::kBicubic;
  std::vector<uint8_t> cpu(ow * oh * 3), gpu(ow * oh * 3, 0);
  warp::CpuBackend cb;
  cb.set_transform(t);
  cb.warp({scan.data(), 0, 0, sw, sh, sw * 3, sw, sh}, {cpu.data(), 0, 0, ow, oh, ow * 3}, s);
  warp::BackendRequest r;
  r.kind = warp::BackendKind::kCuda;
  r.gpus_per_rank = gpus;
  auto gb = warp::make_backend(r);
  gb->set_transform(t);
  std::vector<uint8_t> reused(scan.size());
  for (int64_t x0 = 0; x0 < ow; x0 += bw) {
    reused = scan;
    gb->submit({reused.data(), 0, 0, sw, sh, sw * 3, sw, sh},
               {gpu.data() + x0 * 3, x0, 0, std::min(bw, ow - x0), oh, ow * 3}, s);
    std::fill(reused.begin(), reused.end(), 0);  // must not reach the device's copy
  }
  gb->drain();
  size_t differ = 0;
  for (size_t i = 0; i < cpu.size(); ++i) differ += cpu[i] != gpu[i];
  EXPECT_EQ(differ, 0u) << gb->name();
  EXPECT_TRUE(gb->device_times().measured);
  EXPECT_GT(gb->device_times().kernel, 0.0);
}
