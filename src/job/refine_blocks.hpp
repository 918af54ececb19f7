#pragma once
// The refinement's block grid and one rank's measurements (job/refine.cpp drives them).
#include <string>
#include <vector>

#include "alinify/core/geometry.hpp"
#include "alinify/io/raster.hpp"
#include "alinify/reg/block_match.hpp"
#include "alinify/transform/transform.hpp"

namespace alinify::job::detail {

// 64 px blocks every 32 px: each block overlaps its neighbours by half, so a feature on a block
// edge is seen whole by another block. Smaller blocks follow finer deformation: on the 3000x2250
// synth pair with --fine-waves 3 (periods from 256 px), 128 px blocks every 64 px on a 128 px
// control grid left eval at mean 0.69 / p95 1.96 px, 64 px blocks on a 64 px grid at 0.106 /
// 0.287 px (a 128 px block averages a 256 px wave over half its period; 192 px blocks made the
// bspline preset worse still). The price is noise where the residual is already small, which the
// `auto` threshold in refine.cpp answers (docs/registration.md, "Refinement").
constexpr int kBlockSize = 64;
// Beyond kMaxDenseBlocks blocks (about 100 MP) the blocks are laid side by side, every 64 px: a
// pass over the dense grid of a 283 MP design (~270,000 blocks at ~1 ms each) took minutes on 2
// cores; side by side it is a quarter of that. The grid depends on the design size only, never on
// the rank count.
constexpr int kDenseBlockStep = 32;
constexpr int kSparseBlockStep = 64;
constexpr int64_t kMaxDenseBlocks = 100000;
int block_step(Size design);

struct BlockSite {
  int index = 0;  // global, row-major over the grid: the gather order
  Window window;  // in design pixels
  Vec2 centre() const { return {window.x0 + (window.width - 1) / 2.0, window.y0 + (window.height - 1) / 2.0}; }
};

std::vector<BlockSite> block_grid(Size design);
// The grid with blocks every `step` px (kDenseBlockStep or kSparseBlockStep): the refinement
// switches a large design to the dense grid when the first residual shows the blocks sheared.
std::vector<BlockSite> block_grid(Size design, int step);

// One measured block, as it travels to rank 0.
struct BlockRecord {
  int index = 0;
  reg::block::Measurement m;
  bool inside = true;            // false: the block does not map wholly inside the scan, even moved (not measured)
  int shift_x = 0, shift_y = 0;  // px the block was moved inward so that it maps inside the scan
  Vec2 centre(const BlockSite& site) const { return {site.centre().x + shift_x, site.centre().y + shift_y}; }
};

// A block that does not map wholly inside the scan is moved toward the design's centre, by 4 px
// steps up to kMaxInwardShift (less than the grid step: it never passes its inner neighbour),
// along x, y or both, the smallest move that maps inside. Without it the outermost blocks near
// the scan's edge were never measured and the fit extrapolated there: on a 2000x1500 fine-wave
// pair (seed 9) eval's error was 0.53 px (mean) within 20 px of the design's border, against
// 0.07 px 60 px in (docs/registration.md, "Refinement", step 1).
constexpr int kMaxInwardShift = 28;

// Design block and scan resampled through `t` (the warp's bilinear math), then measured.
BlockRecord measure_site(const BlockSite& site, const io::Raster& design, const io::Raster& scan,
                         const transform::Transform& t, const reg::block::MatchOptions& options);

// The fit's weight of a measurement: its confidence when it is ok; half its peak x distinctness
// when only its halves disagree (the block is sheared by deformation finer than itself: its
// shift is still the block's mean, which the fit wants), times the aperture weight of a block
// whose texture runs mostly one way; 0 otherwise (flat, one direction only, no match, ambiguous,
// beyond the radius, outside the scan).
double fit_weight(const BlockRecord& r);
// Whether the block's shift counts in the residual statistics (weight > 0).
inline bool counted(const BlockRecord& r) { return fit_weight(r) > 0; }

std::string to_message(const std::vector<BlockRecord>& records);
std::vector<BlockRecord> records_from_message(const std::string& text);

}  // namespace alinify::job::detail
