#include "alinify/transform/elastix_params.hpp"

#include <spdlog/fmt/fmt.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/paths.hpp"

namespace alinify::transform {
namespace fs = std::filesystem;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

bool is_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// A strict double: the whole token, finite.
bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;  // from_chars rejects a leading '+', elastix's strtod accepts it
  double v = 0;
  auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e) return false;
  if (!std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_int(const std::string& s, long long* out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  long long v = 0;
  auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e) {
    // elastix writes some integers as "4.000000"; accept an integral double.
    double d;
    if (!parse_double(s, &d) || d != std::floor(d) || std::fabs(d) > 9e15) return false;
    v = static_cast<long long>(d);
  }
  *out = v;
  return true;
}

std::string read_text_file(const std::string& path) {
  paths::require_input_file(path);
  return files::read_file(path, "the elastix parameter file");
}

// Typed access to one parsed file, errors naming the file.
class Params {
 public:
  Params(const ParameterMap& m, std::string file) : m_(m), file_(std::move(file)) {}

  bool has(const std::string& key) const { return m_.count(key) != 0; }
  const std::vector<std::string>& values(const std::string& key) const {
    auto it = m_.find(key);
    if (it == m_.end()) fail_input(file_, "missing (" + key + " ...)");
    return it->second;
  }
  std::string str(const std::string& key, const std::string& fallback) const {
    auto it = m_.find(key);
    if (it == m_.end()) return fallback;
    if (it->second.size() != 1) fail_input(file_, "(" + key + ") must have exactly one value");
    return it->second[0];
  }
  std::string str(const std::string& key) const {
    const auto& v = values(key);
    if (v.size() != 1) fail_input(file_, "(" + key + ") must have exactly one value");
    return v[0];
  }
  std::vector<double> doubles(const std::string& key, size_t expect) const {
    const auto& v = values(key);
    if (expect != 0 && v.size() != expect)
      fail_input(file_,
                 "(" + key + ") has " + std::to_string(v.size()) + " values; expected " + std::to_string(expect));
    std::vector<double> out(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      if (!parse_double(v[i], &out[i])) fail_input(file_, "(" + key + ") value '" + v[i] + "' is not a finite number");
    return out;
  }
  long long integer(const std::string& key) const {
    long long v;
    if (!parse_int(str(key), &v)) fail_input(file_, "(" + key + ") value '" + str(key) + "' is not an integer");
    return v;
  }
  std::vector<long long> integers(const std::string& key, size_t expect) const {
    const auto& v = values(key);
    if (v.size() != expect)
      fail_input(file_,
                 "(" + key + ") has " + std::to_string(v.size()) + " values; expected " + std::to_string(expect));
    std::vector<long long> out(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      if (!parse_int(v[i], &out[i])) fail_input(file_, "(" + key + ") value '" + v[i] + "' is not an integer");
    return out;
  }
  const std::string& file() const { return file_; }

 private:
  const ParameterMap& m_;
  std::string file_;
};

// Centre-of-rotation form: q = M (p - c) + c + t  ->  offset = c + t - M c.
Affine centred(const double m[4], double tx, double ty, const std::vector<double>& c) {
  Affine a;
  for (int i = 0; i < 4; ++i) a.m[i] = m[i];
  a.offset[0] = c[0] + tx - (m[0] * c[0] + m[1] * c[1]);
  a.offset[1] = c[1] + ty - (m[2] * c[0] + m[3] * c[1]);
  return a;
}

// ---- parse_stage, step by step.

// Only 2D transforms with their parameters written as text.
void require_supported_layout(const Params& p) {
  for (const char* dim_key : {"FixedImageDimension", "MovingImageDimension"}) {
    if (p.has(dim_key) && p.integer(dim_key) != 2)
      fail_input(p.file(), std::string("(") + dim_key + " " + p.str(dim_key) + "): only 2D transforms are supported");
  }
  if (p.has("UseBinaryFormatForTransformationParameters") &&
      p.str("UseBinaryFormatForTransformationParameters") == "true")
    fail_input(p.file(),
               "binary transform parameters (UseBinaryFormatForTransformationParameters \"true\") are not supported");
}

Combine read_combine(const Params& p) {
  const std::string combine = p.str("HowToCombineTransforms", "Compose");
  if (combine == "Compose") return Combine::kCompose;
  if (combine == "Add") return Combine::kAdd;
  fail_input(p.file(), "(HowToCombineTransforms \"" + combine + "\") is not supported; expected Compose or Add");
}

// (TransformParameters ...), as many as (NumberOfParameters) says.
std::vector<double> read_parameters(const Params& p) {
  const long long n = p.integer("NumberOfParameters");
  std::vector<double> par = p.doubles("TransformParameters", 0);
  if (n < 0 || static_cast<size_t>(n) != par.size())
    fail_input(p.file(), "(NumberOfParameters " + std::to_string(n) + ") does not match the " +
                             std::to_string(par.size()) + " TransformParameters");
  return par;
}

// Translation, Euler, Similarity and Affine: each one affine map. Nothing for any other type.
std::optional<Affine> read_affine_kind(const Params& p, const std::string& type, const std::vector<double>& par) {
  auto need = [&](size_t count) {
    if (par.size() != count)
      fail_input(p.file(), type + " in 2D has " + std::to_string(count) + " parameters, the file has " +
                               std::to_string(par.size()) + " (a 3D transform is not supported)");
  };
  if (type == "TranslationTransform") {
    need(2);
    Affine a;
    a.offset[0] = par[0];
    a.offset[1] = par[1];
    return a;
  }
  if (type == "EulerTransform") {
    need(3);
    const double c = std::cos(par[0]), s = std::sin(par[0]);
    const double m[4] = {c, -s, s, c};
    return centred(m, par[1], par[2], p.doubles("CenterOfRotationPoint", 2));
  }
  if (type == "SimilarityTransform") {
    need(4);
    const double k = par[0], c = std::cos(par[1]), s = std::sin(par[1]);
    const double m[4] = {k * c, -k * s, k * s, k * c};
    return centred(m, par[2], par[3], p.doubles("CenterOfRotationPoint", 2));
  }
  if (type == "AffineTransform") {
    need(6);
    const double m[4] = {par[0], par[1], par[2], par[3]};
    return centred(m, par[4], par[5], p.doubles("CenterOfRotationPoint", 2));
  }
  return std::nullopt;
}

// A broken B-spline rule in the parameter file's key names.
[[noreturn]] void bad_bspline(const Params& p, const BSplineProblem& problem) {
  using Rule = BSplineProblem::Rule;
  const auto& gs = p.values("GridSize");
  switch (problem.rule) {
    case Rule::kGridSizeOutOfRange:
      fail_input(p.file(), "(GridSize " + gs[0] + " " + gs[1] + ") is not a valid grid size");
    case Rule::kTooManyGridPoints:
      static_assert(kMaxGridPoints == int64_t(1) << 24, "the message below names the limit");
      fail_input(p.file(), "(GridSize " + gs[0] + " " + gs[1] + ") claims more than 2^24 control points");
    case Rule::kSpacingNotPositive:
      fail_input(p.file(), "(GridSpacing) must be positive");
    case Rule::kDirectionSingular:
      fail_input(p.file(), "(GridDirection) is singular");
    case Rule::kCoefficientCount:
      break;
  }
  fail_input(p.file(), "the B-spline coefficients do not match (GridSize)");
}

// BSplineTransform and RecursiveBSplineTransform: the same file format and the same cubic B-spline
// (RecursiveBSpline is only a faster evaluation in elastix).
BSpline read_bspline(const Params& p, const std::vector<double>& par) {
  if (p.has("BSplineTransformSplineOrder") && p.integer("BSplineTransformSplineOrder") != 3)
    fail_input(p.file(), "(BSplineTransformSplineOrder " + p.str("BSplineTransformSplineOrder") +
                             "): only cubic (3) B-splines are supported");
  if (p.has("UseCyclicTransform") && p.str("UseCyclicTransform") == "true")
    fail_input(p.file(), "cyclic B-spline transforms (UseCyclicTransform \"true\") are not supported");
  const auto& gs = p.values("GridSize");
  if (gs.size() != 2)
    fail_input(p.file(), "(GridSize) has " + std::to_string(gs.size()) + " values: only 2D is supported");
  const auto size = p.integers("GridSize", 2);
  if (const auto problem = validate_grid_size(size[0], size[1])) bad_bspline(p, *problem);
  const auto index = p.integers("GridIndex", 2);
  if (index[0] != 0 || index[1] != 0)
    fail_input(p.file(), "(GridIndex " + std::to_string(index[0]) + " " + std::to_string(index[1]) +
                             "): only GridIndex 0 0 is supported");
  const auto spacing = p.doubles("GridSpacing", 2);
  const auto origin = p.doubles("GridOrigin", 2);
  const auto direction = p.has("GridDirection") ? p.doubles("GridDirection", 4) : std::vector<double>{1, 0, 0, 1};
  const size_t points = static_cast<size_t>(size[0] * size[1]);
  if (par.size() != 2 * points)
    fail_input(p.file(), "a " + std::to_string(size[0]) + "x" + std::to_string(size[1]) +
                             " B-spline grid in 2D needs " + std::to_string(2 * points) + " parameters, the file has " +
                             std::to_string(par.size()));
  BSpline b;
  for (int i = 0; i < 2; ++i) {
    b.origin[i] = origin[i];
    b.spacing[i] = spacing[i];
    b.size[i] = static_cast<int>(size[i]);
  }
  // elastix writes the direction matrix row-major (as ITK's fixed parameters).
  std::copy(direction.begin(), direction.end(), b.direction);
  b.coef_x.assign(par.begin(), par.begin() + static_cast<std::ptrdiff_t>(points));
  b.coef_y.assign(par.begin() + static_cast<std::ptrdiff_t>(points), par.end());
  if (const auto problem = validate(b)) bad_bspline(p, *problem);
  return b;
}

Stage parse_stage(const ParameterMap& map, const std::string& file) {
  const Params p(map, file);
  require_supported_layout(p);
  Stage st;
  st.combine = read_combine(p);
  const std::string type = p.str("Transform");
  const std::vector<double> par = read_parameters(p);
  if (auto affine = read_affine_kind(p, type, par)) {
    st.kind = StageKind::kAffine;
    st.affine = *affine;
  } else if (type == "BSplineTransform" || type == "RecursiveBSplineTransform") {
    st.kind = StageKind::kBSpline;
    st.bspline = read_bspline(p, par);
  } else {
    fail_input(file, "transform type \"" + type +
                         "\" is not supported (supported: TranslationTransform, EulerTransform, "
                         "SimilarityTransform, AffineTransform, BSplineTransform)");
  }
  return st;
}

struct ChainFile {
  std::string path;
  ParameterMap map;
};

// Outermost first, as followed from `last_file`.
std::vector<ChainFile> read_chain_outer_first(const std::string& last_file) {
  std::vector<ChainFile> out;
  std::set<std::string> seen;
  std::string path = last_file;
  for (;;) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(fs::absolute(path), ec);
    const std::string key = ec ? path : canon.string();
    if (!seen.insert(key).second) fail_input(path, "the InitialTransformParametersFileName links form a cycle");
    if (out.size() >= static_cast<size_t>(kMaxStages))
      fail_input(last_file, "the transform chain has more than " + std::to_string(kMaxStages) + " files");
    ChainFile cf{path, read_parameter_file(path)};
    auto it = cf.map.find("InitialTransformParametersFileName");
    std::string next;
    if (it != cf.map.end()) {
      if (it->second.size() != 1) fail_input(path, "(InitialTransformParametersFileName) must have exactly one value");
      next = it->second[0];
    }
    out.push_back(std::move(cf));
    if (next.empty() || next == "NoInitialTransform") break;
    fs::path n(next);
    if (n.is_absolute()) {
      if (!fs::exists(n, ec)) fail_input(path, "initial transform file '" + next + "' does not exist");
    } else {
      fs::path beside = fs::path(path).parent_path() / n;
      if (fs::exists(beside, ec)) {
        n = beside;
      } else if (!fs::exists(n, ec)) {
        fail_input(path, "initial transform file '" + next + "' not found beside this file (" + beside.string() +
                             ") nor in the current folder");
      }
    }
    path = n.string();
  }
  return out;
}

std::string quote_if_needed(const std::string& v) {
  double d;
  if (parse_double(v, &d)) return v;
  return "\"" + v + "\"";
}

}  // namespace

