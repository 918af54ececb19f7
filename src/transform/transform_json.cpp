#include "alinify/transform/transform_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/paths.hpp"

namespace alinify::transform {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "alinify-transform";
constexpr int64_t kMaxDimension = int64_t(1) << 31;  // pixels per axis

const char* combine_name(Combine c) { return c == Combine::kAdd ? "add" : "compose"; }

json array_of(const double* v, size_t n) {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(v[i]);
  return a;
}

void check_finite_for_write(const double* v, size_t n, const char* what) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) fail_runtime(std::string("transform has a non-finite ") + what + " value");
}

// A problem quotes values from the file, which may hold control characters ("aff\ne" after JSON
// unescaping): they are written as \xNN so that the error stays one line (the fuzz target's rule).
std::string one_line(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out;
}

// Validation helpers: every problem is bad input naming `source`.
struct Reader {
  const std::string& source;

  [[noreturn]] void bad(const std::string& problem) const { fail_input(source, one_line(problem)); }

  const json& member(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object()) bad(where + " must be an object");
    auto it = obj.find(key);
    if (it == obj.end()) bad(where + " has no \"" + key + "\"");
    return *it;
  }
  std::string str(const json& obj, const char* key, const std::string& where) const {
    const json& v = member(obj, key, where);
    if (!v.is_string()) bad(where + "." + key + " must be a string");
    return v.get<std::string>();
  }
  int64_t integer(const json& obj, const char* key, const std::string& where, int64_t lo, int64_t hi) const {
    const json& v = member(obj, key, where);
    if (!v.is_number_integer()) bad(where + "." + key + " must be an integer");
    int64_t x;
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) bad(where + "." + key + " is out of range");
      x = static_cast<int64_t>(u);
    } else {
      x = v.get<int64_t>();
    }
    if (x < lo || x > hi)
      bad(where + "." + key + " = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
          std::to_string(hi) + "]");
    return x;
  }
  std::vector<double> numbers(const json& obj, const char* key, const std::string& where, size_t n) const {
    const json& v = member(obj, key, where);
    if (!v.is_array()) bad(where + "." + key + " must be an array");
    if (v.size() != n)
      bad(where + "." + key + " has " + std::to_string(v.size()) + " elements; expected " + std::to_string(n));
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i) {
      if (!v[i].is_number()) bad(where + "." + key + "[" + std::to_string(i) + "] is not a number");
      out[i] = v[i].get<double>();
      if (!std::isfinite(out[i])) bad(where + "." + key + "[" + std::to_string(i) + "] is not finite");
    }
    return out;
  }
  double finite(const json& obj, const char* key, const std::string& where) const {
    const json& v = member(obj, key, where);
    if (!v.is_number() || !std::isfinite(v.get<double>())) bad(where + "." + key + " must be a finite number");
    return v.get<double>();
  }
  Size size(const json& obj, const char* key) const {
    const json& s = member(obj, key, "transform");
    const std::string where = key;
    return Size{integer(s, "width", where, 1, kMaxDimension), integer(s, "height", where, 1, kMaxDimension)};
  }
};

// A broken B-spline rule in transform.json's key names.
[[noreturn]] void bad_bspline(const Reader& r, const std::string& w, const BSplineProblem& problem,
                              const std::array<int64_t, 2>& size) {
  using Rule = BSplineProblem::Rule;
  switch (problem.rule) {
    case Rule::kGridSizeOutOfRange:
      r.bad(w + ".grid_size[" + std::to_string(problem.axis) + "] is out of range [1, " +
            std::to_string(kMaxGridPointsPerAxis) + "]");
    case Rule::kTooManyGridPoints:
      r.bad(w + ".grid_size " + std::to_string(size[0]) + "x" + std::to_string(size[1]) + " claims " +
            std::to_string(size[0] * size[1]) + " control points, over the limit of " + std::to_string(kMaxGridPoints));
    case Rule::kSpacingNotPositive:
      r.bad(w + ".grid_spacing must be positive");
    case Rule::kDirectionSingular:
      r.bad(w + ".grid_direction is singular");
    case Rule::kCoefficientCount:
      break;
  }
  r.bad(w + ": coefficients_x and coefficients_y need one value per control point");
}

// ---- from_json_text, step by step. Only what the geometry needs is required (docs/transforms.md):
// the format and version, the design and scan sizes, the stages. Provenance may be left out.

json parse_top_level(const Reader& r, const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    r.bad(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) r.bad("not a transform file (the top level is not a JSON object)");
  return j;
}

void check_format_and_version(const Reader& r, const json& j) {
  if (r.str(j, "format", "transform") != kFormat)
    r.bad("not an alinify transform file (format is not \"alinify-transform\")");
  const json& ver = r.member(j, "version", "transform");
  if (!ver.is_number_integer() || ver.get<int64_t>() != kTransformFormatVersion)
    r.bad("unsupported transform file version " + ver.dump() + " (this alinify reads version " +
          std::to_string(kTransformFormatVersion) + ")");
}

