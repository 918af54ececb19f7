#pragma once
// One rank's part of the warp stages that pipeline.cpp runs in order (set-up, strips, report):
// nothing here talks to other ranks, so a failure here is agreed on by the caller.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "alinify/io/raster.hpp"
#include "alinify/io/tiled_output.hpp"
#include "alinify/job/pipeline.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/par/comm.hpp"
#include "alinify/plan/memory_budget.hpp"
#include "alinify/plan/planner.hpp"
#include "alinify/warp/backend.hpp"

namespace alinify::job::detail {

struct WarpTimes {
  double read = 0, warp = 0, write = 0;
  int64_t strips = 0, blocks = 0;
};

// What the warp's set-up decides on every rank; the later stages only read it.
struct WarpSetup {
  std::optional<io::Raster> scan;
  std::unique_ptr<warp::Backend> backend;
  warp::WarpSettings settings;
  io::OutputSpec spec;
  plan::StripPlan strips;  // with the strip height every rank agreed on
  plan::Budget budget;
  uint64_t window_limit = 0;

  int64_t strip_count() const { return (spec.size.height + strips.strip_rows - 1) / strips.strip_rows; }
};

// When each stage of the warp ended (now_seconds()), for the log and metrics.json.
struct WarpClock {
  double start = 0, setup = 0, warped = 0, finished = 0;
};

// --fill and the interpolation, as the backend takes them (--fill outside 0..255 is a usage error).
warp::WarpSettings warp_settings(const WarpJob& job);

// The output on the design's grid, as the job asks for it.
io::OutputSpec output_spec(const WarpJob& job, const io::Raster& design);

// This rank's backend, holding the transform; a device's memory may lower the source window limit.
std::unique_ptr<warp::Backend> rank_backend(par::Communicator& comm, const WarpJob& job, const transform::Transform& t,
                                            uint64_t& window_limit);

// Warps one strip of this rank's into `strip` and writes its tiles.
void warp_strip(const plan::RowRange& rows, const WarpSetup& s, const transform::Transform& t, io::TileWriter& writer,
                std::vector<uint8_t>& strip, std::vector<uint8_t>& window_buf, WarpProgress& progress,
                WarpTimes& times);

// metrics.json's "warp": the plan, the choices and the stage times.
nlohmann::json warp_facts(const WarpSetup& s, const WarpClock& clock);

}  // namespace alinify::job::detail
