#pragma once
// The lower nearest-rank quantile of a small sample (the refinement's block residuals, the report's
// colour scales): the value at floor(q * (n - 1)) once sorted, non-finite values left out, 0 when
// nothing is left. Copies and sorts: for thousands of values, not for pixels.
#include <algorithm>
#include <cmath>
#include <vector>

namespace alinify {

template <class T>
double lower_quantile(std::vector<T> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](T x) { return !std::isfinite(static_cast<double>(x)); }), v.end());
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[static_cast<size_t>(std::floor(q * static_cast<double>(v.size() - 1)))]);
}

}  // namespace alinify