ParameterMap parse_parameter_text(const std::string& text, const std::string& source) {
  ParameterMap map;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  auto bad = [&](const std::string& what) { fail_input(source, "line " + std::to_string(line_no) + ": " + what); };
  while (std::getline(in, line)) {
    ++line_no;
    size_t i = 0;
    const size_t n = line.size();
    auto skip_space = [&] {
      while (i < n && is_space(line[i])) ++i;
    };
    auto at_comment = [&] { return i + 1 < n && line[i] == '/' && line[i + 1] == '/'; };
    skip_space();
    if (i == n || at_comment()) continue;
    if (line[i] != '(') bad("expected \"(Key value ...)\" or a // comment");
    ++i;
    skip_space();
    size_t k0 = i;
    while (i < n && is_key_char(line[i])) ++i;
    std::string key = line.substr(k0, i - k0);
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) bad("missing key after '('");
    if (i < n && !is_space(line[i]) && line[i] != ')') bad("invalid character in key '" + key + "'");
    std::vector<std::string> values;
    bool closed = false;
    while (true) {
      skip_space();
      if (i == n) break;
      char c = line[i];
      if (c == ')') {
        closed = true;
        ++i;
        break;
      }
      if (c == '(') bad("unbalanced parentheses: '(' inside (" + key + " ...)");
      if (c == '"') {
        size_t close = line.find('"', i + 1);
        if (close == std::string::npos) bad("unterminated quoted string in (" + key + " ...)");
        values.push_back(line.substr(i + 1, close - i - 1));
        i = close + 1;
        if (i < n && !is_space(line[i]) && line[i] != ')')
          bad("missing space after a quoted value in (" + key + " ...)");
        continue;
      }
      size_t v0 = i;
      while (i < n && !is_space(line[i]) && line[i] != ')' && line[i] != '(' && line[i] != '"') ++i;
      if (i < n && (line[i] == '(' || line[i] == '"'))
        bad("unexpected '" + std::string(1, line[i]) + "' in (" + key + " ...)");
      values.push_back(line.substr(v0, i - v0));
    }
    if (!closed) bad("unbalanced parentheses: (" + key + " ...) is not closed on its line");
    skip_space();
    if (i < n && !at_comment()) bad("unexpected text after (" + key + " ...)");
    if (values.empty()) bad("(" + key + ") has no value");
    if (map.count(key)) bad("(" + key + ") is given more than once");
    map.emplace(std::move(key), std::move(values));
  }
  return map;
}

