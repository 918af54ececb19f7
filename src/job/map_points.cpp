#include "alinify/job/map_points.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"

namespace alinify::job {
namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
    while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
    out.push_back(cell);
  }
  return out;
}

double parse_number(const std::string& s, const std::string& file, int line) {
  try {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    if (pos == s.size() && std::isfinite(v)) return v;
    if (pos == s.size()) fail_input(file, "line " + std::to_string(line) + ": '" + s + "' is not a finite number");
  } catch (const Error&) {
    throw;
  } catch (...) {
  }
  fail_input(file, "line " + std::to_string(line) + ": '" + s + "' is not a number");
}

}  // namespace

int64_t map_points(const transform::Transform& t, const std::string& in_csv, const std::string& out_csv) {
  paths::refuse_overwriting_inputs({{"--out", out_csv}}, {{"--in", in_csv}});
  paths::require_input_file(in_csv);
  std::ifstream in(in_csv);
  if (!in) fail_input(in_csv, std::filesystem::exists(in_csv) ? "cannot be read" : "no such file");
  std::string line;
  if (!std::getline(in, line)) fail_input(in_csv, "is empty; a header with columns x,y is expected");
  auto header = split_csv(line);
  int cx = -1, cy = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "x") cx = static_cast<int>(i);
    if (header[i] == "y") cy = static_cast<int>(i);
  }
  if (cx < 0 || cy < 0) fail_input(in_csv, "line 1: header must name columns x and y");
  paths::require_writable_folder(out_csv);
  const std::string tmp = out_csv + ".partial";
  std::ofstream out(tmp);
  if (!out) fail_input(out_csv, "cannot be written");
  out << "x,y,scan_x,scan_y\n";
  int64_t n = 0;
  int lineno = 1;
  char buf[128];
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
    auto cells = split_csv(line);
    if (static_cast<int>(cells.size()) <= std::max(cx, cy)) {
      out.close();
      std::filesystem::remove(tmp);
      fail_input(in_csv, "line " + std::to_string(lineno) + ": too few columns");
    }
    double x = 0, y = 0;
    try {
      x = parse_number(cells[cx], in_csv, lineno);
      y = parse_number(cells[cy], in_csv, lineno);
    } catch (...) {
      out.close();
      std::filesystem::remove(tmp);
      throw;
    }
    Vec2 q = t.apply({x, y});
    std::snprintf(buf, sizeof buf, "%.17g,%.17g,%.6f,%.6f\n", x, y, q.x, q.y);
    out << buf;
    ++n;
  }
  out.close();
  if (!out) {
    std::filesystem::remove(tmp);
    fail_runtime("cannot write " + out_csv + " (disk full?)");
  }
  std::filesystem::rename(tmp, out_csv);
  return n;
}

}  // namespace alinify::job
