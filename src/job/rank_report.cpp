#include "alinify/job/rank_report.hpp"

#include <spdlog/spdlog.h>

#include "alinify/core/resources.hpp"

namespace alinify::job {

std::string to_message(const RankReport& r) {
  const nlohmann::json device = {
      {"measured", r.device.measured}, {"h2d", r.device.h2d}, {"kernel", r.device.kernel}, {"d2h", r.device.d2h}};
  const nlohmann::json m = {{"rank", r.rank},
                            {"host", r.host},
                            {"local_rank", r.local_rank},
                            {"local_size", r.local_size},
                            {"budget_bytes", r.budget_bytes},
                            {"strips", r.strips},
                            {"read_seconds", r.read_seconds},
                            {"warp_seconds", r.warp_seconds},
                            {"write_seconds", r.write_seconds},
                            {"peak_rss_bytes", r.peak_rss_bytes},
                            {"elastix_peak_rss_bytes", r.elastix_peak_rss_bytes},
                            {"device", device}};
  return m.dump();
}

RankReport rank_report_from_message(const std::string& message) {
  const nlohmann::json m = nlohmann::json::parse(message);
  RankReport r;
  m.at("rank").get_to(r.rank);
  m.at("host").get_to(r.host);
  m.at("local_rank").get_to(r.local_rank);
  m.at("local_size").get_to(r.local_size);
  m.at("budget_bytes").get_to(r.budget_bytes);
  m.at("strips").get_to(r.strips);
  m.at("read_seconds").get_to(r.read_seconds);
  m.at("warp_seconds").get_to(r.warp_seconds);
  m.at("write_seconds").get_to(r.write_seconds);
  m.at("peak_rss_bytes").get_to(r.peak_rss_bytes);
  m.at("elastix_peak_rss_bytes").get_to(r.elastix_peak_rss_bytes);
  const nlohmann::json& device = m.at("device");
  device.at("measured").get_to(r.device.measured);
  device.at("h2d").get_to(r.device.h2d);
  device.at("kernel").get_to(r.device.kernel);
  device.at("d2h").get_to(r.device.d2h);
  return r;
}

nlohmann::json to_metrics(const RankReport& r) {
  nlohmann::json entry = {{"rank", r.rank},
                          {"host", r.host},
                          {"local_rank", r.local_rank},
                          {"local_size", r.local_size},
                          {"budget_bytes", r.budget_bytes},
                          {"strips", r.strips},
                          {"read_seconds", r.read_seconds},
                          {"warp_seconds", r.warp_seconds},
                          {"write_seconds", r.write_seconds},
                          {"peak_rss_bytes", r.peak_rss_bytes},
                          {"elastix_peak_rss_bytes", r.elastix_peak_rss_bytes}};
  if (r.device.measured)
    entry["device_seconds"] = {{"h2d", r.device.h2d}, {"kernel", r.device.kernel}, {"d2h", r.device.d2h}};
  return entry;
}

void log_rank_report(const RankReport& r) {
  // On a GPU, "warp" is the host's wait for the device; the device's own split follows.
  const std::string device = r.device.measured ? fmt::format(" (device: H2D {:.3f} s, kernel {:.3f} s, D2H {:.3f} s)",
                                                             r.device.h2d, r.device.kernel, r.device.d2h)
                                               : std::string();
  const std::string child =
      r.elastix_peak_rss_bytes ? " (elastix child " + format_bytes(r.elastix_peak_rss_bytes) + ")" : std::string();
  spdlog::info(
      "rank {} on {} (local rank {} of {}, budget {}): {} strips, read {:.2f} s, warp {:.2f} s{}, write {:.2f} "
      "s, peak RSS {}{}",
      r.rank, r.host, r.local_rank, r.local_size, format_bytes(r.budget_bytes), r.strips, r.read_seconds,
      r.warp_seconds, device, r.write_seconds, format_bytes(r.peak_rss_bytes), child);
}

}  // namespace alinify::job