// How the transform was made: absent from a hand-written file, checked when present.
void read_provenance(const Reader& r, const json& j, TransformFile& f) {
  f.registration_factor = j.contains("registration_factor")
                              ? static_cast<int>(r.integer(j, "registration_factor", "transform", 1, 1 << 20))
                              : kFactorNotRecorded;
  f.preset = j.contains("preset") ? r.str(j, "preset", "transform") : std::string();
}

void read_affine_into(const Reader& r, const json& obj, const std::string& where, Affine& a) {
  const auto m = r.numbers(obj, "matrix", where, 4), o = r.numbers(obj, "offset", where, 2);
  std::copy(m.begin(), m.end(), a.m);
  std::copy(o.begin(), o.end(), a.offset);
}

InitialPlacement read_initial(const Reader& r, const json& ji) {
  const std::string wi = "transform.initial";
  if (!ji.is_object()) r.bad(wi + " must be an object");
  InitialPlacement ip;
  ip.method = r.str(ji, "method", wi);
  read_affine_into(r, ji, wi, ip.affine);
  ip.score = r.finite(ji, "score", wi);
  ip.confidence = r.finite(ji, "confidence", wi);
  ip.seconds = ji.contains("seconds") ? r.finite(ji, "seconds", wi) : 0.0;
  if (ji.contains("ambiguous")) {
    if (!ji.at("ambiguous").is_boolean()) r.bad(wi + ".ambiguous must be true or false");
    ip.ambiguous = ji.at("ambiguous").get<bool>();
  }
  if (ji.contains("fabric_box")) {
    const json& fb = ji.at("fabric_box");
    const std::string wb = wi + ".fabric_box";
    ip.box_state = r.str(fb, "state", wb);
    if (fb.contains("distance_px")) ip.box_distance = r.finite(fb, "distance_px", wb);
  }
  if (ji.contains("runner_up")) {
    const json& ru = ji.at("runner_up");
    const std::string wr = wi + ".runner_up";
    read_affine_into(r, ru, wr, ip.runner_up);
    ip.runner_up_score = r.finite(ru, "score", wr);
    ip.has_runner_up = true;
  }
  return ip;
}

// "compose" when absent, as elastix's HowToCombineTransforms; the first stage's is immaterial.
Combine read_combine(const Reader& r, const json& js, const std::string& w) {
  const std::string combine = js.contains("combine") ? r.str(js, "combine", w) : "compose";
  if (combine == "compose") return Combine::kCompose;
  if (combine == "add") return Combine::kAdd;
  r.bad(w + ".combine \"" + combine + "\" is not \"compose\" or \"add\"");
}

// The grid size, checked against the B-spline limits before any coefficient is read.
std::array<int64_t, 2> read_grid_size(const Reader& r, const json& js, const std::string& w) {
  const json& gs = r.member(js, "grid_size", w);
  if (!gs.is_array() || gs.size() != 2) r.bad(w + ".grid_size must be an array of 2 integers");
  std::array<int64_t, 2> size{};
  for (int i = 0; i < 2; ++i) {
    if (!gs[i].is_number_integer()) r.bad(w + ".grid_size must be an array of 2 integers");
    // An unsigned value beyond int64_t is out of range all the same.
    size[i] = gs[i].is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(
                                               gs[i].get<uint64_t>(), static_cast<uint64_t>(kMaxGridPointsPerAxis + 1)))
                                         : gs[i].get<int64_t>();
  }
  if (const auto problem = validate_grid_size(size[0], size[1])) bad_bspline(r, w, *problem, size);
  return size;
}

BSpline read_bspline(const Reader& r, const json& js, const std::string& w) {
  if (js.contains("order") && r.integer(js, "order", w, 0, 100) != 3)
    r.bad(w + ".order: only cubic (3) B-splines are supported");
  const std::array<int64_t, 2> size = read_grid_size(r, js, w);
  BSpline b;
  const auto origin = r.numbers(js, "grid_origin", w, 2);
  const auto spacing = r.numbers(js, "grid_spacing", w, 2);
  const auto direction =
      js.contains("grid_direction") ? r.numbers(js, "grid_direction", w, 4) : std::vector<double>{1, 0, 0, 1};
  for (int i = 0; i < 2; ++i) {
    b.origin[i] = origin[i];
    b.spacing[i] = spacing[i];
    b.size[i] = static_cast<int>(size[i]);
  }
  std::copy(direction.begin(), direction.end(), b.direction);
  const size_t points = static_cast<size_t>(size[0] * size[1]);
  b.coef_x = r.numbers(js, "coefficients_x", w, points);
  b.coef_y = r.numbers(js, "coefficients_y", w, points);
  if (const auto problem = validate(b)) bad_bspline(r, w, *problem, size);
  return b;
}

Stage read_stage(const Reader& r, const json& js, const std::string& w) {
  if (!js.is_object()) r.bad(w + " must be an object");
  Stage st;
  st.combine = read_combine(r, js, w);
  const std::string type = r.str(js, "type", w);
  if (type == "affine") {
    st.kind = StageKind::kAffine;
    read_affine_into(r, js, w, st.affine);
  } else if (type == "bspline") {
    st.kind = StageKind::kBSpline;
    st.bspline = read_bspline(r, js, w);
  } else {
    r.bad(w + ".type \"" + type + "\" is not \"affine\" or \"bspline\"");
  }
  return st;
}

