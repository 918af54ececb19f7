#pragma once
// Storage aligned for SIMD, reused within a thread.
//
// Aligned to 64 bytes (AVX-512's width, enough for every instruction set FFTW uses): FFTW runs
// its SIMD code only on arrays aligned as the plan's were, and on a std::vector's 16-byte storage
// it must be planned FFTW_UNALIGNED, which means scalar code (a 64x64 complex transform: 52.6 us
// against 15.0 us aligned, docs/performance-analysis.md).
//
// Reused: the refinement measures ~70,000 blocks, each with a dozen 32-64 KiB spectra made and
// dropped. Left to malloc, the heap's top was trimmed and grown again at every block (a quarter
// of a block's time in page faults); a freed buffer of up to kCachedBytes is kept for the next
// request of the same size on the same thread instead.
#include <cstddef>
#include <new>
#include <vector>

namespace alinify::simd {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kCachedBytes = 1 << 20;  // larger buffers (the coarse stage's) go to the heap

// Aligned storage of `bytes`, a cached one when this thread freed one of the same size.
void* allocate(std::size_t bytes);
// Back to this thread's cache (up to a few buffers a size) or to the heap.
void release(void* p, std::size_t bytes) noexcept;
// The bytes this thread's cache holds (freed, not yet handed out again).
std::size_t cached_bytes();

template <class T>
struct Allocator {
  using value_type = T;
  Allocator() = default;
  template <class U>
  Allocator(const Allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(simd::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { simd::release(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const Allocator<U>&) const noexcept {
    return false;
  }
};

template <class T>
using Vector = std::vector<T, Allocator<T>>;

}  // namespace alinify::simd
