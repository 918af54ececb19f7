// alinify_gpu_selftest: the GPU check that runs on a machine with none of the project's libraries
// (statically linked CUDA runtime and libstdc++). It builds a scan and a transform (affine + cubic
// B-spline, like elastix's) in memory, warps the whole output on the GPU with the same
// warp_pixel_lattice() (default) and warp_pixel() (--exact) the CPU runs, on the lattice the CPU
// builds (lattice_build.hpp), compares sampled rows with the CPU (they must be identical), and
// prints each kernel's GP/s.
//
//   alinify_gpu_selftest [--width 18960] [--height 14960] [--device 0] [--repeat 3]
// Exit: 0 pass, 1 mismatch, 2 bad arguments or CUDA error, 77 no CUDA device (a skip for ctest).
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "alinify/warp/lattice_build.hpp"
#include "alinify/warp/warp_kernel_cuda.cuh"

using namespace alinify;

namespace {

#define CHECK(call)                                                                                 \
  do {                                                                                              \
    cudaError_t e_ = (call);                                                                        \
    if (e_ != cudaSuccess) {                                                                        \
      std::fprintf(stderr, "alinify_gpu_selftest: %s failed: %s\n", #call, cudaGetErrorString(e_)); \
      std::exit(2);                                                                                 \
    }                                                                                               \
  } while (0)

uint32_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return static_cast<uint32_t>(x);
}

const char* interp_name(warp::Interp i) {
  return i == warp::Interp::kNearest ? "nearest" : i == warp::Interp::kBilinear ? "bilinear" : "bicubic";
}

}  // namespace

