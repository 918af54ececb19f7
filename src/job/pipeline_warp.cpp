#include "pipeline_warp.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "alinify/core/cancel.hpp"
#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/io/tile_codec.hpp"

namespace fs = std::filesystem;

namespace alinify::job::detail {
namespace {

// What warp_block needs besides the block: the scan and how to warp it, and the strip it fills.
struct BlockWork {
  const io::Raster& scan;
  const transform::Transform& transform;
  warp::Backend& backend;
  const warp::WarpSettings& settings;
  uint64_t window_limit;  // source window bytes above which a block is split
  int tile;
  uint8_t* strip;  // the strip buffer; its first row is output row strip_y0
  int64_t strip_y0;
  size_t strip_stride;
  std::vector<uint8_t>& window_buf;  // reused from block to block
  WarpTimes& times;
};

// A block that maps wholly outside the scan: the fill colour, nothing read.
void fill_block(const Window& block, uint8_t* out, const BlockWork& w) {
  for (int64_t j = 0; j < block.height; ++j)
    for (int64_t i = 0; i < block.width; ++i) warp::put_rgb(out + j * w.strip_stride + i * 3, w.settings.fill);
}

// The two halves of a block: the longer side cut on a tile boundary (or in half when under two tiles).
std::pair<Window, Window> split_block(const Window& block, int tile) {
  const bool cols = block.width >= block.height;
  const int64_t len = cols ? block.width : block.height;
  int64_t half = len / 2 >= tile ? (len / 2) / tile * tile : len / 2;
  Window a = block, b = block;
  if (cols) {
    a.width = half;
    b.x0 += half;
    b.width -= half;
  } else {
    a.height = half;
    b.y0 += half;
    b.height -= half;
  }
  return {a, b};
}

// Warps one output block into the strip buffer; splits it when its source window would not fit.
void warp_block(const Window& block, BlockWork& w) {
  const Window src = warp::source_window(w.transform, block, w.scan.size(), w.settings.interp);
  uint8_t* out = w.strip + (block.y0 - w.strip_y0) * w.strip_stride + block.x0 * 3;
  if (src.empty()) {
    fill_block(block, out, w);
    ++w.times.blocks;
    return;
  }
  const uint64_t bytes = static_cast<uint64_t>(src.width) * src.height * 3;
  if (bytes > w.window_limit && (block.width > w.tile || block.height > w.tile)) {
    const auto [a, b] = split_block(block, w.tile);
    warp_block(a, w);
    warp_block(b, w);
    return;
  }
  double t0 = now_seconds();
  w.window_buf.resize(bytes);
  w.scan.read_rgb(src, w.window_buf.data(), static_cast<size_t>(src.width) * 3);
  double t1 = now_seconds();
  warp::SourceView sv{w.window_buf.data(), src.x0, src.y0, src.width, src.height, src.width * 3, w.scan.size().width,
                      w.scan.size().height};
  warp::OutputBlock ob{out, block.x0, block.y0, block.width, block.height, static_cast<int64_t>(w.strip_stride)};
  w.backend.submit(sv, ob, w.settings);  // a GPU keeps it in flight while the next window is read
  w.times.read += t1 - t0;
  w.times.warp += now_seconds() - t1;
  ++w.times.blocks;
}

}  // namespace

warp::WarpSettings warp_settings(const WarpJob& job) {
  warp::WarpSettings settings;
  settings.interp = job.interp;
  settings.exact = job.exact;
  const auto grey = static_cast<uint8_t>(job.fill);
  settings.fill = {grey, grey, grey};
  return settings;
}

io::OutputSpec output_spec(const WarpJob& job, const io::Raster& design) {
  if (fs::exists(job.out) && fs::is_directory(job.out)) fail_input(job.out, "is a directory");
  io::OutputSpec spec;
  spec.path = job.out;
  spec.size = design.size();
  spec.tile = job.tile;
  spec.compress = job.compress;
  spec.compress_level = job.compress_level;
  spec.predictor = job.predictor;
  spec.overviews = job.overviews;
  spec.cog = job.cog;
  spec.georef = design.info();
  return spec;
}

std::unique_ptr<warp::Backend> rank_backend(par::Communicator& comm, const WarpJob& job, const transform::Transform& t,
                                            uint64_t& window_limit) {
  warp::BackendRequest request;
  request.kind = job.backend;
  request.local_rank = comm.local_rank();
  request.local_size = comm.local_size();
  request.device = job.device;
  request.gpus_per_rank = job.gpus_per_rank;
  std::unique_ptr<warp::Backend> backend = warp::make_backend(request);
  backend->set_transform(t);
  // A device holds two blocks in flight, each a source window and an output block: a quarter of
  // its share of VRAM per window keeps both slots inside it.
  if (const uint64_t vram = backend->device_memory_budget(); vram > 0 && vram / 4 < window_limit) {
    window_limit = vram / 4;
    spdlog::info("source windows limited to {} by {} of device memory for this rank", format_bytes(window_limit),
                 format_bytes(vram));
  }
  return backend;
}

void warp_strip(const plan::RowRange& rows, const WarpSetup& s, const transform::Transform& t, io::TileWriter& writer,
                std::vector<uint8_t>& strip, std::vector<uint8_t>& window_buf, WarpProgress& progress,
                WarpTimes& times) {
  const size_t stride = static_cast<size_t>(s.spec.size.width) * 3;
  BlockWork work{*s.scan,      t,       *s.backend, s.settings, s.window_limit, s.spec.tile,
                 strip.data(), rows.y0, stride,     window_buf, times};
  for (int64_t bx = 0; bx < s.spec.size.width; bx += s.strips.block_cols) {
    warp_block(Window{bx, rows.y0, std::min<int64_t>(s.strips.block_cols, s.spec.size.width - bx), rows.rows}, work);
    progress.poll();  // rank 0 only: the other ranks' reports, between its own blocks
    cancel::throw_if_requested();
  }
  const double t_drain = now_seconds();
  s.backend->drain();  // the strip's blocks still on a device land in `strip`
  const double t0 = now_seconds();
  times.warp += t0 - t_drain;
  writer.write_strip(rows.y0, rows.rows, strip.data(), stride);
  times.write += now_seconds() - t0;
  ++times.strips;
  progress.strip_done(rows.rows * s.spec.size.width);
}

nlohmann::json warp_facts(const WarpSetup& s, const WarpClock& clock) {
  return {{"plan",
           {{"budget_bytes", s.budget.bytes},
            {"budget_source", s.budget.source},
            {"strip_rows", s.strips.strip_rows},
            {"block_cols", s.strips.block_cols},
            {"strips", s.strip_count()},
            {"estimated_bytes", s.strips.estimated_bytes},
            {"reason", s.strips.reason}}},
          {"interp", warp::interp_name(s.settings.interp)},
          {"exact_transform", s.settings.exact},
          {"backend", s.backend->name()},
          {"compress", s.spec.compress},
          {"compress_level", io::checked_level(io::codec_from_name(s.spec.compress), s.spec.compress_level)},
          {"predictor", s.spec.compress == "none" ? "none" : s.spec.predictor},
          {"overviews", s.spec.overviews},
          {"cog", s.spec.cog},
          {"tile", s.spec.tile},
          {"stage_seconds",
           {{"setup", clock.setup - clock.start},
            {"warp", clock.warped - clock.setup},
            {"finish", clock.finished - clock.warped}}}};
}

}  // namespace alinify::job::detail

namespace alinify::job {

void check_warp_options(const WarpJob& job) {
  if (job.fill < 0 || job.fill > 255) fail_usage("--fill: " + std::to_string(job.fill) + " is not in 0..255");
  // At most 4096: a strip holds whole tile rows, so the tile's height sets the smallest buffer
  // per rank (18960 x 4096 RGB is 222 MiB; a 10^6 px tile asked GDAL for terabytes).
  if (job.tile < 16 || job.tile > 4096 || job.tile % 16 != 0)
    fail_usage("--tile: " + std::to_string(job.tile) + " is not a multiple of 16 from 16 to 4096");
}

}  // namespace alinify::job
