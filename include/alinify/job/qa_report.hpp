#pragma once
// The per-job QA: metrics.json (similarity before/after on full-resolution tiles, deformation
// statistics, the verdict, and the facts the pipeline gathered: plan, stage times, peak RSS per
// rank, elastix's metric per resolution), the QA pictures (from previews) and report.html.
// Rank 0 only, after the output is complete. Layout: docs/qa.md; where the files lie: qa/job_files.hpp.
#include <nlohmann/json.hpp>
#include <string>

#include "alinify/qa/job_files.hpp"
#include "alinify/qa/pictures.hpp"
#include "alinify/qa/verdict.hpp"
#include "alinify/transform/transform_json.hpp"

namespace alinify::job {

struct QaOptions {
  bool enabled = true;
  qa::Thresholds thresholds;
  int tiles = 36;     // full-resolution tiles sampled for similarity
  int tile = 256;     // their side, pixels
  int preview = 768;  // longer side of the previews the pictures are made from
};

struct QaInputs {
  std::string design, scan, output, transform_path;
  const transform::TransformFile* transform = nullptr;
  nlohmann::json facts;                         // "job", "registration", "warp", "ranks", ... merged into metrics.json
  const qa::ResidualGrid* residuals = nullptr;  // the refinement's, when it ran: two more pictures
  const qa::Previews* previews = nullptr;       // read by every rank's share (pipeline.cpp); required
};

// Measures, draws, writes; returns the metrics document. Logs one line with the verdict.
nlohmann::json write_job_qa(const QaInputs& in, const QaOptions& options);

}  // namespace alinify::job
