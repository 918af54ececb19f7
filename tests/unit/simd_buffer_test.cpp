// core/simd_buffer: aligned for FFTW's SIMD code, reused within a thread, bounded.
#include "alinify/core/simd_buffer.hpp"

#include <gtest/gtest.h>

#include <complex>
#include <cstdint>
#include <thread>

namespace alinify::simd {
namespace {

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kAlignment == 0; }

TEST(SimdBuffer, EveryBufferIsAlignedForSimd) {
  for (const std::size_t n : {1, 3, 4096, 2048, 300000}) {
    Vector<std::complex<double>> v(n);
    EXPECT_TRUE(aligned(v.data())) << n;
  }
}

TEST(SimdBuffer, AReleasedBufferServesTheNextOfItsSizeOnTheSameThread) {
  const void* first = nullptr;
  {
    Vector<double> v(4096, 1.0);
    first = v.data();
  }
  Vector<double> again(4096, 2.0);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(again[4095], 2.0);  // a reused buffer is still initialised by the vector
  Vector<double> other_size(4095);
  EXPECT_NE(other_size.data(), first);
}

TEST(SimdBuffer, ANewSizeMakesRoomWhenTheCacheHoldsManySizes) {
  for (std::size_t k = 1; k <= 12; ++k) release(allocate(k * 1000), k * 1000);  // more sizes than kept
  void* p = allocate(77777);
  release(p, 77777);
  EXPECT_EQ(allocate(77777), p);
  release(p, 77777);
}

TEST(SimdBuffer, LargeBuffersAreNotKept) {
  const std::size_t large = kCachedBytes + 8, small = 8000;
  void* a = allocate(large);
  EXPECT_TRUE(aligned(a));
  const std::size_t before = cached_bytes();
  release(a, large);
  EXPECT_EQ(cached_bytes(), before);  // back to the heap
  void* b = allocate(small);
  const std::size_t held = cached_bytes();
  release(b, small);
  EXPECT_EQ(cached_bytes(), held + small);  // kept for the next of its size
  EXPECT_EQ(allocate(small), b);
  EXPECT_EQ(cached_bytes(), held);
  release(b, small);
}

TEST(SimdBuffer, ABufferMadeOnOneThreadMayBeFreedOnAnother) {
  Vector<double>* v = nullptr;
  std::thread make([&] { v = new Vector<double>(1000, 3.0); });
  make.join();
  EXPECT_EQ((*v)[999], 3.0);
  std::thread drop([&] { delete v; });  // into that thread's cache, freed when it ends
  drop.join();
}

}  // namespace
}  // namespace alinify::simd