int main(int argc, char** argv) {
  int64_t W = 18960, H = 14960;
  int device = 0, repeat = 3;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto next = [&]() -> const char* {
      if (k + 1 >= argc) {
        std::fprintf(stderr, "alinify_gpu_selftest: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++k];
    };
    if (a == "--width")
      W = std::atoll(next());
    else if (a == "--height")
      H = std::atoll(next());
    else if (a == "--device")
      device = std::atoi(next());
    else if (a == "--repeat")
      repeat = std::atoi(next());
    else {
      std::fprintf(stderr, "usage: alinify_gpu_selftest [--width N] [--height N] [--device N] [--repeat N]\n");
      return 2;
    }
  }
  if (W < 64 || H < 64 || repeat < 1) {
    std::fprintf(stderr, "alinify_gpu_selftest: --width/--height must be >= 64 and --repeat >= 1\n");
    return 2;
  }
  int count = 0;
  const cudaError_t probe = cudaGetDeviceCount(&count);
  if (probe != cudaSuccess || count == 0) {
    std::printf("alinify_gpu_selftest: no CUDA device visible (%s): skipped\n",
                probe != cudaSuccess ? cudaGetErrorString(probe) : "the driver lists none");
    return 77;
  }
  if (device >= count) {
    std::fprintf(stderr, "alinify_gpu_selftest: --device %d: %d device(s) visible\n", device, count);
    return 2;
  }
  CHECK(cudaSetDevice(device));
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, device));
  std::printf("device %d: %s, %.1f GiB, compute %d.%d\n", device, prop.name, prop.totalGlobalMem / 1073741824.0,
              prop.major, prop.minor);

  // The scan: the output's size, smooth colour plus hashed noise (so interpolation differences show).
  const auto t0 = std::chrono::steady_clock::now();
  const size_t bytes = static_cast<size_t>(W) * H * 3;
  std::vector<uint8_t> scan(bytes);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const uint32_t h = mix(static_cast<uint64_t>(y) * W + x);
      uint8_t* p = &scan[(static_cast<size_t>(y) * W + x) * 3];
      p[0] = static_cast<uint8_t>(128 + 90 * std::sin(0.013 * x) + (h & 15));
      p[1] = static_cast<uint8_t>(128 + 90 * std::sin(0.011 * y) + ((h >> 4) & 15));
      p[2] = static_cast<uint8_t>((x ^ y) & 0xff);
    }
  // The transform: a turned, shifted affine plus a B-spline every 1024 px with +-3 px displacements.
  const int gx = static_cast<int>(W / 1024) + 4, gy = static_cast<int>(H / 1024) + 4;
  std::vector<double> coef(2 * static_cast<size_t>(gx) * gy);
  for (size_t k = 0; k < coef.size(); ++k) coef[k] = 3.0 * std::sin(0.7 * k + 0.3);
  double* d_coef = nullptr;
  CHECK(cudaMalloc(&d_coef, coef.size() * sizeof(double)));
  CHECK(cudaMemcpy(d_coef, coef.data(), coef.size() * sizeof(double), cudaMemcpyHostToDevice));
  transform::TransformView view{};
  view.n = 2;
  const double a = 0.6 * M_PI / 180;
  view.s[0].kind = transform::StageKind::kAffine;
  view.s[0].combine = transform::Combine::kCompose;
  view.s[0].m[0] = std::cos(a) * 1.002, view.s[0].m[1] = -std::sin(a), view.s[0].m[2] = std::sin(a);
  view.s[0].m[3] = std::cos(a) * 0.998, view.s[0].offset[0] = 37.25, view.s[0].offset[1] = -21.5;
  view.s[1].kind = transform::StageKind::kBSpline;
  view.s[1].combine = transform::Combine::kCompose;
  view.s[1].origin[0] = view.s[1].origin[1] = -1024;
  view.s[1].inv[0] = view.s[1].inv[3] = 1.0 / 1024, view.s[1].inv[1] = view.s[1].inv[2] = 0;
  view.s[1].size[0] = gx, view.s[1].size[1] = gy;
  transform::TransformView host_view = view;
  host_view.s[1].coef_x = coef.data(), host_view.s[1].coef_y = coef.data() + coef.size() / 2;
  view.s[1].coef_x = d_coef, view.s[1].coef_y = d_coef + coef.size() / 2;
  std::printf("pair %lldx%lld RGB (%.0f MB each) made in %.1f s\n", static_cast<long long>(W),
              static_cast<long long>(H), bytes / 1e6,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  uint8_t *d_src = nullptr, *d_out = nullptr;
  CHECK(cudaMalloc(&d_src, bytes));
  CHECK(cudaMalloc(&d_out, bytes));
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  float ms = 0;
  CHECK(cudaEventRecord(e0));
  CHECK(cudaMemcpy(d_src, scan.data(), bytes, cudaMemcpyHostToDevice));
  CHECK(cudaEventRecord(e1));
  CHECK(cudaEventSynchronize(e1));
  CHECK(cudaEventElapsedTime(&ms, e0, e1));
  std::printf("H2D %.1f ms (%.1f GB/s, pageable)\n", ms, bytes / 1e6 / ms);

  // The lattice over the whole output, built on the host as the backends build it per block.
  const auto tl = std::chrono::steady_clock::now();
  warp::Lattice lattice;
  lattice.build(host_view, 0, 0, W, H);
  const size_t cell_bytes = lattice.cells().size() * sizeof(warp::LatticeCell);
  const size_t node_bytes = lattice.nodes().size() * sizeof(warp::FixedPoint);
  uint8_t* d_lattice = nullptr;
  CHECK(cudaMalloc(&d_lattice, cell_bytes + node_bytes));
  CHECK(cudaMemcpy(d_lattice, lattice.cells().data(), cell_bytes, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(d_lattice + cell_bytes, lattice.nodes().data(), node_bytes, cudaMemcpyHostToDevice));
  warp::LatticeView d_view = lattice.view();
  d_view.cells = reinterpret_cast<const warp::LatticeCell*>(d_lattice);
  d_view.nodes = reinterpret_cast<const warp::FixedPoint*>(d_lattice + cell_bytes);
  std::printf("lattice: %zu cells, %zu nodes (%.1f MB), built on the host in %.2f s\n", lattice.cells().size(),
              lattice.nodes().size(), (cell_bytes + node_bytes) / 1e6,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - tl).count());

  const warp::SourceView src{d_src, 0, 0, W, H, W * 3, W, H};
  const warp::OutputBlock out{d_out, 0, 0, W, H, W * 3};
  const dim3 block(32, 8), grid(static_cast<unsigned>((W + 31) / 32), static_cast<unsigned>((H + 7) / 8));
  auto launch = [&](warp::Interp interp, bool exact) {
    if (exact)
      warp::warp_kernel<<<grid, block>>>(view, src, out, interp, warp::Rgb{});
    else
      warp::warp_kernel_lattice<<<grid, block>>>(d_view, src, out, interp, warp::Rgb{});
  };
  std::vector<uint8_t> rows(bytes / H);
  int failures = 0;
  for (bool exact : {false, true})
    for (warp::Interp interp : {warp::Interp::kNearest, warp::Interp::kBilinear, warp::Interp::kBicubic}) {
      launch(interp, exact);  // warm-up
      CHECK(cudaGetLastError());
      CHECK(cudaEventRecord(e0));
      for (int r = 0; r < repeat; ++r) launch(interp, exact);
      CHECK(cudaEventRecord(e1));
      CHECK(cudaEventSynchronize(e1));
      CHECK(cudaGetLastError());
      CHECK(cudaEventElapsedTime(&ms, e0, e1));
      const double kernel_s = ms / 1000.0 / repeat;
      // Correctness: 64 rows spread over the image, every column, against the CPU: identical bytes.
      size_t compared = 0, differ = 0;
      int worst = 0;
      for (int k = 0; k < 64; ++k) {
        const int64_t y = (H - 1) * k / 63;
        CHECK(cudaMemcpy(rows.data(), d_out + static_cast<size_t>(y) * W * 3, rows.size(), cudaMemcpyDeviceToHost));
        std::vector<uint8_t> cpu(rows.size());
        const warp::SourceView hsrc{scan.data(), 0, 0, W, H, W * 3, W, H};
        const warp::OutputBlock hout{cpu.data(), 0, y, W, 1, W * 3};
        const warp::Rgb fill{};
        for (int64_t i = 0; i < W; ++i) {
          if (exact)
            warp::warp_pixel(host_view, hsrc, hout, interp, fill, i, 0);
          else
            warp::warp_pixel_lattice(lattice.view(), hsrc, hout, interp, fill, i, 0);
        }
        for (size_t i = 0; i < cpu.size(); ++i) {
          const int d = std::abs(int(cpu[i]) - int(rows[i]));
          differ += d != 0;
          worst = d > worst ? d : worst;
        }
        compared += cpu.size();
      }
      failures += differ != 0;
      std::printf("%-8s %-7s kernel %.2f ms for %.0f MP: %.1f GP/s | vs CPU: %zu of %zu values differ (max %d) %s\n",
                  interp_name(interp), exact ? "exact" : "lattice", kernel_s * 1000, W * H / 1e6,
                  W * H / kernel_s / 1e9, differ, compared, worst, differ == 0 ? "PASS" : "FAIL");
    }
  CHECK(cudaEventRecord(e0));
  CHECK(cudaMemcpy(scan.data(), d_out, bytes, cudaMemcpyDeviceToHost));
  CHECK(cudaEventRecord(e1));
  CHECK(cudaEventSynchronize(e1));
  CHECK(cudaEventElapsedTime(&ms, e0, e1));
  std::printf("D2H %.1f ms (%.1f GB/s, pageable)\n", ms, bytes / 1e6 / ms);
  cudaFree(d_src);
  cudaFree(d_out);
  cudaFree(d_coef);
  cudaFree(d_lattice);
  std::printf("%s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