std::vector<Stage> read_stages(const Reader& r, const json& stages) {
  if (!stages.is_array()) r.bad("stages must be an array");
  // An empty chain would read as the identity: a file cut down by hand, not a registration.
  if (stages.empty()) r.bad("stages is empty; a transform has 1 to " + std::to_string(kMaxStages) + " stages");
  if (stages.size() > static_cast<size_t>(kMaxStages))
    r.bad("the transform has " + std::to_string(stages.size()) + " stages; at most " + std::to_string(kMaxStages) +
          " are supported");
  std::vector<Stage> out;
  for (size_t k = 0; k < stages.size(); ++k)
    out.push_back(read_stage(r, stages[k], "stages[" + std::to_string(k) + "]"));
  return out;
}

}  // namespace

std::string to_json_text(const TransformFile& f) {
  json j;
  j["format"] = kFormat;
  j["version"] = kTransformFormatVersion;
  j["design"] = {{"width", f.design.width}, {"height", f.design.height}};
  j["scan"] = {{"width", f.scan.width}, {"height", f.scan.height}};
  // Provenance, left out where it was not recorded (a hand-written file read and written again).
  if (f.registration_factor != kFactorNotRecorded) j["registration_factor"] = f.registration_factor;
  if (!f.preset.empty()) j["preset"] = f.preset;
  if (f.has_initial) {
    const InitialPlacement& ip = f.initial;
    json ji;
    ji["method"] = ip.method;
    ji["matrix"] = array_of(ip.affine.m, 4);
    ji["offset"] = array_of(ip.affine.offset, 2);
    ji["score"] = ip.score;
    if (ip.has_runner_up) {
      ji["runner_up"] = {{"matrix", array_of(ip.runner_up.m, 4)},
                         {"offset", array_of(ip.runner_up.offset, 2)},
                         {"score", ip.runner_up_score}};
    }
    ji["confidence"] = ip.confidence;
    ji["ambiguous"] = ip.ambiguous;
    if (!ip.box_state.empty()) {
      ji["fabric_box"] = {{"state", ip.box_state}};
      if (ip.box_distance >= 0) ji["fabric_box"]["distance_px"] = ip.box_distance;
    }
    ji["seconds"] = ip.seconds;
    j["initial"] = std::move(ji);
  }
  json stages = json::array();
  for (const Stage& s : f.transform.stages) {
    json js;
    js["combine"] = combine_name(s.combine);
    if (s.kind == StageKind::kAffine) {
      check_finite_for_write(s.affine.m, 4, "matrix");
      check_finite_for_write(s.affine.offset, 2, "offset");
      js["type"] = "affine";
      js["matrix"] = array_of(s.affine.m, 4);
      js["offset"] = array_of(s.affine.offset, 2);
    } else {
      const BSpline& b = s.bspline;
      const size_t cells = static_cast<size_t>(b.size[0]) * static_cast<size_t>(b.size[1]);
      if (b.size[0] < 1 || b.size[1] < 1 || b.coef_x.size() != cells || b.coef_y.size() != cells)
        fail_runtime("transform has an inconsistent B-spline stage");
      check_finite_for_write(b.origin, 2, "grid origin");
      check_finite_for_write(b.spacing, 2, "grid spacing");
      check_finite_for_write(b.direction, 4, "grid direction");
      check_finite_for_write(b.coef_x.data(), cells, "coefficient");
      check_finite_for_write(b.coef_y.data(), cells, "coefficient");
      js["type"] = "bspline";
      js["order"] = 3;
      js["grid_size"] = {b.size[0], b.size[1]};
      js["grid_origin"] = array_of(b.origin, 2);
      js["grid_spacing"] = array_of(b.spacing, 2);
      js["grid_direction"] = array_of(b.direction, 4);
      js["coefficients_x"] = b.coef_x;
      js["coefficients_y"] = b.coef_y;
    }
    stages.push_back(std::move(js));
  }
  j["stages"] = std::move(stages);
  // nlohmann's dump writes the shortest text that reads back to the same double.
  return j.dump(1) + "\n";
}

TransformFile from_json_text(const std::string& text, const std::string& source) {
  Reader r{source};
  const json j = parse_top_level(r, text);
  check_format_and_version(r, j);
  TransformFile f;
  f.design = r.size(j, "design");
  f.scan = r.size(j, "scan");
  read_provenance(r, j, f);
  if (j.contains("initial")) {  // optional: absent in files from before the coarse stage
    f.initial = read_initial(r, j.at("initial"));
    f.has_initial = true;
  }
  f.transform.stages = read_stages(r, r.member(j, "stages", "transform"));
  return f;
}

void write_transform_json(const std::string& path, const TransformFile& f) {
  files::write_atomically(path, to_json_text(f), "cannot write " + path);
}

TransformFile read_transform_json(const std::string& path) {
  paths::require_input_file(path);
  return from_json_text(files::read_file(path, "the transform file"), path);
}

}  // namespace alinify::transform
