#include "alinify/job/map_points.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
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

PointsCsvReader::PointsCsvReader(std::istream& in, std::string source) : in_(in), source_(std::move(source)) {
  std::string line;
  if (!std::getline(in_, line)) fail_input(source_, "is empty; a header with columns x,y is expected");
  line_ = 1;
  auto header = split_csv(line);
  columns_ = static_cast<int>(header.size());
  for (size_t i = 0; i < header.size(); ++i)
    for (auto [name, column] : {std::pair<const char*, int*>{"x", &cx_}, {"y", &cy_}}) {
      if (header[i] != name) continue;
      // Which of the two would be the point is a guess: refused instead.
      if (*column >= 0) fail_input(source_, std::string("line 1: the header names column ") + name + " twice");
      *column = static_cast<int>(i);
    }
  if (cx_ < 0 || cy_ < 0) fail_input(source_, "line 1: header must name columns x and y");
}

bool PointsCsvReader::next(Vec2& p) {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
    auto cells = split_csv(line);
    if (static_cast<int>(cells.size()) <= std::max(cx_, cy_))
      fail_input(source_, "line " + std::to_string(line_) + ": too few columns");
    // More cells than the header names: a comma inside a value, or a column shifted; either way
    // the x and y read here may not be the row's.
    if (static_cast<int>(cells.size()) > columns_)
      fail_input(source_, "line " + std::to_string(line_) + ": " + std::to_string(cells.size()) +
                              " fields, the header names " + std::to_string(columns_));
    p.x = parse_number(cells[cx_], source_, line_);
    p.y = parse_number(cells[cy_], source_, line_);
    return true;
  }
  return false;
}

int64_t map_points(const transform::Transform& t, const std::string& transform_json, const std::string& in_csv,
                   const std::string& out_csv) {
  paths::refuse_overwriting_inputs({{"--out", out_csv}}, {{"--transform", transform_json}, {"--in", in_csv}});
  paths::require_input_file(in_csv);
  std::ifstream in(in_csv);
  if (!in) fail_input(in_csv, std::filesystem::exists(in_csv) ? "cannot be read" : "no such file");
  PointsCsvReader reader(in, in_csv);
  paths::require_writable_folder(out_csv);
  int64_t n = 0;
  files::write_atomically(out_csv, [&](std::ostream& out) {
    if (!out) fail_input(out_csv, "cannot be written");
    out << "x,y,scan_x,scan_y\n";
    for (Vec2 p{}; reader.next(p); ++n) {
      const Vec2 q = t.apply(p);
      out << fmt::format("{:.17g},{:.17g},{:.6f},{:.6f}\n", p.x, p.y, q.x, q.y);
    }
  });
  return n;
}

}  // namespace alinify::job
