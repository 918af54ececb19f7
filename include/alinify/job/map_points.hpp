#pragma once
// `alinify map-points`: design pixel -> scan pixel for a list of points (users locating defects).
#include <istream>
#include <string>

#include "alinify/transform/transform.hpp"

namespace alinify::job {

// The points CSV reader map_points streams through (one row at a time: no buffer proportional to
// the file). The constructor reads the header (bad input if it has no x and y columns); next()
// returns false at the end and throws bad input naming `source` and the line on a malformed row.
// Public for the unit tests and the fuzz target tests/fuzz/fuzz_points_csv.cpp.
class PointsCsvReader {
 public:
  PointsCsvReader(std::istream& in, std::string source);
  bool next(Vec2& p);
  int line() const { return line_; }

 private:
  std::istream& in_;
  std::string source_;
  int cx_ = -1, cy_ = -1;
  int columns_ = 0;  // the header's
  int line_ = 0;
};

// Reads CSV with a header containing columns x and y once each (design pixels, any other columns
// ignored), writes x,y,scan_x,scan_y. Returns the number of points. Malformed rows (too few or
// more fields than the header) are bad input naming the file and line; the output is written
// under a temporary name and renamed, and may be neither input (`transform_json` is t's file).
int64_t map_points(const transform::Transform& t, const std::string& transform_json, const std::string& in_csv,
                   const std::string& out_csv);

}  // namespace alinify::job
