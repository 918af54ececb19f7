#pragma once
// The elastix parameter-file format: "(Key value value ...)" lines, // comments.
// Reads TransformParameters chains into the transform model and writes full-resolution copies
// that transformix applies to the full-size image. See docs/elastix_contract.md.
#include <map>
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::transform {

using ParameterMap = std::map<std::string, std::vector<std::string>>;

// Throws bad input naming the file and line on a malformed line or unreadable file.
ParameterMap read_parameter_file(const std::string& path);
ParameterMap parse_parameter_text(const std::string& text, const std::string& source);
std::string format_parameter_map(const ParameterMap& map);

// A user's registration parameter file (--params), checked before elastix runs for minutes on it:
// (Transform ...) present and one that alinify can read back (Translation, Euler, Similarity,
// Affine, BSpline, RecursiveBSpline), and no value that reads as a number but is not finite (nan,
// inf). Bad input naming the file and the key.
void check_registration_parameters(const ParameterMap& map, const std::string& file);

// The chain that ends at `last_file`, innermost (elastix's initial transform) first, following
// InitialTransformParametersFileName (relative names resolved against the referring file's folder).
std::vector<std::string> transform_chain(const std::string& last_file);

// One stage from one parsed TransformParameters file (the step read_elastix_transform takes per file;
// public so the fuzz target tests/fuzz/fuzz_elastix_params.cpp reaches it without files).
Stage stage_from_parameter_map(const ParameterMap& map, const std::string& file);

// Parses every file of the chain (Translation, Euler, Similarity, Affine, BSpline order 3;
// Compose/Add; centre of rotation; grid origin/spacing/direction) into a Transform in
// full-resolution pixel coordinates (valid when the registration images used spacing f and
// origin (f-1)/2, see docs/elastix_contract.md).
Transform read_elastix_transform(const std::string& last_file);

// Writes the chain again into out_dir as TransformParameters.full.K.txt, with the output grid
// (Size, Spacing, Origin, Index, Direction) set to the full-resolution design grid and the
// InitialTransformParametersFileName links rewritten. Returns the written paths, innermost first.
std::vector<std::string> write_full_resolution_chain(const std::string& last_file, const std::string& out_dir,
                                                     Size design);

// Writes `stage` (a cubic B-spline) as the next file of the full-resolution chain that ends at
// `last_full` (a file write_full_resolution_chain wrote): TransformParameters.full.<K+1>.txt in
// the same folder, its output grid copied from `last_full`, HowToCombineTransforms from the
// stage, so that transformix reproduces a transform.json whose last stage is this one.
std::string append_full_resolution_stage(const std::string& last_full, int last_index, const Stage& stage);

}  // namespace alinify::transform
