#pragma once
// transform.json: the project's versioned, readable transform file and the text broadcast to ranks.
#include <string>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::transform {

constexpr int kTransformFormatVersion = 1;
// registration_factor of a file that does not give one (provenance, optional: docs/transforms.md).
constexpr int kFactorNotRecorded = 0;

// The coarse stage's initial placement (optional in the file; version 1 files without it read fine).
struct InitialPlacement {
  std::string method;  // auto | search | box | file (the --init that made it)
  Affine affine;       // design full-res pixel -> scan full-res pixel
  double score = 0;    // full-overlap score of the placement
  bool has_runner_up = false;
  Affine runner_up;  // the best different placement
  double runner_up_score = 0;
  double confidence = 0;     // (score - runner_up_score) / score
  bool ambiguous = false;    // below the confidence threshold, accepted with --accept-ambiguous
  std::string box_state;     // fabric box: agrees | disagrees | none (empty: not recorded)
  double box_distance = -1;  // full-res px between the placement and the box's (-1: no box)
  double seconds = 0;        // coarse-stage time
};

struct TransformFile {
  Transform transform;
  Size design;                  // output grid (full resolution)
  Size scan;                    // source raster (full resolution)
  int registration_factor = 1;  // decimation factor the registration ran at; kFactorNotRecorded: none given
  std::string preset;           // rigid|affine|bspline|custom; empty: none given (a hand-written file)
  bool has_initial = false;
  InitialPlacement initial;  // written as "initial" when has_initial
};

std::string to_json_text(const TransformFile& f);
// `source` names the file (or "broadcast") in error messages.
TransformFile from_json_text(const std::string& text, const std::string& source);
void write_transform_json(const std::string& path, const TransformFile& f);
TransformFile read_transform_json(const std::string& path);  // bad input naming the file on any problem

}  // namespace alinify::transform
