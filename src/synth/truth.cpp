#include "alinify/synth/truth.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"

namespace alinify::synth {

namespace {

constexpr const char* kFormat = "alinify-truth";
constexpr int kVersion = 1;

using nlohmann::json;

double number(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || !j.at(key).is_number())
    fail_input(source, std::string("missing or non-numeric '") + key + "'");
  double v = j.at(key).get<double>();
  if (!std::isfinite(v)) fail_input(source, std::string("'") + key + "' is not finite");
  return v;
}

Size read_size(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || !j.at(key).is_object()) fail_input(source, std::string("missing object '") + key + "'");
  const json& s = j.at(key);
  for (const char* k : {"width", "height"})
    if (!s.contains(k) || !s.at(k).is_number_integer() || s.at(k).get<int64_t>() <= 0)
      fail_input(source, std::string("'") + key + "." + k + "' must be a positive integer");
  return Size{s.at("width").get<int64_t>(), s.at("height").get<int64_t>()};
}

template <size_t N>
void read_array(const json& j, const char* key, double (&out)[N], const std::string& source) {
  if (!j.contains(key) || !j.at(key).is_array() || j.at(key).size() != N)
    fail_input(source, std::string("'") + key + "' must be an array of " + std::to_string(N) + " numbers");
  for (size_t i = 0; i < N; ++i) {
    const json& v = j.at(key).at(i);
    if (!v.is_number()) fail_input(source, std::string("'") + key + "' holds a non-number");
    out[i] = v.get<double>();
    if (!std::isfinite(out[i])) fail_input(source, std::string("'") + key + "' holds a non-finite number");
  }
}

}  // namespace

Vec2 Truth::scan_to_design(Vec2 q) const {
  Vec2 p{m[0] * q.x + m[1] * q.y + offset[0], m[2] * q.x + m[3] * q.y + offset[1]};
  for (const Wave& w : waves) {
    const double d = w.amp * std::sin(w.kx * q.x + w.ky * q.y + w.phase);
    if (w.axis == 0)
      p.x += d;
    else
      p.y += d;
  }
  return p;
}

std::string Truth::to_json_text() const {
  json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["comment"] =
      "design = m * scan + offset + sum(amp * sin(kx*x + ky*y + phase)) on wave axis; pixel centres at integers";
  j["design"] = {{"width", design.width}, {"height", design.height}};
  j["scan"] = {{"width", scan.width}, {"height", scan.height}};
  j["m"] = {m[0], m[1], m[2], m[3]};
  j["offset"] = {offset[0], offset[1]};
  json ws = json::array();
  for (const Wave& w : waves)
    ws.push_back({{"axis", w.axis}, {"amp", w.amp}, {"kx", w.kx}, {"ky", w.ky}, {"phase", w.phase}});
  j["waves"] = ws;
  if (!defects.empty()) {
    json ds = json::array();
    for (const DefectTruth& d : defects) {
      json one = {{"id", d.id},
                  {"shape", d.shape},
                  {"kind", d.kind},
                  {"box", {d.x0, d.y0, d.x1, d.y1}},
                  {"centre", {d.cx, d.cy}}};
      if (d.visible_px > 0) {
        one["visible_centre"] = {d.visible_cx, d.visible_cy};
        one["visible_px"] = d.visible_px;
      }
      ds.push_back(one);
    }
    j["defects"] = ds;
  }
  return j.dump(2) + "\n";
}

Truth Truth::from_json_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail_input(source, std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) fail_input(source, "not a JSON object");
  if (!j.contains("format") || !j.at("format").is_string() || j.at("format").get<std::string>() != kFormat)
    fail_input(source, std::string("not an ") + kFormat + " file (missing or wrong 'format')");
  if (!j.contains("version") || !j.at("version").is_number_integer() || j.at("version").get<int>() != kVersion)
    fail_input(source, "unsupported 'version' (expected " + std::to_string(kVersion) + ")");
  Truth t;
  t.design = read_size(j, "design", source);
  t.scan = read_size(j, "scan", source);
  read_array(j, "m", t.m, source);
  read_array(j, "offset", t.offset, source);
  if (!j.contains("waves") || !j.at("waves").is_array()) fail_input(source, "missing array 'waves'");
  for (const json& w : j.at("waves")) {
    if (!w.is_object()) fail_input(source, "'waves' holds a non-object");
    if (!w.contains("axis") || !w.at("axis").is_number_integer()) fail_input(source, "wave without integer 'axis'");
    int axis = w.at("axis").get<int>();
    if (axis != 0 && axis != 1) fail_input(source, "wave 'axis' must be 0 or 1");
    t.waves.push_back(Wave{axis, number(w, "amp", source), number(w, "kx", source), number(w, "ky", source),
                           number(w, "phase", source)});
  }
  if (j.contains("defects")) {
    if (!j.at("defects").is_array()) fail_input(source, "'defects' must be an array");
    for (const json& d : j.at("defects")) {
      DefectTruth dt;
      try {
        dt.id = d.at("id").get<int64_t>();
        dt.shape = d.at("shape").get<std::string>();
        dt.kind = d.at("kind").get<std::string>();
        const auto box = d.at("box").get<std::vector<int64_t>>();
        const auto centre = d.at("centre").get<std::vector<double>>();
        if (box.size() != 4 || centre.size() != 2)
          fail_input(source, "a defect's 'box' or 'centre' has the wrong size");
        dt.x0 = box[0];
        dt.y0 = box[1];
        dt.x1 = box[2];
        dt.y1 = box[3];
        dt.cx = centre[0];
        dt.cy = centre[1];
        if (d.contains("visible_centre") != d.contains("visible_px"))
          fail_input(source, "a defect has one of 'visible_centre' and 'visible_px' without the other");
        if (d.contains("visible_centre")) {
          const auto visible = d.at("visible_centre").get<std::vector<double>>();
          if (visible.size() != 2) fail_input(source, "a defect's 'visible_centre' has the wrong size");
          if (!d.at("visible_px").is_number_integer() || d.at("visible_px").get<int64_t>() <= 0)
            fail_input(source, "a defect's 'visible_px' must be a positive integer");
          dt.visible_cx = visible[0];
          dt.visible_cy = visible[1];
          dt.visible_px = d.at("visible_px").get<int64_t>();
        }
      } catch (const json::exception& e) {
        fail_input(source, std::string("malformed defect: ") + e.what());
      }
      t.defects.push_back(dt);
    }
  }
  return t;
}

Truth Truth::load(const std::string& path) { return from_json_text(files::read_file(path, "truth file"), path); }

void Truth::save(const std::string& path) const {
  files::write_atomically(path, to_json_text(), path + ": cannot write truth file");
}

}  // namespace alinify::synth