ParameterMap read_parameter_file(const std::string& path) { return parse_parameter_text(read_text_file(path), path); }

std::string format_parameter_map(const ParameterMap& map) {
  // The transform keys first (as elastix writes them), then the rest in key order.
  static const char* const kFirst[] = {"Transform", "NumberOfParameters", "TransformParameters",
                                       "InitialTransformParametersFileName", "HowToCombineTransforms"};
  std::ostringstream out;
  auto emit = [&](const std::string& key, const std::vector<std::string>& values) {
    out << '(' << key;
    for (const auto& v : values) out << ' ' << quote_if_needed(v);
    out << ")\n";
  };
  std::set<std::string> done;
  for (const char* k : kFirst) {
    auto it = map.find(k);
    if (it != map.end()) {
      emit(it->first, it->second);
      done.insert(it->first);
    }
  }
  for (const auto& [k, v] : map)
    if (!done.count(k)) emit(k, v);
  return out.str();
}

Stage stage_from_parameter_map(const ParameterMap& map, const std::string& file) { return parse_stage(map, file); }

std::vector<std::string> transform_chain(const std::string& last_file) {
  auto files = read_chain_outer_first(last_file);
  std::vector<std::string> out;
  for (auto it = files.rbegin(); it != files.rend(); ++it) out.push_back(it->path);
  return out;
}

