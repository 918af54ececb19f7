#pragma once
// The CUDA warp kernels, one thread per output pixel: the same warp_pixel_lattice() and
// warp_pixel() the CPU runs. A header so that the backend (src/warp/cuda_backend.cu) and the
// standalone GPU self-test (tools/gpu_selftest.cu, which links none of our libraries) launch the
// very same kernels.
#include "alinify/warp/warp_kernel.hpp"

namespace alinify::warp {

// The default path: scan positions from the lattice the host built for this block (lattice_build.hpp).
__global__ static void warp_kernel_lattice(LatticeView lattice, SourceView src, OutputBlock out, Interp interp,
                                           Rgb fill) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t j = blockIdx.y * static_cast<int64_t>(blockDim.y) + threadIdx.y;
  if (i >= out.width || j >= out.height) return;
  warp_pixel_lattice(lattice, src, out, interp, fill, i, j);
}

// --exact: the transform evaluated at every pixel.
__global__ static void warp_kernel(transform::TransformView t, SourceView src, OutputBlock out, Interp interp,
                                   Rgb fill) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t j = blockIdx.y * static_cast<int64_t>(blockDim.y) + threadIdx.y;
  if (i >= out.width || j >= out.height) return;
  warp_pixel(t, src, out, interp, fill, i, j);
}

}  // namespace alinify::warp
