#pragma once
// The refinement stage (issue 16 item 2; docs/registration.md, "Refinement"): between the
// broadcast of the elastix transform and the warp, every rank measures the residual displacement
// of the design blocks in its own strips at full resolution, rank 0 fits one smooth B-spline
// correction to all of them in a fixed order, and the corrected transform is broadcast.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "alinify/par/comm.hpp"
#include "alinify/qa/pictures.hpp"
#include "alinify/transform/transform_json.hpp"

namespace alinify::job {

enum class RefineMode { kNone, kAuto };

struct RefineJob {
  RefineMode mode = RefineMode::kNone;
  std::string design, scan;
  std::string transform_out;  // rank 0 rewrites it with the corrected transform
  std::optional<uint64_t> mem_budget;
  int tile = 256;  // the warp's tile: the strips are the warp's own
};

// Every rank. Returns the transform the warp is to use (the same on every rank); with
// RefineMode::kNone, `t` unchanged. `facts` (rank 0): metrics.json's "refinement"; `residuals`
// (rank 0): the residual per block before and after, for the QA report's residual maps.
transform::TransformFile refine_transform(par::Communicator& comm, const transform::TransformFile& t,
                                          const RefineJob& job, nlohmann::json* facts,
                                          qa::ResidualGrid* residuals = nullptr);

}  // namespace alinify::job
