#include "alinify/reg/registration.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/decimate.hpp"
#include "alinify/reg/elastix_runner.hpp"
#include "alinify/reg/presets.hpp"
#include "alinify/transform/elastix_params.hpp"

namespace fs = std::filesystem;

namespace alinify::reg {

RegistrationResult register_pair(const io::Raster& design, const io::Raster& scan, int factor,
                                 const RegisterOptions& o) {
  RegistrationResult r;
  const std::string exe = find_executable(o.elastix);
  // Parameter files first: a malformed user file fails before any heavy work.
  std::vector<std::string> params = o.parameter_files;
  for (const auto& p : params) transform::read_parameter_file(p);
  fs::create_directories(o.work_dir);
  if (params.empty()) params = write_preset_files(o.preset, o.work_dir);

  const double t0 = now_seconds();
  const std::string fixed = (fs::path(o.work_dir) / "design_reg.mhd").string();
  const std::string moving = (fs::path(o.work_dir) / "scan_reg.mhd").string();
  {
    io::GreyImage d = io::decimate_grey(design, factor);
    io::write_metaimage(fixed, d);
    r.registration_image_bytes += d.pixels.size() * sizeof(float);
  }  // one decimated image in memory at a time
  {
    io::GreyImage s = io::decimate_grey(scan, factor);
    io::write_metaimage(moving, s);
    r.registration_image_bytes += s.pixels.size() * sizeof(float);
  }
  r.decimate_seconds = now_seconds() - t0;
  spdlog::info("decimated design and scan by {} in {:.2f} s ({} of registration images)", factor,
               r.decimate_seconds, format_bytes(r.registration_image_bytes));

  ElastixJob job{exe, fixed, moving, params, o.work_dir, "", o.threads};
  ElastixResult er = run_elastix(job);
  r.elastix_seconds = er.seconds;
  r.elastix_peak_rss = er.peak_rss_bytes;
  r.elastix_chain = er.transform_files;
  r.elastix_log = er.log_path;
  spdlog::info("elastix finished in {:.2f} s, peak RSS {}, log {}", er.seconds, format_bytes(er.peak_rss_bytes),
               er.log_path);
  r.transform = transform::read_elastix_transform(er.transform_files.back());
  if (!o.keep_images) {
    for (const auto& m : {fixed, moving}) {
      fs::remove(m);
      fs::remove(fs::path(m).replace_extension(".raw"));
    }
  }
  return r;
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
