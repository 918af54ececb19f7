#pragma once
// transform.json: the project's versioned, readable transform file and the text broadcast to ranks.
#include <string>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::transform {

constexpr int kTransformFormatVersion = 1;

struct TransformFile {
  Transform transform;
  Size design;          // output grid (full resolution)
  Size scan;            // source raster (full resolution)
  int registration_factor = 1;  // decimation factor the registration ran at
  std::string preset;   // rigid|affine|bspline|custom
};

std::string to_json_text(const TransformFile& f);
// `source` names the file (or "broadcast") in error messages.
TransformFile from_json_text(const std::string& text, const std::string& source);
void write_transform_json(const std::string& path, const TransformFile& f);
TransformFile read_transform_json(const std::string& path);  // bad input naming the file on any problem

}  // namespace alinify::transform
