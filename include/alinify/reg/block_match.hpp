#pragma once
// The block measurement of the refinement stage (issue 16 item 2; docs/registration.md, "Block
// measurement"): how far a design block has still to move to land on the scan, with sub-pixel
// precision, and how far to trust that. A pure function on two small grey images, no I/O: the
// caller reads the design block and resamples the scan through the current transform onto the
// same design pixels (the warp's own math), then passes both here.
#include <functional>
#include <string>
#include <vector>

namespace alinify::reg::block {

// A square block, row-major, size x size grey values (any scale: the measurement is normalised).
struct Block {
  int size = 0;
  std::vector<float> px;
  float at(int x, int y) const { return px[static_cast<size_t>(y) * size + x]; }
};

struct MatchOptions {
  // Search radius cap in px: shifts beyond it are not looked for. Clamped to size/4, where the
  // window still overlaps three quarters of the block. The caller keeps it well below a quarter of
  // any repeat period the coarse stage saw, so that a block cannot jump to the next repeat.
  double max_shift = 8;
  // Below this windowed standard deviation (grey levels of 0..255 images) a block is flat: the
  // noise of the synthetic camera is about 3 levels, so 2 levels of design structure cannot be
  // told from it.
  double min_texture = 2.0;
  // Below this normalised correlation at the peak the blocks do not show the same thing.
  double min_peak = 0.3;
  // Upsampling of the correlation around the integer peak (grid of 1/upsample px).
  int upsample = 16;
  // Left and right halves measured on their own must agree within about this many px.
  double agreement_px = 0.25;
  // The aperture problem: a block whose texture runs one way (a straight edge, stripes, a line)
  // fixes the shift across it, not along it, yet correlates as sharply as any. Its isotropy, the
  // smaller over the larger eigenvalue of the design block's windowed structure tensor, says how
  // far it fixes both directions. Below min_isotropy the block is refused (kOneDirectional);
  // below full_isotropy its confidence falls as (isotropy / full_isotropy)^2. Where these came
  // from (a 6000x4500 crop of the 283 MP fine-wave pair, blocks measured against the truth: rms
  // error 0.15 px at isotropy >= 0.3, 0.33 px at 0.2-0.3, 0.59 px at 0.1-0.2, 1.6 px below 0.05):
  // docs/registration.md, "One-directional blocks".
  double min_isotropy = 0.05;
  double full_isotropy = 0.3;
};

// New verdicts go last: records travel between ranks as the enum's integer.
enum class Verdict { kOk, kFlat, kNoMatch, kAmbiguous, kBeyondRadius, kDisagree, kOneDirectional };
std::string describe(Verdict v);

struct Measurement {
  // The design content at design pixel p lies at p + (dx, dy) in the resampled scan: the corrected
  // transform is T'(p) = T(p + (dx, dy)).
  double dx = 0, dy = 0;
  double confidence = 0;    // 0..1: peak x distinctness x agreement x aperture; 0 unless the verdict is kOk
  double texture = 0;       // windowed standard deviation of the design block, grey levels
  double peak = 0;          // normalised correlation at the integer peak, -1..1
  double second = 0;        // best other local maximum within the radius (outside the peak's lobe)
  double disagreement = 0;  // px between the left-half and right-half estimates
  double isotropy = 0;      // 0..1, the design block's structure tensor (MatchOptions::min_isotropy)
  double aperture = 0;      // 0..1, the weight the isotropy leaves: min(1, isotropy / full)^2
  Verdict verdict = Verdict::kNoMatch;
  bool usable() const { return verdict == Verdict::kOk; }
};

// The smaller over the larger eigenvalue of a block's Hann-windowed structure tensor (central
// differences): 1 for texture that runs every way, 0 for a straight edge or stripes, 0 when flat.
double isotropy(const Block& b);

// Zero-mean, Hann-windowed cross-correlation by FFT (FFTW, the coarse stage's cached plans), the
// integer peak within the radius, then the peak of the band-limited correlation on an upsampled
// grid around it (a matrix DFT: no locking to integer shifts), then a parabola through the finest
// grid. Both blocks must have the same size (at least 16).
Measurement measure_block(const Block& design, const Block& scan, const MatchOptions& options = {});

// The same with the scan made only when it is needed: a flat design block is decided by the
// design alone, so a caller that reads and resamples the scan for each block (the refinement:
// a quarter of the 283 MP synth pair's blocks are flat) skips that work for it.
Measurement measure_block(const Block& design, const std::function<Block()>& make_scan,
                          const MatchOptions& options = {});

}  // namespace alinify::reg::block
