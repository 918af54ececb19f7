// libFuzzer target: the points CSV of `alinify map-points` (PointsCsvReader).
// Invariants: every point returned is finite; the line number only grows.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "alinify/job/map_points.hpp"
#include "fuzz_common.hpp"

using namespace alinify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source = "fuzz_points.csv";
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    job::PointsCsvReader reader(in, source);
    Vec2 p{};
    int last = reader.line();
    while (reader.next(p)) {
      fuzz::expect(std::isfinite(p.x) && std::isfinite(p.y), "a non-finite point was accepted");
      fuzz::expect(reader.line() > last, "line number did not advance");
      last = reader.line();
    }
  } catch (const Error& e) {
    fuzz::expect_bad_input(e, source);
  }
  return 0;
}
