#pragma once
// Deterministic, platform-independent hashing and random numbers for the synthetic pair
// (std:: distributions differ between standard libraries; these do not).
#include <cstdint>

namespace alinify::synth::detail {

inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t hash4(uint64_t seed, int64_t a, int64_t b, uint64_t salt) {
  uint64_t h = mix64(seed ^ (salt * 0xd6e8feb86659fd93ULL));
  h = mix64(h ^ static_cast<uint64_t>(a));
  return mix64(h ^ (static_cast<uint64_t>(b) * 0x9e3779b97f4a7c15ULL));
}

// Uniform in [0, 1) from the top 53 bits.
inline double unit(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(mix64(seed)) {}
  uint64_t next() { return mix64(s_++); }
  double uniform(double a, double b) { return a + (b - a) * unit(next()); }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t s_;
};

}  // namespace alinify::synth::detail
