#include "alinify/reg/registration.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/decimate.hpp"
#include "alinify/reg/coarse_align.hpp"
#include "alinify/reg/elastix_runner.hpp"
#include "alinify/reg/presets.hpp"
#include "alinify/transform/elastix_params.hpp"

namespace fs = std::filesystem;

namespace alinify::reg {

namespace {

std::string num(double v) {
  std::ostringstream ss;
  ss.precision(17);
  ss << v;
  return ss.str();
}

// elastix TransformParameters for an affine design->scan map (full-res pixels = physical units of
// the registration images), centre of rotation at 0: elastix's T(x) = A (x - c) + t + c = A x + t.
void write_initial_parameters(const std::string& path, const transform::Affine& a, Size reg_size, int f) {
  const double c = (f - 1) / 2.0;
  const auto write = [&](std::ostream& out) {
    out << "// alinify: initial transform (coarse global alignment), design -> scan, full-resolution pixels\n"
        << "(Transform \"AffineTransform\")\n(NumberOfParameters 6)\n(TransformParameters " << num(a.m[0]) << " "
        << num(a.m[1]) << " " << num(a.m[2]) << " " << num(a.m[3]) << " " << num(a.offset[0]) << " " << num(a.offset[1])
        << ")\n(CenterOfRotationPoint 0 0)\n(InitialTransformParametersFileName \"NoInitialTransform\")\n"
        << "(HowToCombineTransforms \"Compose\")\n(FixedImageDimension 2)\n(MovingImageDimension 2)\n"
        << "(FixedInternalImagePixelType \"float\")\n(MovingInternalImagePixelType \"float\")\n"
        << "(Size " << reg_size.width << " " << reg_size.height << ")\n(Index 0 0)\n(Spacing " << f << " " << f
        << ")\n(Origin " << num(c) << " " << num(c) << ")\n(Direction 1 0 0 1)\n(UseDirectionCosines \"true\")\n"
        << "(ResampleInterpolator \"FinalBSplineInterpolator\")\n(FinalBSplineInterpolationOrder 3)\n"
        << "(Resampler \"DefaultResampler\")\n(DefaultPixelValue 0)\n(ResultImageFormat \"mha\")\n"
        << "(ResultImagePixelType \"float\")\n(CompressResultImage \"false\")\n";
  };
  files::write_atomically(path, write, path + ": cannot write the initial transform");
}

// With an initial transform, elastix's GeometricalCenter initialisation would move the start
// (centres of a design and a larger scan differ): the preset copies get it switched off.
void disable_automatic_initialization(const std::vector<std::string>& parameter_files) {
  for (const auto& path : parameter_files) {
    std::optional<std::string> read = files::try_read_file(path);
    if (!read) continue;
    std::string& text = *read;
    const std::string from = "(AutomaticTransformInitialization \"true\")";
    const auto pos = text.find(from);
    if (pos == std::string::npos) continue;
    text.replace(pos, from.size(), "(AutomaticTransformInitialization \"false\")");
    files::write_atomically(path, text);
  }
}

// One affine from a transform.json whose stages are all affine (composed).
transform::Affine affine_of(const transform::Transform& t, const std::string& source) {
  transform::Affine r;
  for (const auto& st : t.stages) {
    if (st.kind != transform::StageKind::kAffine)
      fail_input(source, "--init: only affine transforms can start elastix");
    const transform::Affine& a = st.affine;
    transform::Affine n;
    if (st.combine == transform::Combine::kAdd) {  // S(x) + T(x) - x
      for (int k = 0; k < 4; ++k) n.m[k] = a.m[k] + r.m[k] - ((k == 0 || k == 3) ? 1.0 : 0.0);
      n.offset[0] = a.offset[0] + r.offset[0];
      n.offset[1] = a.offset[1] + r.offset[1];
    } else {  // S(T(x))
      n.m[0] = a.m[0] * r.m[0] + a.m[1] * r.m[2];
      n.m[1] = a.m[0] * r.m[1] + a.m[1] * r.m[3];
      n.m[2] = a.m[2] * r.m[0] + a.m[3] * r.m[2];
      n.m[3] = a.m[2] * r.m[1] + a.m[3] * r.m[3];
      n.offset[0] = a.m[0] * r.offset[0] + a.m[1] * r.offset[1] + a.offset[0];
      n.offset[1] = a.m[2] * r.offset[0] + a.m[3] * r.offset[1] + a.offset[1];
    }
    r = n;
  }
  return r;
}

constexpr const char* kFixedImage = "design_reg.mhd";
constexpr const char* kMovingImage = "scan_reg.mhd";

// The decimated images (MetaImage header + raw data) in the elastix folder.
void remove_registration_images(const std::string& work_dir) {
  std::error_code ec;
  for (const char* name : {kFixedImage, kMovingImage}) {
    const fs::path header = fs::path(work_dir) / name;
    fs::remove(header, ec);
    fs::remove(fs::path(header).replace_extension(".raw"), ec);
  }
}

// elastix has been seen to ignore an initial transform silently (SuperElastix/elastix#1216): the
// first parameter file it writes must chain onto ours, or its result is not what we composed.
void check_initial_applied(const ElastixResult& er, const std::string& initial_file) {
  const std::string first = er.transform_files.front();
  const transform::ParameterMap map = transform::read_parameter_file(first);
  const auto it = map.find("InitialTransformParametersFileName");
  const std::string chained = it == map.end() || it->second.empty() ? std::string() : it->second.front();
  // elastix runs in its output folder, so a relative name there is relative to that folder.
  fs::path link(chained);
  if (link.is_relative()) link = fs::path(first).parent_path() / link;
  std::error_code ec;
  if (chained.empty() || !fs::equivalent(link, fs::path(initial_file), ec))
    fail_runtime(first + ": elastix did not apply the initial transform " + initial_file +
                 " (InitialTransformParametersFileName is \"" + chained + "\"); see " + er.log_path);
}

}  // namespace

void check_registration_inputs(const RegisterOptions& o) {
  find_executable(o.elastix);
  for (const auto& p : o.parameter_files)
    transform::check_registration_parameters(transform::read_parameter_file(p), p);
  if (o.init_names_file() && !fs::exists(o.init)) fail_input(o.init, "--init: no such file");
}

RegistrationImages start_registration_images(Size design, Size scan, int factor, const RegisterOptions& o) {
  RegistrationImages images;
  images.factor = factor;
  images.fixed = (fs::path(o.work_dir) / kFixedImage).string();
  images.moving = (fs::path(o.work_dir) / kMovingImage).string();
  // Coarse images: both by the same total factor, larger side about o.coarse_size.
  images.coarse_factor = coarse::factor_for(std::max(design.width, scan.width) / factor,
                                            std::max(design.height, scan.height) / factor, o.coarse_size);
  fs::create_directories(o.work_dir);
  return images;
}

void keep_registration_image(RegistrationImages& images, bool is_design, const io::GreyImage& image,
                             const RegisterOptions& o) {
  io::write_metaimage(is_design ? images.fixed : images.moving, image);
  images.bytes += image.pixels.size() * sizeof(float);
  if (!o.init_runs_coarse_stage()) return;
  (is_design ? images.coarse_design : images.coarse_scan) = coarse::downsample(image, images.coarse_factor);
}

void discard_registration_work(const std::string& work_dir, bool made_work_dir) {
  // No registration images are left behind, and no folder at all unless elastix ran: then its
  // log stays, as the error line names it.
  std::error_code ec;
  remove_registration_images(work_dir);
  const bool has_log =
      fs::exists(fs::path(work_dir) / "elastix.log", ec) || fs::exists(fs::path(work_dir) / "elastix.console.log", ec);
  if (made_work_dir && !has_log) fs::remove_all(work_dir, ec);
}

// The coarse stage: the placement it finds becomes elastix's initial transform (written to
// initial_transform.txt); a rejected or (unless accepted) ambiguous placement is bad input.
static std::string initial_from_coarse_stage(const RegistrationImages& images, Size reg_size, const RegisterOptions& o,
                                             RegistrationResult& r) {
  const std::string scan_name = o.scan_path.empty() ? std::string("scan") : o.scan_path;
  const coarse::Image& coarse_design = images.coarse_design;
  const coarse::Image& coarse_scan = images.coarse_scan;
  coarse::CoarseOptions co;
  co.max_rotation_deg = o.max_rotation_deg;
  co.quarter_turns = o.quarter_turns;
  co.debug_dir = o.coarse_debug_dir;
  co.use_search = o.init != "box";
  co.use_box = o.init != "search";
  coarse::CoarseResult cr = coarse::estimate_placement(coarse_design, coarse_scan, co);
  r.coarse_seconds = cr.seconds;
  spdlog::info("coarse alignment ({}x{} and {}x{} px, factor {}, {} candidates) in {:.2f} s: best {} score {:.3f}{}",
               coarse_design.width, coarse_design.height, coarse_scan.width, coarse_scan.height, coarse_design.factor,
               cr.candidates, cr.seconds, coarse::describe(cr.best), cr.best.score,
               cr.has_runner_up
                   ? fmt::format(", runner-up {} score {:.3f}", coarse::describe(cr.runner_up), cr.runner_up.score)
                   : std::string());
  spdlog::info("coarse alignment: confidence {:.3f}; fabric box {}{}", cr.confidence, cr.box_state,
               cr.box_state == "none" ? (cr.box_note.empty() ? std::string() : " (" + cr.box_note + ")")
                                      : fmt::format(" ({:.1f} px from the best)", cr.box_distance));
  if (!cr.wider_note.empty())
    spdlog::info("coarse alignment: found beyond --max-rotation or at another scale or aspect than the design ({})",
                 cr.wider_note);
  // (register_decimated removes the registration images on every way out by an error.)
  if (cr.rejected) fail_input(scan_name, cr.reason);
  if (cr.ambiguous) {
    if (!o.accept_ambiguous)
      fail_input(scan_name, cr.reason + "; pass --accept-ambiguous to use the best anyway, or --init FILE");
    spdlog::warn("{} (accepted: --accept-ambiguous)", cr.reason);
  }
  r.has_initial = true;
  r.initial.method = o.init;
  r.initial.affine = cr.best.affine();
  r.initial.score = cr.best.score;
  r.initial.has_runner_up = cr.has_runner_up;
  r.initial.runner_up = cr.runner_up.affine();
  r.initial.runner_up_score = cr.runner_up.score;
  r.initial.confidence = cr.confidence;
  r.initial.ambiguous = cr.ambiguous;
  r.initial.box_state = cr.box_state;
  r.initial.box_distance = cr.box_distance;
  r.initial.seconds = cr.seconds;
  const std::string initial_file = fs::absolute(fs::path(o.work_dir) / "initial_transform.txt").string();
  write_initial_parameters(initial_file, r.initial.affine, reg_size, images.factor);
  return initial_file;
}

// --init FILE: a transform.json gives its affine part (B-spline stages dropped), rewritten for the
// registration grid; an elastix file is handed to elastix as it is.
static std::string initial_from_file(Size reg_size, int factor, const RegisterOptions& o, RegistrationResult& r) {
  std::string initial_file;
  if (fs::path(o.init).extension() == ".json") {
    transform::TransformFile tf = transform::read_transform_json(o.init);
    r.initial.affine = affine_of(tf.transform.affine_part(), o.init);
    initial_file = fs::absolute(fs::path(o.work_dir) / "initial_transform.txt").string();
    write_initial_parameters(initial_file, r.initial.affine, reg_size, factor);
  } else {
    transform::Transform t = transform::read_elastix_transform(o.init);  // validates
    r.initial.affine = affine_of(t.affine_part(), o.init);               // recorded only; elastix reads the file itself
    initial_file = fs::absolute(o.init).string();
  }
  r.has_initial = true;
  r.initial.method = "file";
  r.initial.score = r.initial.confidence = 0;
  return initial_file;
}

static RegistrationResult register_decimated_unguarded(RegistrationImages& images, Size design_size,
                                                       const RegisterOptions& o) {
  RegistrationResult r;
  const std::string exe = find_executable(o.elastix);
  std::vector<std::string> params = o.parameter_files;
  if (params.empty()) params = write_preset_files(o.preset, o.work_dir, o.grid_spacing, o.refinement_follows);
  r.decimate_seconds = images.decimate_seconds;
  r.registration_image_bytes = images.bytes;
  spdlog::info("decimated design and scan by {} in {:.2f} s ({} of registration images)", images.factor,
               r.decimate_seconds, format_bytes(r.registration_image_bytes));

  const Size reg_size{design_size.width / images.factor, design_size.height / images.factor};
  std::string initial_file;
  if (o.init_runs_coarse_stage())
    initial_file = initial_from_coarse_stage(images, reg_size, o, r);
  else if (o.init_names_file())
    initial_file = initial_from_file(reg_size, images.factor, o, r);
  if (!initial_file.empty() && o.parameter_files.empty()) disable_automatic_initialization(params);

  ElastixJob job{exe, images.fixed, images.moving, params, o.work_dir, initial_file, o.threads};
  ElastixResult er = run_elastix(job);
  r.elastix_seconds = er.seconds;
  r.elastix_peak_rss = er.peak_rss_bytes;
  r.elastix_chain = er.transform_files;
  r.elastix_log = er.log_path;
  spdlog::info("elastix finished in {:.2f} s, peak RSS {}, log {}", er.seconds, format_bytes(er.peak_rss_bytes),
               er.log_path);
  if (!initial_file.empty()) check_initial_applied(er, initial_file);
  r.transform = transform::read_elastix_transform(er.transform_files.back());
  if (!o.keep_images) remove_registration_images(o.work_dir);
  return r;
}

RegistrationResult register_decimated(RegistrationImages& images, Size design_size, const RegisterOptions& o,
                                      bool made_work_dir) {
  try {
    return register_decimated_unguarded(images, design_size, o);
  } catch (...) {
    // Every way out (bad input, elastix failure, a stop) cleans up alike.
    discard_registration_work(o.work_dir, made_work_dir);
    throw;
  }
}

RegistrationResult register_pair(const io::Raster& design, const io::Raster& scan, int factor,
                                 const RegisterOptions& o) {
  std::error_code ec;
  const bool made_work_dir = !fs::exists(o.work_dir, ec);
  RegistrationImages images;
  try {
    // Parameter files first: a malformed user file fails before any heavy work.
    check_registration_inputs(o);
    images = start_registration_images(design.size(), scan.size(), factor, o);
    const double t0 = now_seconds();
    keep_registration_image(images, true, io::decimate_grey(design, factor), o);  // one decimated image at a time
    keep_registration_image(images, false, io::decimate_grey(scan, factor), o);
    images.decimate_seconds = now_seconds() - t0;
  } catch (...) {
    discard_registration_work(o.work_dir, made_work_dir);
    throw;
  }
  return register_decimated(images, design.size(), o, made_work_dir);
}

double overlap_fraction(const transform::Transform& t, Size design, Size scan) {
  const int n = 64;
  int inside = 0, total = 0;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      Vec2 p{(i + 0.5) * design.width / n - 0.5, (j + 0.5) * design.height / n - 0.5};
      Vec2 q = t.apply(p);
      ++total;
      if (q.x >= -0.5 && q.y >= -0.5 && q.x <= scan.width - 0.5 && q.y <= scan.height - 0.5) ++inside;
    }
  return static_cast<double>(inside) / total;
}

}  // namespace alinify::reg
