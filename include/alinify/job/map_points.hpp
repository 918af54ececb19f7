#pragma once
// `alinify map-points`: design pixel -> scan pixel for a list of points (users locating defects).
#include <string>

#include "alinify/transform/transform.hpp"

namespace alinify::job {

// Reads CSV with a header containing columns x and y (design pixels, any other columns ignored),
// writes x,y,scan_x,scan_y. Returns the number of points. Malformed rows are bad input naming
// the file and line; the output is written under a temporary name and renamed.
int64_t map_points(const transform::Transform& t, const std::string& in_csv, const std::string& out_csv);

}  // namespace alinify::job
