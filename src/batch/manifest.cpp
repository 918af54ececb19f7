#include "alinify/batch/manifest.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/paths.hpp"

namespace fs = std::filesystem;

namespace alinify::batch {
namespace {

const std::vector<std::string> kRequired{"id", "design", "scan", "out"};
const std::string kTimeoutColumn = "job-timeout";

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// One CSV record (RFC 4180 quoting, no newlines inside fields). Returns false on a bad quote.
bool split_csv(const std::string& line, std::vector<std::string>& fields) {
  fields.clear();
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"' && trim(cur).empty()) {
      quoted = was_quoted = true;
      cur.clear();
    } else if (c == ',') {
      fields.push_back(was_quoted ? cur : trim(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) return false;
  fields.push_back(was_quoted ? cur : trim(cur));
  return true;
}

// Control characters (newline, carriage return, escape, ...; a tab is allowed) in a key or field: a
// JSON Lines manifest can hold them escaped ("a\nb"), and they would split a problem line in two,
// forge log lines, or break the summary CSV (found by tests/fuzz/fuzz_manifest).
bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

// s for a message: control characters as \n, \r, \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool is_allowed_column(const std::string& c) {
  if (std::find(kRequired.begin(), kRequired.end(), c) != kRequired.end() || c == "transform" || c == kTimeoutColumn)
    return true;
  const auto& o = manifest_override_columns();
  return std::find(o.begin(), o.end(), c) != o.end();
}

std::string lower_ext(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

struct RawRow {
  int line = 0;
  std::map<std::string, std::string> fields;
};

void read_csv(const std::string& path, std::istream& in, std::vector<RawRow>& rows,
              std::vector<std::string>& problems) {
  std::string line;
  int n = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++n;
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    std::vector<std::string> f;
    if (!split_csv(line, f)) {
      problems.push_back(path + ":" + std::to_string(n) + ": unterminated quote");
      continue;
    }
    if (header.empty()) {
      header = f;
      std::set<std::string> seen;
      for (const auto& h : header) {
        if (!is_allowed_column(h))
          problems.push_back(path + ":" + std::to_string(n) + ": unknown column '" + printable(h) + "'");
        if (!seen.insert(h).second)
          problems.push_back(path + ":" + std::to_string(n) + ": column '" + printable(h) + "' twice");
      }
      for (const auto& r : kRequired)
        if (!seen.count(r))
          problems.push_back(path + ":" + std::to_string(n) + ": no '" + r + "' column in the header");
      continue;
    }
    if (f.size() != header.size()) {
      problems.push_back(path + ":" + std::to_string(n) + ": " + std::to_string(f.size()) + " fields, the header has " +
                         std::to_string(header.size()));
      continue;
    }
    RawRow row;
    row.line = n;
    for (size_t i = 0; i < f.size(); ++i)
      if (!f[i].empty()) row.fields[header[i]] = f[i];
    rows.push_back(std::move(row));
  }
  if (header.empty()) problems.push_back(path + ": no header line (id,design,scan,out,...)");
}

void read_jsonl(const std::string& path, std::istream& in, std::vector<RawRow>& rows,
                std::vector<std::string>& problems) {
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    const std::string at = path + ":" + std::to_string(n) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      problems.push_back(at + "not JSON (" + std::string(e.what()) + ")");
      continue;
    }
    if (!j.is_object()) {
      problems.push_back(at + "not a JSON object");
      continue;
    }
    RawRow row;
    row.line = n;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!is_allowed_column(it.key())) {
        problems.push_back(at + "unknown key '" + printable(it.key()) + "'");
        continue;
      }
      if (it->is_string()) {
        if (!it->get<std::string>().empty()) row.fields[it.key()] = it->get<std::string>();
      } else if (it->is_number() || it->is_boolean()) {
        row.fields[it.key()] = it->dump();
      } else if (!it->is_null()) {
        problems.push_back(at + "'" + it.key() + "' must be a string or a number");
      }
    }
    rows.push_back(std::move(row));
  }
}

std::string resolve(const fs::path& base, const std::string& p) {
  fs::path q(p);
  return (q.is_absolute() ? q : (base / q)).lexically_normal().string();
}

// The first input that is missing, a folder or unreadable goes to the job (it fails alone) and to
// `lines`; both readable: their sizes, for the order of the queue and the default time limit.
void check_inputs(BatchJob& j, const std::string& at, std::vector<std::string>& lines) {
  for (const std::string* in_path : {&j.design, &j.scan}) {
    std::error_code ec;
    std::string why;
    if (!fs::exists(*in_path, ec))
      why = "no such file";
    else if (fs::is_directory(*in_path, ec))
      why = "is a directory";
    else if (::access(in_path->c_str(), R_OK) != 0)
      why = "cannot be read";
    if (why.empty()) {
      j.input_bytes += fs::file_size(*in_path, ec);
      continue;
    }
    lines.push_back(at + *in_path + ": " + why);
    if (j.input_problem.empty()) j.input_problem = *in_path + ": " + why;
  }
}

