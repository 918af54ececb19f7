// XXH64 (Yann Collet's xxHash, 64-bit variant), written out from its public specification so that
// no library is needed; `xxhsum -H1` computes the same value.
#include "alinify/job/batch_checksum.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "alinify/core/error.hpp"

namespace alinify::job {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64, aarch64)
  return v;
}
inline uint32_t read32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t round(uint64_t acc, uint64_t input) {
  acc += input * kP2;
  acc = rotl(acc, 31);
  return acc * kP1;
}
inline uint64_t merge(uint64_t acc, uint64_t val) {
  acc ^= round(0, val);
  return acc * kP1 + kP4;
}

// Streaming state: 32-byte stripes go through four lanes; the tail is finished at the end.
struct State {
  uint64_t v[4];
  uint64_t total = 0;
  explicit State(uint64_t seed) : v{seed + kP1 + kP2, seed + kP2, seed, seed - kP1} {}
  // Consumes whole stripes; returns the bytes consumed.
  size_t stripes(const uint8_t* p, size_t n) {
    size_t done = 0;
    for (; done + 32 <= n; done += 32) {
      v[0] = round(v[0], read64(p + done));
      v[1] = round(v[1], read64(p + done + 8));
      v[2] = round(v[2], read64(p + done + 16));
      v[3] = round(v[3], read64(p + done + 24));
    }
    return done;
  }
  uint64_t finish(const uint8_t* p, size_t n, uint64_t seed) const {  // n < 32: the tail
    uint64_t h = total >= 32 ? rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18) : seed + kP5;
    if (total >= 32)
      for (int i = 0; i < 4; ++i) h = merge(h, v[i]);
    h += total;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      h ^= round(0, read64(p + i));
      h = rotl(h, 27) * kP1 + kP4;
    }
    if (i + 4 <= n) {
      h ^= static_cast<uint64_t>(read32(p + i)) * kP1;
      h = rotl(h, 23) * kP2 + kP3;
      i += 4;
    }
    for (; i < n; ++i) {
      h ^= p[i] * kP5;
      h = rotl(h, 11) * kP1;
    }
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
  }
};

}  // namespace

uint64_t xxh64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  State s(seed);
  s.total = size;
  size_t done = s.stripes(p, size);
  return s.finish(p + done, size - done, seed);
}

uint64_t xxh64_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_input(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  std::vector<uint8_t> buf(4u << 20);
  size_t have = 0;  // unconsumed bytes at the start of buf (< 32)
  State s(0);
  for (;;) {
    ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail_input(path, std::string("read error: ") + std::strerror(errno));
    }
    if (n == 0) break;
    s.total += static_cast<uint64_t>(n);
    have += static_cast<size_t>(n);
    size_t used = s.stripes(buf.data(), have);
    std::memmove(buf.data(), buf.data() + used, have - used);
    have -= used;
  }
  ::close(fd);
  return s.finish(buf.data(), have, 0);
}

std::string hex64(uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = d[v & 15];
  return s;
}

}  // namespace alinify::job
