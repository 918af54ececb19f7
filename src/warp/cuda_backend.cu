// The CUDA backend: the same warp_pixel_lattice() (or warp_pixel(), --exact) as the CPU, one thread
// per output pixel. The host builds each block's lattice with the CPU's code (lattice_build.hpp, on
// the rank's share of the cores, as the CPU backend does) and
// sends it with the source window (80 bytes per 32 x 32 px cell where the transform is smooth,
// under 3 % of the window's bytes), so the GPU samples at the CPU's positions to the bit.
// Fused: position, sampling and uint8 output in one kernel; no float image. For --exact the B-spline
// coefficients live in device memory the view points to.
//
// Two blocks in flight (slots), each with pinned host staging, device buffers, its own stream and
// events: submit() copies the source window into pinned memory, queues H2D, kernel and D2H and
// returns, so the caller's GDAL read of the next block overlaps this one's transfers and kernel;
// the slot's result lands in the caller's buffer when the slot is reused or at drain().
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/warp/cuda_backend.hpp"
#include "alinify/warp/lattice_build.hpp"
#include "alinify/warp/warp_kernel_cuda.cuh"

namespace alinify::warp {
namespace {

void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess)
    fail_runtime(std::string("CUDA ") + what + " failed at " + file + ":" + std::to_string(line) + ": " +
                 cudaGetErrorString(e));
}
#define ALINIFY_CUDA(call) check((call), #call, __FILE__, __LINE__)

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t count = 0;
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr(o.ptr), count(o.count) { o.ptr = nullptr, o.count = 0; }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void reserve(size_t n) {
    if (n <= count) return;
    if (ptr) cudaFree(ptr);
    ptr = nullptr;
    count = 0;
    ALINIFY_CUDA(cudaMalloc(&ptr, n * sizeof(T)));
    count = n;
  }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

struct PinnedBuffer {
  uint8_t* ptr = nullptr;
  size_t count = 0;
  void reserve(size_t n) {
    if (n <= count) return;
    if (ptr) cudaFreeHost(ptr);
    ptr = nullptr;
    count = 0;
    ALINIFY_CUDA(cudaHostAlloc(reinterpret_cast<void**>(&ptr), n, cudaHostAllocDefault));
    count = n;
  }
  ~PinnedBuffer() {
    if (ptr) cudaFreeHost(ptr);
  }
};