// Seconds >= 0, finite (0: no limit).
bool parse_timeout(const std::string& text, double& seconds) {
  try {
    size_t pos = 0;
    const double v = std::stod(text, &pos);
    if (pos != text.size() || !std::isfinite(v) || v < 0) return false;
    seconds = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

const std::vector<std::string>& manifest_override_columns() {
  static const std::vector<std::string> k{
      "preset", "interp", "compress", "fill", "mem-budget", "registration-max-pixels", "elastix-threads"};
  return k;
}

Manifest load_manifest(const std::string& path) {
  Manifest m;
  m.path = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    m.problems.push_back(path + ": is a directory, not a manifest (CSV or JSON Lines)");
    return m;
  }
  std::ifstream in(path);
  if (!in) {
    m.problems.push_back(path + ": " + (fs::exists(path) ? "cannot be read" : "no such file"));
    return m;
  }
  return parse_manifest(in, path);
}

Manifest parse_manifest(std::istream& in_stream, const std::string& path) {
  Manifest m;
  m.path = path;
  std::ostringstream whole;
  whole << in_stream.rdbuf();
  const std::string text = whole.str();
  // A binary file (an image passed by mistake) would give a problem for nearly every "line" of it:
  // one line says what it is instead. No CSV or JSON Lines text holds a NUL byte.
  if (const size_t nul = text.find('\0'); nul != std::string::npos) {
    m.problems.push_back(path + ": not a text file (a NUL byte at offset " + std::to_string(nul) +
                         "); a manifest is CSV or JSON Lines");
    return m;
  }
  std::istringstream in(text);
  std::vector<RawRow> rows;
  const std::string ext = lower_ext(path);
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json")
    read_jsonl(path, in, rows, m.problems);
  else
    read_csv(path, in, rows, m.problems);

  const fs::path base = fs::absolute(path).parent_path();
  std::map<std::string, int> ids, outs;  // -> first line
  for (const RawRow& r : rows) {
    const std::string at = path + ":" + std::to_string(r.line) + ": ";
    bool complete = true;
    for (const auto& [k, v] : r.fields)
      if (has_control(v)) {
        m.problems.push_back(at + "'" + k + "' holds a control character ('" + printable(v) + "')");
        complete = false;
      }
    for (const auto& k : kRequired)
      if (!r.fields.count(k)) {
        m.problems.push_back(at + "no " + k);
        complete = false;
      }
    if (!complete) continue;
    BatchJob j;
    j.index = static_cast<int>(m.jobs.size());
    j.line = r.line;
    j.id = r.fields.at("id");
    j.design = resolve(base, r.fields.at("design"));
    j.scan = resolve(base, r.fields.at("scan"));
    j.out = resolve(base, r.fields.at("out"));
    if (r.fields.count("transform")) {
      j.transform_out = resolve(base, r.fields.at("transform"));
    } else {
      fs::path o(j.out);
      j.transform_out = (o.parent_path() / (o.stem().string() + ".transform.json")).string();
    }
    for (const auto& [k, v] : r.fields)
      if (std::find(kRequired.begin(), kRequired.end(), k) == kRequired.end() && k != "transform" &&
          k != kTimeoutColumn)
        j.overrides[k] = v;

    if (auto [it, fresh] = ids.emplace(j.id, r.line); !fresh)
      m.problems.push_back(at + "duplicate id '" + j.id + "' (first on line " + std::to_string(it->second) + ")");
    for (const std::string& o : {j.out, j.transform_out})
      if (auto [it, fresh] = outs.emplace(o, r.line); !fresh) {
        m.problems.push_back(at + "duplicate output " + o + " (also on line " + std::to_string(it->second) + ")");
        break;  // one line per row: its transform would collide too
      }
    check_inputs(j, at, m.input_problems);
    if (r.fields.count(kTimeoutColumn) && !parse_timeout(r.fields.at(kTimeoutColumn), j.timeout_seconds))
      m.problems.push_back(at + kTimeoutColumn + " '" + r.fields.at(kTimeoutColumn) +
                           "' is not a number of seconds (0: no limit)");
    // The same file, not only the same text: "./a.tif", "a.tif" and a symlink to it are one file.
    for (const std::string* w : {&j.out, &j.transform_out})
      if (!w->empty() && (paths::same_file(*w, j.design) || paths::same_file(*w, j.scan)))
        m.problems.push_back(at + "the output " + *w + " would overwrite an input");
    m.jobs.push_back(std::move(j));
  }
  if (rows.empty() && m.problems.empty()) m.problems.push_back(path + ": no jobs");
  return m;
}

std::vector<BatchJob> select_shard(const std::vector<BatchJob>& jobs, int shard_index, int shard_count) {
  std::vector<BatchJob> out;
  for (const BatchJob& j : jobs)
    if (j.index % shard_count == shard_index) out.push_back(j);
  return out;
}

std::pair<int, int> parse_shard(const std::string& text) {
  int i = -1, n = 0;
  char slash = 0, extra = 0;
  std::istringstream in(text);
  if (!(in >> i >> slash >> n) || slash != '/' || (in >> extra) || n < 1 || i < 0 || i >= n)
    fail_usage("--shard: '" + text +
               "' is not i/n with 0 <= i < n (e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)");
  return {i, n};
}

}  // namespace alinify::batch