Transform read_elastix_transform(const std::string& last_file) {
  auto files = read_chain_outer_first(last_file);
  Transform t;
  for (auto it = files.rbegin(); it != files.rend(); ++it) t.stages.push_back(parse_stage(it->map, it->path));
  return t;
}

namespace {

// The value of InitialTransformParametersFileName pointing at `path`. An elastix parameter file
// has no escape for '"': where the folder's path holds one, the link is the bare file name, which
// alinify resolves beside the file that names it (read_chain_outer_first) and transformix resolves
// when run in that folder (docs/transforms.md).
std::string chain_link(const std::string& path) {
  return path.find('"') == std::string::npos ? path : fs::path(path).filename().string();
}

}  // namespace

std::vector<std::string> write_full_resolution_chain(const std::string& last_file, const std::string& out_dir,
                                                     Size design) {
  if (design.width <= 0 || design.height <= 0)
    fail_runtime("write_full_resolution_chain: design size must be positive");
  auto chain = read_chain_outer_first(last_file);
  // Validate the whole chain before writing anything.
  for (const auto& f : chain) parse_stage(f.map, f.path);

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) fail_runtime("cannot create " + out_dir + ": " + ec.message());
  const fs::path dir = fs::absolute(out_dir).lexically_normal();

  std::vector<std::string> written;
  for (size_t k = 0; k < chain.size(); ++k) {
    ParameterMap m = chain[chain.size() - 1 - k].map;  // innermost first
    m["Size"] = {std::to_string(design.width), std::to_string(design.height)};
    m["Spacing"] = {"1", "1"};
    m["Origin"] = {"0", "0"};
    m["Index"] = {"0", "0"};
    // The full-resolution design grid is the identity-direction pixel grid (alinify's warp
    // evaluates the transform at pixel (i, j) = point (i, j)); any Direction of the
    // registration image is a property of that image's grid only.
    m["Direction"] = {"1", "0", "0", "1"};
    m["InitialTransformParametersFileName"] = {k == 0 ? std::string("NoInitialTransform") : chain_link(written.back())};
    const fs::path path = dir / ("TransformParameters.full." + std::to_string(k) + ".txt");
    files::write_atomically(path.string(),
                            "// Written by alinify from " + chain[chain.size() - 1 - k].path +
                                ": the output grid is the full-resolution design grid.\n" + format_parameter_map(m),
                            "cannot write " + path.string());
    written.push_back(path.string());
  }
  return written;
}

