// The CUDA backend: the same warp_pixel() as the CPU, one thread per output pixel.
// Fused: transform evaluation, sampling and uint8 output in one kernel; no float image and
// no sampling grid. The B-spline coefficients live in device memory the view points to.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/warp/cuda_backend.hpp"

namespace alinify::warp {
namespace {

void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess)
    fail_runtime(std::string("CUDA ") + what + " failed at " + file + ":" + std::to_string(line) + ": " +
                 cudaGetErrorString(e));
}
#define ALINIFY_CUDA(call) check((call), #call, __FILE__, __LINE__)

__global__ void warp_kernel(transform::TransformView t, SourceView src, OutputBlock out, Interp interp, uint8_t f0,
                            uint8_t f1, uint8_t f2) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t j = blockIdx.y * static_cast<int64_t>(blockDim.y) + threadIdx.y;
  if (i >= out.width || j >= out.height) return;
  const uint8_t fill[3] = {f0, f1, f2};
  warp_pixel(t, src, out, interp, fill, i, j);
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t count = 0;
  void reserve(size_t n) {
    if (n <= count) return;
    if (ptr) cudaFree(ptr);
    ALINIFY_CUDA(cudaMalloc(&ptr, n * sizeof(T)));
    count = n;
  }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    ALINIFY_CUDA(cudaSetDevice(device_));
    ALINIFY_CUDA(cudaStreamCreate(&stream_));
  }
  ~CudaBackend() override { cudaStreamDestroy(stream_); }
  std::string name() const override { return "cuda:" + std::to_string(device_); }

  void set_transform(const transform::Transform& t) override {
    host_ = t;
    view_ = host_.view();
    coefs_.clear();
    for (int k = 0; k < view_.n; ++k) {
      if (view_.s[k].kind != transform::StageKind::kBSpline) continue;
      const auto& b = host_.stages[k].bspline;
      coefs_.emplace_back();
      auto& c = coefs_.back();
      c.reserve(b.coef_x.size() * 2);
      ALINIFY_CUDA(cudaMemcpy(c.ptr, b.coef_x.data(), b.coef_x.size() * sizeof(double), cudaMemcpyHostToDevice));
      ALINIFY_CUDA(cudaMemcpy(c.ptr + b.coef_x.size(), b.coef_y.data(), b.coef_y.size() * sizeof(double),
                              cudaMemcpyHostToDevice));
      view_.s[k].coef_x = c.ptr;
      view_.s[k].coef_y = c.ptr + b.coef_x.size();
    }
  }

  void warp(const SourceView& src, const OutputBlock& out, const WarpSettings& s) override {
    const size_t src_bytes = static_cast<size_t>(src.height) * src.stride;
    const size_t out_row = static_cast<size_t>(out.width) * 3;
    const size_t out_bytes = static_cast<size_t>(out.height) * out_row;
    d_src_.reserve(src_bytes);
    d_out_.reserve(out_bytes);
    ALINIFY_CUDA(cudaMemcpyAsync(d_src_.ptr, src.data, src_bytes, cudaMemcpyHostToDevice, stream_));
    SourceView dsrc = src;
    dsrc.data = d_src_.ptr;
    OutputBlock dout = out;
    dout.data = d_out_.ptr;
    dout.stride = static_cast<int64_t>(out_row);
    dim3 block(32, 8);
    dim3 grid(static_cast<unsigned>((out.width + 31) / 32), static_cast<unsigned>((out.height + 7) / 8));
    warp_kernel<<<grid, block, 0, stream_>>>(view_, dsrc, dout, s.interp, s.fill[0], s.fill[1], s.fill[2]);
    ALINIFY_CUDA(cudaGetLastError());
    ALINIFY_CUDA(cudaMemcpy2DAsync(out.data, out.stride, d_out_.ptr, out_row, out_row, out.height,
                                   cudaMemcpyDeviceToHost, stream_));
    ALINIFY_CUDA(cudaStreamSynchronize(stream_));
  }

 private:
  int device_;
  cudaStream_t stream_{};
  transform::Transform host_;
  transform::TransformView view_{};
  std::vector<DeviceBuffer<double>> coefs_;
  DeviceBuffer<uint8_t> d_src_, d_out_;
};

}  // namespace

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace alinify::warp
