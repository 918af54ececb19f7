// libFuzzer target: batch manifests (parse_manifest), CSV or JSON Lines by the first byte.
// parse_manifest never throws for problems in the file: every problem is a listed line starting
// with the manifest's name. Invariants: every job has its id, design, scan, out and transform
// output; no two jobs share an id or an output unless a problem says so; no jobs => a problem.
#include <cstddef>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>

#include "alinify/batch/manifest.hpp"
#include "fuzz_common.hpp"

using namespace alinify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Paths resolve under a folder that does not exist: the input checks only ever say "no such file".
  const std::string path = (data[0] & 1) ? "/nonexistent-alinify-fuzz/m.jsonl" : "/nonexistent-alinify-fuzz/m.csv";
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  batch::Manifest m;
  try {
    m = batch::parse_manifest(in, path);
  } catch (const std::exception& e) {
    fuzz::finding(std::string("parse_manifest threw instead of listing a problem: ") + e.what());
  }
  for (const auto& p : m.problems) {
    fuzz::expect(p.rfind(path, 0) == 0, "problem does not name the manifest: " + p);
    fuzz::expect(p.find('\n') == std::string::npos, "problem is not one line: " + p);
  }
  fuzz::expect(!m.jobs.empty() || !m.problems.empty(), "no jobs and no problem listed");
  std::set<std::string> ids;
  bool dup = false;
  for (size_t i = 0; i < m.jobs.size(); ++i) {
    const auto& j = m.jobs[i];
    fuzz::expect(j.index == static_cast<int>(i), "job index out of order");
    fuzz::expect(!j.id.empty() && !j.design.empty() && !j.scan.empty() && !j.out.empty() && !j.transform_out.empty(),
                 "a job lacks a required field");
    dup |= !ids.insert(j.id).second;
  }
  if (dup) fuzz::expect(!m.problems.empty(), "duplicate id not listed as a problem");
  return 0;
}