namespace {

// Enough digits that the value reads back bit for bit.
std::string exact(double v) { return fmt::format("{:.17g}", v); }

}  // namespace

std::string append_full_resolution_stage(const std::string& last_full, int last_index, const Stage& stage) {
  if (stage.kind != StageKind::kBSpline) fail_runtime("only a B-spline stage is appended to the elastix chain");
  const BSpline& b = stage.bspline;
  ParameterMap m = read_parameter_file(last_full);  // the output grid and resampler keys
  for (const char* key : {"CenterOfRotationPoint", "ComputeZYX", "BSplineTransformSplineOrder"}) m.erase(key);
  m["Transform"] = {"BSplineTransform"};
  m["HowToCombineTransforms"] = {stage.combine == Combine::kAdd ? "Add" : "Compose"};
  m["InitialTransformParametersFileName"] = {chain_link(last_full)};
  m["BSplineTransformSplineOrder"] = {"3"};
  m["GridSize"] = {std::to_string(b.size[0]), std::to_string(b.size[1])};
  m["GridIndex"] = {"0", "0"};
  m["GridSpacing"] = {exact(b.spacing[0]), exact(b.spacing[1])};
  m["GridOrigin"] = {exact(b.origin[0]), exact(b.origin[1])};
  m["GridDirection"] = {exact(b.direction[0]), exact(b.direction[1]), exact(b.direction[2]), exact(b.direction[3])};
  std::vector<std::string> params;
  for (double v : b.coef_x) params.push_back(exact(v));
  for (double v : b.coef_y) params.push_back(exact(v));
  m["NumberOfParameters"] = {std::to_string(params.size())};
  m["TransformParameters"] = std::move(params);
  const fs::path path =
      fs::path(last_full).parent_path() / ("TransformParameters.full." + std::to_string(last_index + 1) + ".txt");
  files::write_atomically(
      path.string(),
      "// Written by alinify: the refinement's correction (docs/registration.md, \"Refinement\").\n" +
          format_parameter_map(m),
      "cannot write " + path.string());
  return path.string();
}

}  // namespace alinify::transform
