#pragma once
// Rank 0's registration: the decimated images (averaged here, or on every rank by
// job/decimate_ranks.hpp) written with the scale-free convention, the coarse stage, elastix, its
// chain parsed.
#include <cstdint>
#include <string>
#include <vector>

#include "alinify/io/raster.hpp"
#include "alinify/reg/coarse_align.hpp"
#include "alinify/transform/transform.hpp"
#include "alinify/transform/transform_json.hpp"

namespace alinify::reg {

struct RegisterOptions {
  std::string preset = "bspline";            // rigid|affine|bspline
  std::vector<std::string> parameter_files;  // a user's own elastix files: used unchanged instead of the preset
  std::string elastix = "elastix";           // name on PATH or path
  double grid_spacing = 0;                   // B-spline control-point spacing, full-res px (0: the preset's)
  std::string work_dir;                      // elastix's folder (kept: log, TransformParameters)
  int threads = 0;
  // The refinement follows elastix (--refine auto): the bspline preset is written lightened
  // (presets.hpp). User parameter files are never changed.
  bool refinement_follows = false;
  bool keep_images = false;  // keep the decimated .mhd/.raw after success
  // Initial transform: auto|search|box (coarse global alignment, docs/registration.md), none
  // (elastix from its own geometrical-centre start), or a file (elastix TransformParameters or
  // transform.json).
  std::string init = "auto";
  bool init_runs_coarse_stage() const { return init == "auto" || init == "search" || init == "box"; }
  bool init_names_file() const { return !init_runs_coarse_stage() && init != "none"; }
  bool accept_ambiguous = false;
  double max_rotation_deg = 5;
  bool quarter_turns = false;
  int coarse_size = 256;         // larger side of the coarse images, pixels
  std::string coarse_debug_dir;  // score map and candidates when set
  std::string scan_path;         // named in bad-input errors of the coarse stage
};

struct RegistrationResult {
  transform::Transform transform;
  std::vector<std::string> elastix_chain;  // TransformParameters.N.txt, last = final
  std::string elastix_log;
  double decimate_seconds = 0, elastix_seconds = 0;
  uint64_t elastix_peak_rss = 0;
  uint64_t registration_image_bytes = 0;  // both decimated images
  bool has_initial = false;
  transform::InitialPlacement initial;  // what the coarse stage (or the file) gave elastix
  double coarse_seconds = 0;
};

// Decimates both images on this process, then register_decimated.
RegistrationResult register_pair(const io::Raster& design, const io::Raster& scan, int factor,
                                 const RegisterOptions& options);

// The same in steps, for a caller that decimates elsewhere (job/decimate_ranks.hpp: every rank
// averages its rows, rank 0 keeps the result). What rank 0 keeps of the two decimated images: the
// MetaImages elastix reads, in the work folder, and the coarse copies.
struct RegistrationImages {
  int factor = 1;         // registration factor f
  int coarse_factor = 1;  // the coarse copies average f x coarse_factor full-resolution pixels
  std::string fixed, moving;
  coarse::Image coarse_design, coarse_scan;  // empty unless the coarse stage runs
  uint64_t bytes = 0;                        // both decimated images
  double decimate_seconds = 0;               // set by whoever decimated
};
// Fails early on what the registration will need: elastix on PATH, the user's parameter files, an
// --init file.
void check_registration_inputs(const RegisterOptions& options);
// Creates the work folder; names the images and the coarse factor.
RegistrationImages start_registration_images(Size design, Size scan, int factor, const RegisterOptions& options);
// Writes one decimated image where elastix reads it and keeps its coarse copy; the caller may free
// it afterwards (one decimated image in memory at a time).
void keep_registration_image(RegistrationImages& images, bool is_design, const io::GreyImage& image,
                             const RegisterOptions& options);
// Coarse stage and elastix on images kept above. On any failure the work is discarded as below.
RegistrationResult register_decimated(RegistrationImages& images, Size design_size, const RegisterOptions& options,
                                      bool made_work_dir);
// Removes the registration images, and the work folder if this job made it and elastix never wrote
// its log there (a failure before elastix leaves nothing behind).
void discard_registration_work(const std::string& work_dir, bool made_work_dir);

// Fraction of design points (sampled on a grid) that the transform maps inside the scan.
double overlap_fraction(const transform::Transform& t, Size design, Size scan);

}  // namespace alinify::reg
