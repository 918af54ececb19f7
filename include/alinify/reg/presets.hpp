#pragma once
// elastix parameter presets, embedded from configs/elastix/*.txt at build time so the binary
// needs no install tree.
#include <string>
#include <vector>

namespace alinify::reg {

// Preset names: rigid, affine, bspline (affine then B-spline).
std::vector<std::string> preset_names();
// The parameter files of a preset, written into dir; returns their paths in order. A positive
// grid_spacing (full-resolution pixels) replaces the B-spline file's FinalGridSpacingInPhysicalUnits.
// refinement_follows lightens the bspline preset (half the iterations, two B-spline levels): the
// refinement brings the accuracy (presets.cpp says what was measured).
std::vector<std::string> write_preset_files(const std::string& preset, const std::string& dir, double grid_spacing = 0,
                                            bool refinement_follows = false);
// What refinement_follows changes, in the words the log and --help use (a test holds it to the
// values the files get).
inline constexpr char kLightenedSummary[] = "250 iterations a level, the B-spline stage on two levels";
// The text of one embedded configs/elastix file ("affine.txt"); empty if absent.
std::string embedded_config(const std::string& file_name);

}  // namespace alinify::reg
