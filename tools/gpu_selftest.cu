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

struct Args {
  int64_t W = 18960, H = 14960;
  int device = 0, repeat = 3;
};

Args parse_args(int argc, char** argv) {
  Args r;
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
      r.W = std::atoll(next());
    else if (a == "--height")
      r.H = std::atoll(next());
    else if (a == "--device")
      r.device = std::atoi(next());
    else if (a == "--repeat")
      r.repeat = std::atoi(next());
    else {
      std::fprintf(stderr, "usage: alinify_gpu_selftest [--width N] [--height N] [--device N] [--repeat N]\n");
      std::exit(2);
    }
  }
  if (r.W < 64 || r.H < 64 || r.repeat < 1) {
    std::fprintf(stderr, "alinify_gpu_selftest: --width/--height must be >= 64 and --repeat >= 1\n");
    std::exit(2);
  }
  return r;
}

// Chooses the device; exits 77 (skip) when there is none.
void open_device(int device) {
  int count = 0;
  const cudaError_t probe = cudaGetDeviceCount(&count);
  if (probe != cudaSuccess || count == 0) {
    std::printf("alinify_gpu_selftest: no CUDA device visible (%s): skipped\n",
                probe != cudaSuccess ? cudaGetErrorString(probe) : "the driver lists none");
    std::exit(77);
  }
  if (device >= count) {
    std::fprintf(stderr, "alinify_gpu_selftest: --device %d: %d device(s) visible\n", device, count);
    std::exit(2);
  }
  CHECK(cudaSetDevice(device));
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, device));
  std::printf("device %d: %s, %.1f GiB, compute %d.%d\n", device, prop.name, prop.totalGlobalMem / 1073741824.0,
              prop.major, prop.minor);
}

// The scan: the output's size, smooth colour plus hashed noise (so interpolation differences show).
std::vector<uint8_t> make_scan(int64_t W, int64_t H) {
  std::vector<uint8_t> scan(static_cast<size_t>(W) * H * 3);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const uint32_t h = mix(static_cast<uint64_t>(y) * W + x);
      uint8_t* p = &scan[(static_cast<size_t>(y) * W + x) * 3];
      p[0] = static_cast<uint8_t>(128 + 90 * std::sin(0.013 * x) + (h & 15));
      p[1] = static_cast<uint8_t>(128 + 90 * std::sin(0.011 * y) + ((h >> 4) & 15));
      p[2] = static_cast<uint8_t>((x ^ y) & 0xff);
    }
  return scan;
}

// The transform: a turned, shifted affine plus a B-spline every 1024 px (gx x gy control points,
// coefficients x then y) with +-3 px displacements.
transform::TransformView make_view(int gx, int gy, const double* coef) {
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
  view.s[1].coef_x = coef, view.s[1].coef_y = coef + static_cast<size_t>(gx) * gy;
  return view;
}

// The lattice over the whole output, built on the host as the backends build it per block, and
// its copy on the device (*d_lattice, for cudaFree).
warp::LatticeView upload_lattice(const warp::Lattice& lattice, uint8_t** d_lattice) {
  const size_t cell_bytes = lattice.cells().size() * sizeof(warp::LatticeCell);
  const size_t node_bytes = lattice.nodes().size() * sizeof(warp::FixedPoint);
  CHECK(cudaMalloc(d_lattice, cell_bytes + node_bytes));
  CHECK(cudaMemcpy(*d_lattice, lattice.cells().data(), cell_bytes, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(*d_lattice + cell_bytes, lattice.nodes().data(), node_bytes, cudaMemcpyHostToDevice));
  warp::LatticeView v = lattice.view();
  v.cells = reinterpret_cast<const warp::LatticeCell*>(*d_lattice);
  v.nodes = reinterpret_cast<const warp::FixedPoint*>(*d_lattice + cell_bytes);
  std::printf("lattice: %zu cells, %zu nodes (%.1f MB)\n", lattice.cells().size(), lattice.nodes().size(),
              (cell_bytes + node_bytes) / 1e6);
  return v;
}

// What the GPU and the CPU are given: the device's and the host's copies of the same things.
struct Case {
  transform::TransformView d_view, h_view;  // coefficients on the device / on the host
  warp::LatticeView d_lattice, h_lattice;
  warp::SourceView d_src, h_src;
  warp::OutputBlock d_out;
};

// 64 rows spread over the image, every column, the GPU's against the CPU's: identical bytes.
// Returns how many values differ; *worst is the largest difference.
size_t compare_rows(const Case& c, warp::Interp interp, bool exact, int* worst) {
  const int64_t W = c.d_out.width, H = c.d_out.height;
  std::vector<uint8_t> rows(static_cast<size_t>(W) * 3), cpu(rows.size());
  size_t differ = 0;
  *worst = 0;
  for (int k = 0; k < 64; ++k) {
    const int64_t y = (H - 1) * k / 63;
    CHECK(cudaMemcpy(rows.data(), c.d_out.data + static_cast<size_t>(y) * W * 3, rows.size(), cudaMemcpyDeviceToHost));
    const warp::OutputBlock hout{cpu.data(), 0, y, W, 1, W * 3};
    for (int64_t i = 0; i < W; ++i) {
      if (exact)
        warp::warp_pixel(c.h_view, c.h_src, hout, interp, warp::Rgb{}, i, 0);
      else
        warp::warp_pixel_lattice(c.h_lattice, c.h_src, hout, interp, warp::Rgb{}, i, 0);
    }
    for (size_t i = 0; i < cpu.size(); ++i) {
      const int d = std::abs(int(cpu[i]) - int(rows[i]));
      differ += d != 0;
      *worst = d > *worst ? d : *worst;
    }
  }
  return differ;
}

// Times one kernel (lattice or --exact) and compares it with the CPU; false on a mismatch.
bool check_kernel(const Case& c, warp::Interp interp, bool exact, int repeat) {
  const int64_t W = c.d_out.width, H = c.d_out.height;
  const dim3 block(32, 8), grid(static_cast<unsigned>((W + 31) / 32), static_cast<unsigned>((H + 7) / 8));
  auto launch = [&]() {
    if (exact)
      warp::warp_kernel<<<grid, block>>>(c.d_view, c.d_src, c.d_out, interp, warp::Rgb{});
    else
      warp::warp_kernel_lattice<<<grid, block>>>(c.d_lattice, c.d_src, c.d_out, interp, warp::Rgb{});
  };
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  launch();  // warm-up
  CHECK(cudaGetLastError());
  CHECK(cudaEventRecord(e0));
  for (int r = 0; r < repeat; ++r) launch();
  CHECK(cudaEventRecord(e1));
  CHECK(cudaEventSynchronize(e1));
  CHECK(cudaGetLastError());
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, e0, e1));
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  const double kernel_s = ms / 1000.0 / repeat;
  int worst = 0;
  const size_t differ = compare_rows(c, interp, exact, &worst);
  std::printf("%-8s %-7s kernel %.2f ms for %.0f MP: %.1f GP/s | vs CPU: %zu of %zu values differ (max %d) %s\n",
              interp_name(interp), exact ? "exact" : "lattice", kernel_s * 1000, W * H / 1e6, W * H / kernel_s / 1e9,
              differ, static_cast<size_t>(64 * W * 3), worst, differ == 0 ? "PASS" : "FAIL");
  return differ == 0;
}

