// Job and result records as JSON: the dispatcher's messages to the groups and back.
#include "internal.hpp"

namespace alinify::batch::detail {

nlohmann::json to_json(const BatchJob& j) {
  return {{"index", j.index},
          {"line", j.line},
          {"id", j.id},
          {"design", j.design},
          {"scan", j.scan},
          {"out", j.out},
          {"transform", j.transform_out},
          {"overrides", j.overrides},
          {"input_bytes", j.input_bytes},
          {"timeout_seconds", j.timeout_seconds}};
}

BatchJob batch_job_from_json(const nlohmann::json& j) {
  BatchJob b;
  b.index = j.at("index").get<int>();
  b.line = j.at("line").get<int>();
  b.id = j.at("id").get<std::string>();
  b.design = j.at("design").get<std::string>();
  b.scan = j.at("scan").get<std::string>();
  b.out = j.at("out").get<std::string>();
  b.transform_out = j.at("transform").get<std::string>();
  b.overrides = j.at("overrides").get<std::map<std::string, std::string>>();
  b.input_bytes = j.at("input_bytes").get<uint64_t>();
  b.timeout_seconds = j.at("timeout_seconds").get<double>();
  return b;
}

nlohmann::json to_json(const JobResult& r) {
  return {{"ok", r.ok},
          {"exit_code", r.exit_code},
          {"error", r.error},
          {"seconds", r.seconds},
          {"register_seconds", r.register_seconds},
          {"warp_seconds", r.warp_seconds},
          {"registration_factor", r.registration_factor},
          {"out_size", r.out_size},
          {"xxh64", r.xxh64}};
}

JobResult job_result_from_json(const nlohmann::json& j) {
  JobResult r;
  r.ok = j.at("ok").get<bool>();
  r.exit_code = j.at("exit_code").get<int>();
  r.error = j.at("error").get<std::string>();
  r.seconds = j.at("seconds").get<double>();
  r.register_seconds = j.at("register_seconds").get<double>();
  r.warp_seconds = j.at("warp_seconds").get<double>();
  r.registration_factor = j.at("registration_factor").get<int>();
  r.out_size = j.at("out_size").get<uint64_t>();
  r.xxh64 = j.at("xxh64").get<std::string>();
  return r;
}

}  // namespace alinify::batch::detail
