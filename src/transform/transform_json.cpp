#include "alinify/transform/transform_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"

namespace alinify::transform {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "alinify-transform";
constexpr int64_t kMaxDimension = int64_t(1) << 31;  // pixels per axis
constexpr int64_t kMaxGrid = 100000;                 // control points per axis
// Control points in all: 2^24 is a 1M x 1M pixel image at 256-pixel spacing. Checked before the
// coefficient arrays are read, so a header claiming 10^9 coefficients allocates nothing.
constexpr int64_t kMaxGridCells = int64_t(1) << 24;

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

// Validation helpers: every problem is bad input naming `source`.
struct Reader {
  const std::string& source;

  [[noreturn]] void bad(const std::string& problem) const { fail_input(source, problem); }

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
  Size size(const json& obj, const char* key) const {
    const json& s = member(obj, key, "transform");
    const std::string where = key;
    return Size{integer(s, "width", where, 1, kMaxDimension), integer(s, "height", where, 1, kMaxDimension)};
  }
};

}  // namespace

std::string to_json_text(const TransformFile& f) {
  json j;
  j["format"] = kFormat;
  j["version"] = kTransformFormatVersion;
  j["design"] = {{"width", f.design.width}, {"height", f.design.height}};
  j["scan"] = {{"width", f.scan.width}, {"height", f.scan.height}};
  j["registration_factor"] = f.registration_factor;
  j["preset"] = f.preset;
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
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    r.bad(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) r.bad("not a transform file (the top level is not a JSON object)");
  const std::string where = "transform";
  if (r.str(j, "format", where) != kFormat) r.bad("not an alinify transform file (format is not \"alinify-transform\")");
  const json& ver = r.member(j, "version", where);
  if (!ver.is_number_integer() || ver.get<int64_t>() != kTransformFormatVersion)
    r.bad("unsupported transform file version " + ver.dump() + " (this alinify reads version " +
          std::to_string(kTransformFormatVersion) + ")");

  TransformFile f;
  f.design = r.size(j, "design");
  f.scan = r.size(j, "scan");
  f.registration_factor = static_cast<int>(r.integer(j, "registration_factor", where, 1, 1 << 20));
  f.preset = r.str(j, "preset", where);
  if (j.contains("initial")) {  // optional: absent in files from before the coarse stage
    const json& ji = j.at("initial");
    const std::string wi = "transform.initial";
    if (!ji.is_object()) r.bad(wi + " must be an object");
    InitialPlacement& ip = f.initial;
    f.has_initial = true;
    ip.method = r.str(ji, "method", wi);
    auto m = r.numbers(ji, "matrix", wi, 4), o = r.numbers(ji, "offset", wi, 2);
    std::copy(m.begin(), m.end(), ip.affine.m);
    std::copy(o.begin(), o.end(), ip.affine.offset);
    auto num = [&](const json& obj, const char* key, const std::string& w) {
      const json& v = r.member(obj, key, w);
      if (!v.is_number() || !std::isfinite(v.get<double>())) r.bad(w + "." + key + " must be a finite number");
      return v.get<double>();
    };
    ip.score = num(ji, "score", wi);
    ip.confidence = num(ji, "confidence", wi);
    ip.seconds = ji.contains("seconds") ? num(ji, "seconds", wi) : 0.0;
    if (ji.contains("ambiguous")) {
      if (!ji.at("ambiguous").is_boolean()) r.bad(wi + ".ambiguous must be true or false");
      ip.ambiguous = ji.at("ambiguous").get<bool>();
    }
    if (ji.contains("fabric_box")) {
      const json& fb = ji.at("fabric_box");
      const std::string wb = wi + ".fabric_box";
      ip.box_state = r.str(fb, "state", wb);
      if (fb.contains("distance_px")) ip.box_distance = num(fb, "distance_px", wb);
    }
    if (ji.contains("runner_up")) {
      const json& ru = ji.at("runner_up");
      const std::string wr = wi + ".runner_up";
      auto rm = r.numbers(ru, "matrix", wr, 4), ro = r.numbers(ru, "offset", wr, 2);
      std::copy(rm.begin(), rm.end(), ip.runner_up.m);
      std::copy(ro.begin(), ro.end(), ip.runner_up.offset);
      ip.runner_up_score = num(ru, "score", wr);
      ip.has_runner_up = true;
    }
  }

  const json& stages = r.member(j, "stages", where);
  if (!stages.is_array()) r.bad("stages must be an array");
  if (stages.size() > static_cast<size_t>(kMaxStages))
    r.bad("the transform has " + std::to_string(stages.size()) + " stages; at most " + std::to_string(kMaxStages) +
          " are supported");
  for (size_t k = 0; k < stages.size(); ++k) {
    const json& js = stages[k];
    const std::string w = "stages[" + std::to_string(k) + "]";
    if (!js.is_object()) r.bad(w + " must be an object");
    Stage st;
    const std::string combine = r.str(js, "combine", w);
    if (combine == "compose") {
      st.combine = Combine::kCompose;
    } else if (combine == "add") {
      st.combine = Combine::kAdd;
    } else {
      r.bad(w + ".combine \"" + combine + "\" is not \"compose\" or \"add\"");
    }
    const std::string type = r.str(js, "type", w);
    if (type == "affine") {
      st.kind = StageKind::kAffine;
      auto m = r.numbers(js, "matrix", w, 4);
      auto o = r.numbers(js, "offset", w, 2);
      for (int i = 0; i < 4; ++i) st.affine.m[i] = m[i];
      st.affine.offset[0] = o[0];
      st.affine.offset[1] = o[1];
    } else if (type == "bspline") {
      st.kind = StageKind::kBSpline;
      if (r.integer(js, "order", w, 0, 100) != 3) r.bad(w + ".order: only cubic (3) B-splines are supported");
      const json& gs = r.member(js, "grid_size", w);
      if (!gs.is_array() || gs.size() != 2) r.bad(w + ".grid_size must be an array of 2 integers");
      int64_t size[2];
      for (int i = 0; i < 2; ++i) {
        if (!gs[i].is_number_integer()) r.bad(w + ".grid_size must be an array of 2 integers");
        if (gs[i].is_number_unsigned() ? gs[i].get<uint64_t>() > static_cast<uint64_t>(kMaxGrid)
                                       : (gs[i].get<int64_t>() < 1 || gs[i].get<int64_t>() > kMaxGrid))
          r.bad(w + ".grid_size[" + std::to_string(i) + "] is out of range [1, " + std::to_string(kMaxGrid) + "]");
        size[i] = gs[i].get<int64_t>();
        if (size[i] < 1) r.bad(w + ".grid_size[" + std::to_string(i) + "] must be positive");
      }
      if (size[0] * size[1] > kMaxGridCells)
        r.bad(w + ".grid_size " + std::to_string(size[0]) + "x" + std::to_string(size[1]) + " claims " +
              std::to_string(size[0] * size[1]) + " control points, over the limit of " + std::to_string(kMaxGridCells));
      BSpline& b = st.bspline;
      auto origin = r.numbers(js, "grid_origin", w, 2);
      auto spacing = r.numbers(js, "grid_spacing", w, 2);
      auto dir = r.numbers(js, "grid_direction", w, 4);
      if (!(spacing[0] > 0) || !(spacing[1] > 0)) r.bad(w + ".grid_spacing must be positive");
      if (dir[0] * dir[3] - dir[1] * dir[2] == 0) r.bad(w + ".grid_direction is singular");
      const size_t cells = static_cast<size_t>(size[0] * size[1]);
      b.coef_x = r.numbers(js, "coefficients_x", w, cells);
      b.coef_y = r.numbers(js, "coefficients_y", w, cells);
      for (int i = 0; i < 2; ++i) {
        b.origin[i] = origin[i];
        b.spacing[i] = spacing[i];
        b.size[i] = static_cast<int>(size[i]);
      }
      for (int i = 0; i < 4; ++i) b.direction[i] = dir[i];
    } else {
      r.bad(w + ".type \"" + type + "\" is not \"affine\" or \"bspline\"");
    }
    f.transform.stages.push_back(std::move(st));
  }
  return f;
}

void write_transform_json(const std::string& path, const TransformFile& f) {
  const std::string text = to_json_text(f);
  // Write beside the target and rename, so a reader never sees a half-written file.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_runtime("cannot write " + tmp);
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      fail_runtime("cannot write " + tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail_runtime("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
}

TransformFile read_transform_json(const std::string& path) {
  paths::require_input_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, "cannot open the transform file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail_input(path, "cannot read the transform file");
  return from_json_text(ss.str(), path);
}

}  // namespace alinify::transform