struct Slot {
  PinnedBuffer h_src, h_out, h_lattice;
  DeviceBuffer<uint8_t> d_src, d_out, d_lattice;
  cudaStream_t stream{};
  cudaEvent_t ev[4]{};  // before H2D, after H2D, after kernel, after D2H
  bool busy = false;
  OutputBlock dst{};  // where the result goes (the caller's strip)
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, int sharing, int host_threads) : device_(device), host_threads_(host_threads) {
    ALINIFY_CUDA(cudaSetDevice(device_));
    size_t free_bytes = 0, total = 0;
    ALINIFY_CUDA(cudaMemGetInfo(&free_bytes, &total));
    // Keep a tenth back for the context, the coefficients and other processes' growth.
    budget_ = static_cast<uint64_t>(free_bytes * 0.9) / static_cast<uint64_t>(sharing > 0 ? sharing : 1);
    for (Slot& s : slots_) {
      ALINIFY_CUDA(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
      for (cudaEvent_t& e : s.ev) ALINIFY_CUDA(cudaEventCreate(&e));
    }
  }
  ~CudaBackend() override {
    cudaSetDevice(device_);
    for (Slot& s : slots_) {
      if (s.stream) cudaStreamSynchronize(s.stream);
      for (cudaEvent_t e : s.ev)
        if (e) cudaEventDestroy(e);
      if (s.stream) cudaStreamDestroy(s.stream);
    }
  }
  std::string name() const override { return "cuda:" + std::to_string(device_); }

  void set_transform(const transform::Transform& t) override {
    drain();
    ALINIFY_CUDA(cudaSetDevice(device_));
    host_ = t;
    view_ = host_.view();
    host_view_ = view_;
    coefs_.clear();
    coefs_.reserve(transform::kMaxStages);  // the views keep pointers into these buffers
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
    submit(src, out, s);
    drain();
  }

  void submit(const SourceView& src, const OutputBlock& out, const WarpSettings& s) override {
    ALINIFY_CUDA(cudaSetDevice(device_));
    Slot& slot = slots_[next_++ % kSlots];
    if (slot.busy) finish(slot);
    const size_t src_row = static_cast<size_t>(src.width) * 3;
    const size_t src_bytes = static_cast<size_t>(src.height) * src_row;
    const size_t out_row = static_cast<size_t>(out.width) * 3;
    const size_t out_bytes = static_cast<size_t>(out.height) * out_row;
    slot.h_src.reserve(src_bytes);
    slot.h_out.reserve(out_bytes);
    slot.d_src.reserve(src_bytes);
    slot.d_out.reserve(out_bytes);
    // The lattice is built before the first event, so that the H2D time is the transfers alone.
    const size_t lattice_bytes = s.exact ? 0 : build_lattice(slot, out);
    for (int64_t j = 0; j < src.height; ++j)  // the caller may reuse its window buffer at once
      std::memcpy(slot.h_src.ptr + j * src_row, src.data + j * src.stride, src_row);
    SourceView dsrc = src;
    dsrc.data = slot.d_src.ptr;
    dsrc.stride = static_cast<int64_t>(src_row);
    OutputBlock dout = out;
    dout.data = slot.d_out.ptr;
    dout.stride = static_cast<int64_t>(out_row);
    ALINIFY_CUDA(cudaEventRecord(slot.ev[0], slot.stream));
    ALINIFY_CUDA(cudaMemcpyAsync(slot.d_src.ptr, slot.h_src.ptr, src_bytes, cudaMemcpyHostToDevice, slot.stream));
    const LatticeView lattice = s.exact ? LatticeView{} : send_lattice(slot, lattice_bytes);
    ALINIFY_CUDA(cudaEventRecord(slot.ev[1], slot.stream));
    dim3 block(32, 8);
    dim3 grid(static_cast<unsigned>((out.width + 31) / 32), static_cast<unsigned>((out.height + 7) / 8));
    if (s.exact)
      warp_kernel<<<grid, block, 0, slot.stream>>>(view_, dsrc, dout, s.interp, s.fill);
    else
      warp_kernel_lattice<<<grid, block, 0, slot.stream>>>(lattice, dsrc, dout, s.interp, s.fill);
    ALINIFY_CUDA(cudaGetLastError());
    ALINIFY_CUDA(cudaEventRecord(slot.ev[2], slot.stream));
    ALINIFY_CUDA(cudaMemcpyAsync(slot.h_out.ptr, slot.d_out.ptr, out_bytes, cudaMemcpyDeviceToHost, slot.stream));
    ALINIFY_CUDA(cudaEventRecord(slot.ev[3], slot.stream));
    slot.dst = out;
    slot.busy = true;
  }

  void drain() override {
    for (Slot& s : slots_)
      if (s.busy) finish(s);
  }

  DeviceTimes device_times() const override { return times_; }
  uint64_t device_memory_budget() const override { return budget_; }

 private:
  static constexpr int kSlots = 2;

  // Builds the block's lattice on the host threads (lattice_build.cpp: compiled with OpenMP, which
  // nvcc's host pass is not) into the slot's pinned staging; returns its bytes.
  size_t build_lattice(Slot& slot, const OutputBlock& out) {
    build_lattice_threaded(lattice_, host_view_, out.x0, out.y0, out.width, out.height, host_threads_);
    const size_t cell_bytes = lattice_.cells().size() * sizeof(LatticeCell);
    const size_t bytes = cell_bytes + lattice_.nodes().size() * sizeof(FixedPoint);
    slot.h_lattice.reserve(bytes);
    slot.d_lattice.reserve(bytes);
    std::memcpy(slot.h_lattice.ptr, lattice_.cells().data(), cell_bytes);
    std::memcpy(slot.h_lattice.ptr + cell_bytes, lattice_.nodes().data(), bytes - cell_bytes);
    return bytes;
  }

  // Queues the staged lattice's copy to the device (before the kernel, on the slot's stream);
  // returns the view the kernel reads.
  LatticeView send_lattice(Slot& slot, size_t bytes) {
    ALINIFY_CUDA(cudaMemcpyAsync(slot.d_lattice.ptr, slot.h_lattice.ptr, bytes, cudaMemcpyHostToDevice, slot.stream));
    const size_t cell_bytes = lattice_.cells().size() * sizeof(LatticeCell);
    LatticeView v = lattice_.view();
    v.cells = reinterpret_cast<const LatticeCell*>(slot.d_lattice.ptr);
    v.nodes = reinterpret_cast<const FixedPoint*>(slot.d_lattice.ptr + cell_bytes);
    return v;
  }

  void finish(Slot& slot) {
    ALINIFY_CUDA(cudaSetDevice(device_));
    slot.busy = false;  // whatever happens next, the slot's block is done with
    ALINIFY_CUDA(cudaEventSynchronize(slot.ev[3]));
    float ms[3];
    for (int k = 0; k < 3; ++k) ALINIFY_CUDA(cudaEventElapsedTime(&ms[k], slot.ev[k], slot.ev[k + 1]));
    times_.measured = true;
    times_.h2d += ms[0] / 1000.0;
    times_.kernel += ms[1] / 1000.0;
    times_.d2h += ms[2] / 1000.0;
    const OutputBlock& o = slot.dst;
    const size_t out_row = static_cast<size_t>(o.width) * 3;
    for (int64_t j = 0; j < o.height; ++j) std::memcpy(o.data + j * o.stride, slot.h_out.ptr + j * out_row, out_row);
  }

  int device_;
  int host_threads_;
  uint64_t budget_ = 0;
  Slot slots_[kSlots];
  size_t next_ = 0;
  DeviceTimes times_;
  transform::Transform host_;
  transform::TransformView view_{};       // coefficients in device memory (--exact)
  transform::TransformView host_view_{};  // coefficients in host memory (the lattice)
  Lattice lattice_;
  std::vector<DeviceBuffer<double>> coefs_;
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

std::unique_ptr<Backend> make_cuda_backend(int device, int sharing, int host_threads) {
  return std::make_unique<CudaBackend>(device, sharing, std::max(1, host_threads));
}

}  // namespace alinify::warp
