#include "alinify/qa/report_html.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "alinify/qa/image.hpp"

namespace alinify::qa {
namespace {

constexpr const char* kStyle = R"(<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.4em}
.ok{color:#fff;background:#2a7d2a;padding:.15em .6em;border-radius:.3em}
.suspect{color:#fff;background:#c0392b;padding:.15em .6em;border-radius:.3em}
.failed{color:#fff;background:#555;padding:.15em .6em;border-radius:.3em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#eee} td.l,th.l{text-align:left}
.pics{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0;background:#fff;padding:.5em;border:1px solid #ddd}
figure img{max-width:560px;height:auto;display:block;image-rendering:pixelated}
figcaption{font-size:.85em;max-width:560px;color:#444}
tr.flag{background:#fdecea} img.thumb{max-width:160px;max-height:120px}
pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow:auto;font-size:.8em}
</style>)";

// Reports a picture that did not decode to the console (the headless-browser test looks there),
// and marks the page with how many did, so a screenshot test can check it too.
constexpr const char* kImageCheck = R"(<script>
window.addEventListener('load',function(){var ok=0;document.querySelectorAll('img').forEach(function(i){
if(i.complete&&i.naturalWidth>0)ok++;else console.error('picture did not decode: '+i.alt);});
document.body.setAttribute('data-pictures-ok',String(ok));});
</script>)";

std::string number(const nlohmann::json& v, int decimals = 3) {
  if (v.is_null()) return "&ndash;";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (!v.is_number()) return html_escape(v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) return "&ndash;";
  return fmt::format("{:.{}f}", d, decimals);
}

const nlohmann::json& at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  static const nlohmann::json kNull;
  const nlohmann::json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return kNull;
    p = &(*p)[k];
  }
  return *p;
}

void row(std::ostringstream& o, const std::string& name, const std::string& a, const std::string& b = "") {
  o << "<tr><th class=l>" << name << "</th><td>" << a << "</td>" << (b.empty() ? "" : "<td>" + b + "</td>")
    << "</tr>\n";
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  return o;
}

namespace {

// The sections of a job's report, in page order; each reads its figures from metrics.json.
void header_section(std::ostringstream& o, const nlohmann::json& m) {
  const bool suspect = at(m, {"verdict", "suspect"}).is_boolean() && at(m, {"verdict", "suspect"}).get<bool>();
  const std::string out = at(m, {"job", "output"}).is_string() ? at(m, {"job", "output"}).get<std::string>() : "";
  o << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>alinify QA: "
    << html_escape(std::filesystem::path(out).filename().string()) << "</title>" << kStyle << "</head><body>\n";
  o << "<h1>" << html_escape(out) << " <span class=" << (suspect ? "suspect>SUSPECT" : "ok>OK") << "</span></h1>\n";
  if (suspect) {
    o << "<ul>";
    for (const auto& r : at(m, {"verdict", "reasons"})) o << "<li>" << html_escape(r.get<std::string>()) << "</li>";
    o << "</ul>\n";
  }
  o << "<p>design " << html_escape(at(m, {"job", "design"}).dump()) << ", scan "
    << html_escape(at(m, {"job", "scan"}).dump()) << ", transform " << html_escape(at(m, {"job", "transform"}).dump())
    << "</p>\n";
}

void similarity_section(std::ostringstream& o, const nlohmann::json& m) {
  o << "<h2>Similarity (full resolution, " << number(at(m, {"similarity", "tiles_sampled"})) << " tiles of "
    << number(at(m, {"similarity", "tile_size"}))
    << " px)</h2>\n<table><tr><th></th><th>before</th><th>after</th></tr>\n";
  row(o, "NCC (mean over tiles)", number(at(m, {"similarity", "before", "ncc"})),
      number(at(m, {"similarity", "after", "ncc"})));
  row(o, "mutual information (bits)", number(at(m, {"similarity", "before", "mi"})),
      number(at(m, {"similarity", "after", "mi"})));
  row(o, "tiles compared", number(at(m, {"similarity", "before", "tiles"})),
      number(at(m, {"similarity", "after", "tiles"})));
  o << "</table>\n";
}

void deformation_section(std::ostringstream& o, const nlohmann::json& m) {
  o << "<h2>Deformation</h2>\n<table>\n";
  row(o, "max displacement (px)", number(at(m, {"deformation", "max_displacement"}), 2));
  row(o, "max local deformation beyond affine (px)", number(at(m, {"deformation", "max_local"}), 2));
  row(o, "Jacobian determinant min / max",
      number(at(m, {"deformation", "jacobian_min"})) + " / " + number(at(m, {"deformation", "jacobian_max"})));
  row(o, "folded samples",
      number(at(m, {"deformation", "folded_points"})) + " of " + number(at(m, {"deformation", "grid_points"})));
  o << "</table>\n";
}

void pictures_section(std::ostringstream& o, const std::vector<Picture>& pictures) {
  o << "<h2>Pictures</h2>\n<div class=pics>\n";
  for (const Picture& p : pictures)
    o << "<figure><img alt=\"" << html_escape(p.title) << "\" src=\"" << png_data_uri(p.png_path)
      << "\"><figcaption><b>" << html_escape(p.title) << "</b>: " << html_escape(p.caption)
      << "</figcaption></figure>\n";
  o << "</div>\n";
}

// --defects: the count by kind, and the largest defects as crops (design | aligned scan | Delta E),
// written by the defect stage into the pictures folder (job/defect_crops.hpp).
void defects_section(std::ostringstream& o, const nlohmann::json& m) {
  const nlohmann::json& d = at(m, {"defects"});
  if (!d.is_object()) return;
  o << "<h2>Defects: " << number(d.value("count", nlohmann::json())) << " found</h2>\n<table>\n";
  for (const char* k : {"missing_ink", "extra_ink", "colour_shift"}) row(o, k, number(at(d, {"kinds", k})));
  row(o, "list", html_escape(d.value("csv", "")));
  o << "</table>\n";
  const nlohmann::json& crops = at(d, {"crops"});
  const nlohmann::json& folder = at(m, {"pictures", "folder"});
  if (!crops.is_array() || crops.empty() || !folder.is_string()) return;
  o << "<p>The largest " << crops.size() << ", each design | aligned scan | &Delta;E 1976 (0 to "
    << number(crops[0]["delta_e_scale_max"], 0)
    << " on the heat scale; the defect's box in magenta):</p>\n<div class=pics>\n";
  for (const auto& c : crops) {
    const std::string title = "defect " + std::to_string(c.value("id", 0));
    const auto& b = c["box"];
    o << "<figure><img alt=\"" << html_escape(title) << "\" src=\""
      << png_data_uri(folder.get<std::string>() + "/" + c.value("file", "")) << "\"><figcaption><b>"
      << html_escape(title) << "</b>: " << html_escape(c.value("kind", "")) << ", " << number(c["area"])
      << " px, max &Delta;E " << number(c["max_de"], 1) << ", box (" << number(b[0]) << ", " << number(b[1])
      << ")&ndash;(" << number(b[2]) << ", " << number(b[3]) << ")</figcaption></figure>\n";
  }
  o << "</div>\n";
}

void stage_times_section(std::ostringstream& o, const nlohmann::json& m) {
  o << "<h2>Stage times (s)</h2>\n<table>\n";
  // Name, then where in metrics.json (a path of up to three keys).
  struct StageRow {
    const char *name, *a, *b, *c;
  };
  const StageRow stages[] = {{"registration: decimate", "registration", "stage_seconds", "decimate"},
                             {"registration: coarse alignment", "registration", "stage_seconds", "coarse"},
                             {"registration: elastix", "registration", "stage_seconds", "elastix"},
                             {"registration + broadcast", "stage_seconds", "registration_and_broadcast", nullptr},
                             {"warp: setup", "warp", "stage_seconds", "setup"},
                             {"warp: all ranks", "warp", "stage_seconds", "warp"},
                             {"finish: overviews, compression, COG", "warp", "stage_seconds", "finish"},
                             {"defects (--defects)", "defects", "stage_seconds", "total"},
                             {"QA: similarity and deformation", "qa", "measure_seconds", nullptr},
                             {"QA: pictures", "qa", "pictures_seconds", nullptr}};
  for (const StageRow& st : stages) {
    const nlohmann::json& v = st.c ? at(m, {st.a, st.b, st.c}) : at(m, {st.a, st.b});
    if (!v.is_null()) row(o, st.name, number(v, 2));
  }
  o << "</table>\n";
}

void ranks_section(std::ostringstream& o, const nlohmann::json& m) {
  const nlohmann::json& ranks = at(m, {"ranks"});
  if (!ranks.is_array() || ranks.empty()) return;
  o << "<h2>Ranks</h2>\n<table><tr><th>rank</th><th class=l>host</th><th>local rank</th><th>budget MiB</th>"
       "<th>strips</th><th>read s</th><th>warp s</th><th>write s</th><th>peak RSS MiB</th></tr>\n";
  for (const auto& r : ranks) {
    // Where the rank ran (metrics of older runs lack these: a dash).
    const nlohmann::json budget_mib =
        r.contains("budget_bytes") ? nlohmann::json(r["budget_bytes"].get<double>() / 1048576.0) : nlohmann::json();
    o << "<tr><td>" << number(r.value("rank", nlohmann::json())) << "</td><td class=l>"
      << html_escape(r.value("host", "")) << "</td><td>" << number(r.value("local_rank", nlohmann::json())) << " of "
      << number(r.value("local_size", nlohmann::json())) << "</td><td>" << number(budget_mib, 0) << "</td><td>"
      << number(r.value("strips", nlohmann::json())) << "</td><td>"
      << number(r.value("read_seconds", nlohmann::json()), 2) << "</td><td>"
      << number(r.value("warp_seconds", nlohmann::json()), 2) << "</td><td>"
      << number(r.value("write_seconds", nlohmann::json()), 2) << "</td><td>"
      << number(nlohmann::json(r.value("peak_rss_bytes", 0.0) / 1048576.0), 1) << "</td></tr>\n";
  }
  o << "</table>\n";
}

void elastix_section(std::ostringstream& o, const nlohmann::json& m) {
  const nlohmann::json& res = at(m, {"registration", "elastix", "resolutions"});
  if (!res.is_array() || res.empty()) return;
  o << "<h2>elastix</h2>\n<table><tr><th>parameter file</th><th>resolution</th><th>iterations</th>"
       "<th>final metric</th><th class=l>stopping condition</th></tr>\n";
  for (const auto& r : res)
    o << "<tr><td>" << number(r["parameter_file"]) << "</td><td>" << number(r["resolution"]) << "</td><td>"
      << number(r["iterations"]) << "</td><td>" << number(r["final_metric"], 5) << "</td><td class=l>"
      << html_escape(r.value("stopping_condition", "")) << "</td></tr>\n";
  o << "</table>\n";
}

}  // namespace

std::string report_html(const nlohmann::json& m, const std::vector<Picture>& pictures) {
  std::ostringstream o;
  header_section(o, m);
  similarity_section(o, m);
  deformation_section(o, m);
  pictures_section(o, pictures);
  defects_section(o, m);
  stage_times_section(o, m);
  ranks_section(o, m);
  elastix_section(o, m);
  o << "<h2>All metrics</h2>\n<details><summary>metrics.json</summary><pre>" << html_escape(m.dump(2))
    << "</pre></details>\n"
    << kImageCheck << "\n</body></html>\n";
  return o.str();
}

std::string batch_index_html(const std::string& title, std::vector<IndexRow> rows,
                             const std::vector<std::string>& missing_inputs) {
  // Flagged first: failed, then suspect, then the rest; in each, the most print defects first (the
  // prints to look at), then manifest order.
  auto rank = [](const IndexRow& r) { return r.status == "failed" ? 0 : r.suspect ? 1 : 2; };
  std::stable_sort(rows.begin(), rows.end(), [&](const IndexRow& a, const IndexRow& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a.defects > b.defects;
  });
  std::vector<std::string> columns;
  for (const IndexRow& r : rows)
    for (const auto& [k, v] : r.key_metrics)
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  int flagged = 0;
  for (const IndexRow& r : rows) flagged += rank(r) < 2;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>" << html_escape(title) << "</title>" << kStyle
    << "</head><body>\n<h1>" << html_escape(title) << "</h1>\n<p>" << rows.size() << " jobs, " << flagged
    << " flagged (failed or suspect, listed first).</p>\n";
  if (!missing_inputs.empty()) {
    o << "<h2>Missing inputs (" << missing_inputs.size() << " jobs)</h2>\n<ul>\n";
    for (const std::string& m : missing_inputs) o << "<li>" << html_escape(m) << "</li>\n";
    o << "</ul>\n";
  }
  o << "<table><tr><th>thumbnail</th><th "
       "class=l>job</th><th>status</th>";
  for (const std::string& c : columns) o << "<th>" << html_escape(c) << "</th>";
  o << "<th class=l>notes</th></tr>\n";
  for (const IndexRow& r : rows) {
    const std::string badge = r.status == "failed" ? "failed" : r.suspect ? "suspect" : "ok";
    o << "<tr" << (rank(r) < 2 ? " class=flag" : "") << "><td>";
    if (!r.thumbnail_png.empty())
      o << "<img class=thumb alt=\"" << html_escape(r.id) << "\" src=\"" << png_data_uri(r.thumbnail_png) << "\">";
    o << "</td><td class=l>";
    if (!r.report_href.empty())
      o << "<a href=\"" << html_escape(r.report_href) << "\">" << html_escape(r.id) << "</a>";
    else
      o << html_escape(r.id);
    o << "</td><td><span class=" << badge << ">" << html_escape(r.suspect && r.status == "done" ? "suspect" : r.status)
      << "</span></td>";
    for (const std::string& c : columns) {
      nlohmann::json v;
      for (const auto& [k, x] : r.key_metrics)
        if (k == c) v = x;
      o << "<td>" << number(v) << "</td>";
    }
    o << "<td class=l>" << html_escape(r.reasons) << "</td></tr>\n";
  }
  o << "</table>\n" << kImageCheck << "\n</body></html>\n";
  return o.str();
}

}  // namespace alinify::qa