// Copies `bytes` between host and device and prints the rate.
void timed_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what) {
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  CHECK(cudaEventRecord(e0));
  CHECK(cudaMemcpy(dst, src, bytes, kind));
  CHECK(cudaEventRecord(e1));
  CHECK(cudaEventSynchronize(e1));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, e0, e1));
  std::printf("%s %.1f ms (%.1f GB/s, pageable)\n", what, ms, bytes / 1e6 / ms);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  const int64_t W = args.W, H = args.H;
  open_device(args.device);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<uint8_t> scan = make_scan(W, H);
  const size_t bytes = scan.size();
  const int gx = static_cast<int>(W / 1024) + 4, gy = static_cast<int>(H / 1024) + 4;
  std::vector<double> coef(2 * static_cast<size_t>(gx) * gy);
  for (size_t k = 0; k < coef.size(); ++k) coef[k] = 3.0 * std::sin(0.7 * k + 0.3);
  double* d_coef = nullptr;
  CHECK(cudaMalloc(&d_coef, coef.size() * sizeof(double)));
  CHECK(cudaMemcpy(d_coef, coef.data(), coef.size() * sizeof(double), cudaMemcpyHostToDevice));
  std::printf("pair %lldx%lld RGB (%.0f MB each) made in %.1f s\n", static_cast<long long>(W),
              static_cast<long long>(H), bytes / 1e6,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  Case c{};
  c.h_view = make_view(gx, gy, coef.data());
  c.d_view = make_view(gx, gy, d_coef);
  const auto tl = std::chrono::steady_clock::now();
  warp::Lattice lattice;
  lattice.build(c.h_view, 0, 0, W, H);
  std::printf("lattice built on the host (one thread) in %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - tl).count());
  uint8_t *d_src = nullptr, *d_out = nullptr, *d_lattice = nullptr;
  CHECK(cudaMalloc(&d_src, bytes));
  CHECK(cudaMalloc(&d_out, bytes));
  timed_copy(d_src, scan.data(), bytes, cudaMemcpyHostToDevice, "H2D");
  c.h_lattice = lattice.view();
  c.d_lattice = upload_lattice(lattice, &d_lattice);
  c.d_src = {d_src, 0, 0, W, H, W * 3, W, H};
  c.h_src = {scan.data(), 0, 0, W, H, W * 3, W, H};
  c.d_out = {d_out, 0, 0, W, H, W * 3};
  int failures = 0;
  for (bool exact : {false, true})
    for (warp::Interp interp : {warp::Interp::kNearest, warp::Interp::kBilinear, warp::Interp::kBicubic})
      failures += !check_kernel(c, interp, exact, args.repeat);
  timed_copy(scan.data(), d_out, bytes, cudaMemcpyDeviceToHost, "D2H");
  cudaFree(d_src);
  cudaFree(d_out);
  cudaFree(d_coef);
  cudaFree(d_lattice);
  std::printf("%s\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
