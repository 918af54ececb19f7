#include "alinify/core/simd_buffer.hpp"

#include <algorithm>

namespace alinify::simd {

namespace {

constexpr std::size_t kPerSize = 8;  // buffers kept per size: a block holds about a dozen at once

// Set when this thread's cache is destroyed: a thread_local destroyed before it (the block
// matcher's kernel cache, say) may still release buffers, which then go to the heap. A bool needs
// no destructor, so it outlives every object of the thread.
thread_local bool gone = false;

// One thread's freed buffers by size, for the kSizes sizes used last; returned to the heap when
// the thread ends.
class Cache {
 public:
  Cache() = default;
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;
  ~Cache() {
    gone = true;
    for (Size& s : sizes_) drop(s);
  }

  void* take(std::size_t bytes) {
    for (Size& s : sizes_)
      if (s.bytes == bytes && !s.buffers.empty()) {
        s.last_use = ++clock_;
        void* p = s.buffers.back();
        s.buffers.pop_back();
        return p;
      }
    return nullptr;
  }

  std::size_t bytes_kept() const {
    std::size_t total = 0;
    for (const Size& s : sizes_) total += s.bytes * s.buffers.size();
    return total;
  }

  bool keep(void* p, std::size_t bytes) {
    auto it = std::find_if(sizes_.begin(), sizes_.end(), [&](const Size& s) { return s.bytes == bytes; });
    if (it == sizes_.end()) {
      if (sizes_.size() < kSizes) {
        sizes_.emplace_back();
        it = sizes_.end() - 1;
      } else {  // a size used long ago (the coarse stage's, say) makes room for this one
        it = std::min_element(sizes_.begin(), sizes_.end(),
                              [](const Size& a, const Size& b) { return a.last_use < b.last_use; });
        drop(*it);
      }
      it->bytes = bytes;
    }
    if (it->buffers.size() >= kPerSize) return false;
    it->last_use = ++clock_;
    it->buffers.push_back(p);
    return true;
  }

 private:
  struct Size {
    std::size_t bytes = 0;
    std::vector<void*> buffers;
    unsigned long long last_use = 0;
  };
  static void drop(Size& s) {
    for (void* p : s.buffers) ::operator delete (p, std::align_val_t{kAlignment});
    s.buffers.clear();
  }
  static constexpr std::size_t kSizes = 8;  // distinct sizes kept (a block uses three or four)
  std::vector<Size> sizes_;
  unsigned long long clock_ = 0;
};

Cache* cache() {
  if (gone) return nullptr;
  thread_local Cache c;
  return &c;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (Cache* c = bytes <= kCachedBytes ? cache() : nullptr)
    if (void* p = c->take(bytes)) return p;
  return ::operator new (bytes, std::align_val_t{kAlignment});
}

std::size_t cached_bytes() {
  const Cache* c = cache();
  return c ? c->bytes_kept() : 0;
}

void release(void* p, std::size_t bytes) noexcept {
  if (!p) return;
  if (bytes == 0) bytes = 1;
  try {
    if (Cache* c = bytes <= kCachedBytes ? cache() : nullptr; c && c->keep(p, bytes)) return;
  } catch (...) {  // the cache could not grow: the heap takes it back
  }
  ::operator delete (p, std::align_val_t{kAlignment});
}

}  // namespace alinify::simd
