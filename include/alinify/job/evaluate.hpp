#pragma once
// Registration error against a synthetic pair's truth, over a dense grid of the design.
#include <cstdint>
#include <string>

#include "alinify/synth/truth.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::job {

struct EvalResult {
  int64_t points = 0;                             // design grid points whose mapped position falls inside the scan
  double mean = 0, median = 0, p95 = 0, max = 0;  // pixels
  std::string to_json_text() const;
};

// For each design point p on a grid with `step` px spacing: error = |truth(T(p)) - p|.
// Memory is bounded (histogram quantiles at 1e-4 px resolution), whatever the image size.
EvalResult evaluate(const transform::Transform& t, const synth::Truth& truth, int step);

}  // namespace alinify::job
