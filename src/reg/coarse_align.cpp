// Coarse global alignment (see coarse_align.hpp and docs/registration.md): masked FFT NCC over a
// set of rotations, several peaks per rotation, the best distinct candidates refined on the full
// overlap, and a confidence from the best against the best *different* placement. This file holds
// the verdict; the steps live in coarse_image, coarse_fft, coarse_ncc, coarse_peaks, coarse_search,
// coarse_placement and coarse_debug (.cpp).
#include "alinify/reg/coarse_align.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/reg/fabric_box.hpp"
#include "coarse_internal.hpp"

namespace alinify::reg::coarse {

namespace {

bool by_score(const Placement& a, const Placement& b) { return a.score > b.score; }

// Placements farther apart than `separation` full-resolution px are different placements (a
// neighbouring repeat is many coarse pixels away, a refinement of the same one a few).
struct Distinctness {
  int64_t design_width, design_height;  // full-resolution px
  double separation;
  bool distinct(const Placement& p, const Placement& q) const {
    return placement_distance(p, q, design_width, design_height) >= separation;
  }
  bool distinct_from_all(const Placement& p, const std::vector<Placement>& set) const {
    for (const Placement& q : set)
      if (!distinct(p, q)) return false;
    return true;
  }
};

// The best `count` distinct candidates (at least one), best first.
std::vector<Placement> best_distinct(std::vector<Placement> candidates, int count, const Distinctness& rule) {
  std::sort(candidates.begin(), candidates.end(), by_score);
  std::vector<Placement> chosen;
  for (const Placement& p : candidates) {
    if (rule.distinct_from_all(p, chosen)) chosen.push_back(p);
    if (static_cast<int>(chosen.size()) >= count) break;
  }
  return chosen;
}

// Why a fabric box was found but gives no placement; empty when it gives some.
std::string box_mismatch(const FabricBox& fabric, int factor, int64_t design_width, int64_t design_height,
                         const CoarseOptions& options) {
  const char* why = fabric.touches_edge ? ": the fabric runs off the edge of the scan"
                    : std::abs(fabric.angle_deg) > options.max_rotation_deg + 1 ? ": turned beyond --max-rotation"
                                                                                : "";
  return fmt::format(
      "the fabric's box ({:.0f} x {:.0f} px, turned {:.1f} deg) does not match the design ({} x {} px){}",
      fabric.length * factor, fabric.breadth * factor, fabric.angle_deg, design_width, design_height, why);
}

// The search's and the fabric box's candidates, each refined on the full overlap, best first.
std::vector<Placement> refine_all(const Image& design, const Image& scan, const std::vector<Placement>& chosen,
                                  double small_step) {
  const Image design_fine = detail::normalised(design), scan_fine = detail::normalised(scan);
  std::vector<Placement> refined;
  for (const Placement& p : chosen)
    refined.push_back(detail::refine(design_fine, scan_fine, p, small_step > 0 ? small_step : 1.0));
  std::sort(refined.begin(), refined.end(), by_score);
  return refined;
}

// Best, runner-up (the best placement distinct from it) and the confidence between them, moved by
// box_weight when the fabric box agrees or disagrees with the best.
void weigh(const std::vector<Placement>& refined, const std::vector<Placement>& box_candidates,
           const Distinctness& rule, int factor, const CoarseOptions& options, CoarseResult& result) {
  result.best = refined[0];
  for (size_t k = 1; k < refined.size(); ++k)
    if (rule.distinct(refined[k], result.best)) {
      result.runner_up = refined[k];
      result.has_runner_up = true;
      break;
    }
  const double best = result.best.score, runner_up = result.has_runner_up ? std::max(result.runner_up.score, 0.0) : 0.0;
  result.confidence = best > 0 ? (best - runner_up) / best : 0;
  if (box_candidates.empty()) return;
  result.box_distance = 1e300;
  for (const Placement& p : box_candidates)
    result.box_distance =
        std::min(result.box_distance, placement_distance(result.best, p, rule.design_width, rule.design_height));
  // The box is good to a couple of coarse pixels (blurred edges); a neighbouring repeat is many.
  const bool agrees = result.box_distance <= 5.0 * factor;
  result.box_state = agrees ? "agrees" : "disagrees";
  if (options.use_search) result.confidence += agrees ? options.box_weight : -options.box_weight;
}

// Rejected when the best scores too low, ambiguous when the runner-up is too close.
void judge(const CoarseOptions& options, CoarseResult& result) {
  const double best = result.best.score, runner_up = result.has_runner_up ? std::max(result.runner_up.score, 0.0) : 0.0;
  if (best < options.min_score) {
    result.rejected = true;
    result.reason = fmt::format(
        "the design was not found in the scan: best placement {} scores {:.3f}, below {:.2f} (another design, or no "
        "fabric?)",
        describe(result.best), best, options.min_score);
  } else if (result.confidence < options.min_margin) {
    result.ambiguous = true;
    result.reason = fmt::format(
        "ambiguous placement: best {} score {:.3f} vs runner-up {} score {:.3f} (confidence {:.3f} < {:.3f}; fabric "
        "box: {})",
        describe(result.best), best, describe(result.runner_up), runner_up, result.confidence, options.min_margin,
        result.box_state);
  }
}

std::string debug_path(const CoarseOptions& options, const char* name) {
  std::filesystem::create_directories(options.debug_dir);
  return (std::filesystem::path(options.debug_dir) / name).string();
}

// The scales searched when the design is not found at the scan's own scale: 0.5 to 2 scan px per
// design px, 8 % apart (each candidate's refinement reaches +-10 %), without the +-8 % that the
// first search covered; widened to the scan's size over the design's (10 % beyond the larger
// ratio, 10 % below the smaller), since a scan made at several times the design's resolution
// holds the fabric at about that scale: a synth scan enlarged 2.5 and 3 times was "not found"
// (best 0.15) with 0.5 to 2 only.
struct ScaleRange {
  double min, max;
};
// The scan's width and height over the design's.
struct SizeRatios {
  double w, h;
};
SizeRatios size_ratios(const Image& design, const Image& scan) {
  return {static_cast<double>(scan.width) / design.width, static_cast<double>(scan.height) / design.height};
}
ScaleRange scale_range(const Image& design, const Image& scan, const CoarseOptions& options) {
  const SizeRatios r = size_ratios(design, scan);
  return {std::min(options.min_scale, 0.9 * std::min(r.w, r.h)), std::max(options.max_scale, 1.1 * std::max(r.w, r.h))};
}

// A scan whose size differs from the design's by more than kOtherSizeRatio (either way, in
// either direction) is searched at the other scales whatever the first search scored: there a
// smooth print scores about 0.5 at scale 1 on a piece of itself enlarged (the unit test's blobs
// at 3 times: 0.502 at scale 1.06, 250 px off), over the 0.5 that starts the wider searches.
// The periodic synth's table (margin up to 0.15 of each side) makes the scan at most 1.43 times
// the design.
constexpr double kOtherSizeRatio = 1.6;
bool another_size(const Image& design, const Image& scan) {
  const SizeRatios r = size_ratios(design, scan);
  return std::max(r.w, r.h) > kOtherSizeRatio || std::min(r.w, r.h) < 1 / kOtherSizeRatio;
}

// The scan's aspect (height over width) over the design's. A line-scan camera whose line rate
// does not follow the conveyor stretches the fabric along the roll: the search, isotropic, then
// scores low (a synth scan stretched 10 % along y: 0.371 and found; 25 %: 0.204 and "not
// found"), or scores well enough at a wrong place on a smooth print (the unit test's blobs
// stretched 1.3 times). A scan whose aspect differs from the design's by more than kOtherAspect
// is searched again with its rows resampled to the design's aspect (at scale 1 and at the inverse
// of the row factor: a fabric stretched along x); the stretch is kept in the placement
// (Placement::stretch_y) for elastix's affine stage to refine.
constexpr double kOtherAspect = 1.05;
double aspect_ratio(const Image& design, const Image& scan) {
  const SizeRatios r = size_ratios(design, scan);
  return r.h / r.w;
}
bool another_aspect(const Image& design, const Image& scan) {
  return std::abs(std::log(aspect_ratio(design, scan))) > std::log(kOtherAspect);
}

std::vector<double> other_scales(const ScaleRange& range, const CoarseOptions& options) {
  std::vector<double> scales;
  const double step = std::log(options.scale_step);
  for (int k = static_cast<int>(std::floor(std::log(range.min) / step));
       k <= static_cast<int>(std::ceil(std::log(range.max) / step)); ++k)
    if (k != 0) scales.push_back(std::exp(k * step));
  return scales;
}

// One search at the given scales, the fabric box's candidates beside it, every candidate refined
// and the best judged.
CoarseResult search_at_scales(const Image& design, const Image& scan, const CoarseOptions& options,
                              const std::vector<double>& scales) {
  const double t_start = now_seconds();
  const int factor = design.factor;
  CoarseResult result;

  // Search on images halved once more (FFT sizes a quarter), refine on the given ones.
  const detail::AngleSet angles = detail::search_angles(design, options);
  const bool halve = design.width >= 96 && scan.width >= 96;
  const int search_factor = halve ? 2 * factor : factor;
  detail::SearchOutput search;
  if (options.use_search) {
    const Image design_search = detail::normalised(halve ? downsample(design, 2) : design);
    const Image scan_search = detail::normalised(halve ? downsample(scan, 2) : scan);
    for (const double scale : scales) {
      detail::SearchOutput at = detail::search_placements(design_search, scan_search, angles.angles, scale,
                                                          options.peaks_per_rotation, !options.debug_dir.empty());
      if (search.candidates.empty() && !at.map.empty()) {
        search.map = std::move(at.map), search.map_width = at.map_width, search.map_height = at.map_height;
        search.map_peaks = std::move(at.map_peaks);
      }
      search.fft_width = std::max(search.fft_width, at.fft_width);
      search.fft_height = std::max(search.fft_height, at.fft_height);
      search.candidates.insert(search.candidates.end(), at.candidates.begin(), at.candidates.end());
    }
  }
  result.candidates = static_cast<int>(search.candidates.size());
  const double t_search = now_seconds() - t_start;

  const Distinctness rule{static_cast<int64_t>(design.width) * factor, static_cast<int64_t>(design.height) * factor,
                          3.0 * search_factor};
  std::vector<Placement> chosen = best_distinct(std::move(search.candidates), options.refine, rule);

  // The fabric's box: its placements compete with the search's on the same full-overlap score.
  FabricBox fabric;
  std::vector<Placement> box_candidates;
  if (options.use_box) {
    fabric = find_fabric_box(scan);
    box_candidates = box_placements(fabric, factor, static_cast<double>(rule.design_width),
                                    static_cast<double>(rule.design_height), options);
    if (!fabric.found)
      result.box_note = fabric.why_not;
    else if (box_candidates.empty())
      result.box_note = box_mismatch(fabric, factor, rule.design_width, rule.design_height, options);
    for (const Placement& p : box_candidates)
      if (rule.distinct_from_all(p, chosen)) chosen.push_back(p);
  }

  const std::vector<Placement> refined = refine_all(design, scan, chosen, angles.small_step);
  spdlog::debug("coarse: {} angles, FFT {}x{}, search {:.3f} s, box {}, refinement of {} candidates {:.3f} s",
                options.use_search ? angles.angles.size() : 0, search.fft_width, search.fft_height, t_search,
                fabric.found ? "found" : (options.use_box ? fabric.why_not : "off"), chosen.size(),
                now_seconds() - t_start - t_search);
  if (!options.debug_dir.empty() && !fabric.mask.empty())
    detail::write_mask_pgm(debug_path(options, "fabric_mask.pgm"), fabric.mask, scan.width, scan.height);
  if (refined.empty()) {
    result.rejected = true;
    result.reason = options.use_search ? "no placement of the design found in the scan"
                                       : "--init box: no usable fabric box (" + result.box_note + ")";
    result.seconds = now_seconds() - t_start;
    return result;
  }
  weigh(refined, box_candidates, rule, factor, options, result);
  judge(options, result);
  if (!options.debug_dir.empty()) {
    if (!search.map.empty())
      detail::write_score_map(debug_path(options, "score_map.ppm"), search.map, search.map_width, search.map_height,
                              search.map_peaks);
    detail::write_candidates(debug_path(options, "candidates.txt"), refined);
  }
  result.seconds = now_seconds() - t_start;
  return result;
}

}  // namespace

CoarseResult estimate_placement(const Image& design, const Image& scan, const CoarseOptions& options) {
  const double t_start = now_seconds();
  if (design.factor != scan.factor) fail_runtime("coarse alignment: design and scan factors differ");
  CoarseResult result = search_at_scales(design, scan, options, {1.0});
  // A fabric turned beyond --max-rotation, or a scan at another pixel size than the design
  // (another resolution), is searched for only when the best placement found scores low or is
  // ambiguous (every rotation costs about 25 searches, the other scales 17). Both are searched, the
  // higher best of the two wins, and only when it scores clearly better: a smooth print can
  // correlate at 0.3-0.6 with a wrong placement (a synth fabric turned 11.8 deg scored 0.316 at
  // 1100 px off; the unit test's blobs 1.6 times larger 0.44 at scale 1 and 0.6 turned half round),
  // where the right one scores 0.8-0.96. Ambiguous too: a periodic fabric turned half round by 3.3
  // deg scored 0.582 at -3.2 deg against a runner-up one repeat away at 0.573, the fabric box
  // disagreeing, and 0.829 at 176.7 deg.
  // A scan of another size or aspect than the design is searched at the other scales or on its
  // resampled rows whatever the first scored, while that could still be beaten (above).
  const bool poor = result.best.score < options.wider_search_below || result.ambiguous;
  // The searches a scan's size or aspect asks for run only while they could replace the first
  // placement: a score over 1 / wider_win (0.8) cannot be beaten 1.25 times.
  const bool beatable = poor || result.best.score * options.wider_win < 1.0;
  const bool scales_anyway = beatable && options.max_scale > options.min_scale && another_size(design, scan);
  const bool aspect = beatable && another_aspect(design, scan);
  if ((poor || scales_anyway || aspect) && options.use_search) {
    std::vector<std::pair<CoarseResult, std::string>> wider;
    CoarseOptions quiet = options;
    quiet.debug_dir.clear();  // --coarse-debug shows the first search, whichever wins
    if (poor && options.any_rotation && (!options.quarter_turns || options.max_rotation_deg < 45)) {
      CoarseOptions every = quiet;
      every.max_rotation_deg = 180;  // -180 to 180 deg, and the box at any angle
      every.quarter_turns = false;
      wider.emplace_back(search_at_scales(design, scan, every, {1.0}), "every rotation");
    }
    if (options.max_scale > options.min_scale && (poor || scales_anyway)) {
      const ScaleRange range = scale_range(design, scan, options);
      wider.emplace_back(search_at_scales(design, scan, quiet, other_scales(range, options)),
                         fmt::format("scales {:.2f} to {:.2f}", range.min, range.max));
    }
    if (aspect) {
      // The scan's rows resampled to the design's aspect: a fabric stretched (or shrunk) along y
      // is then at scale 1, one stretched along x at the inverse of the row factor. Two searches.
      const int rows = std::max(1, static_cast<int>(std::lround(scan.height / aspect_ratio(design, scan))));
      const double stretch = static_cast<double>(scan.height) / rows;
      CoarseResult squeezed = search_at_scales(design, resample_rows(scan, rows), quiet, {1.0, 1.0 / stretch});
      squeezed.best.stretch_y = squeezed.runner_up.stretch_y = stretch;
      judge(options, squeezed);  // the reason again, its placements described with their stretch
      // (box_distance stays in the resampled image's pixels: within a factor of the stretch)
      wider.emplace_back(std::move(squeezed),
                         fmt::format("the scan's rows resampled by 1/{:.3f} (its aspect over the design's)", stretch));
    }
    // A wider search's placement replaces the first when it scores wider_win times as much, or,
    // the first being ambiguous, when it is not and scores as much: it ranked the first one's best
    // among more candidates (every rotation holds +-max-rotation) and found one clearly ahead.
    const auto replaces = [&](const CoarseResult& w) {
      if (w.rejected) return false;
      if (w.best.score > options.wider_win * std::max(result.best.score, 0.0)) return true;
      return result.ambiguous && !w.ambiguous && w.best.score >= result.best.score;
    };
    const std::pair<CoarseResult, std::string>* best = nullptr;
    std::string searched;
    for (const auto& w : wider) {
      searched += (searched.empty() ? "" : " and ") + w.second;
      if (replaces(w.first) && (!best || w.first.best.score > best->first.best.score)) best = &w;
    }
    if (best) {
      const double before = result.best.score;
      const std::string found = best->second;
      result = best->first;
      result.wider_note =
          fmt::format("{} searched too, found at {}: the best before scored {:.3f}", searched, found, before);
    } else if ((result.rejected || result.ambiguous) && !searched.empty()) {
      result.reason += " (" + searched + " searched too, not found there either)";
    }
  }
  // Not found at all: is it the design mirrored? A print scanned from its back, or a transfer paper
  // (printed mirrored), holds no placement (a synth scan mirrored: best 0.087) and every search
  // above fails; the user is told instead of "another design". At every rotation, scale 1.
  if (result.rejected && options.use_search && options.any_rotation) {
    CoarseOptions every = options;
    every.debug_dir.clear();
    every.max_rotation_deg = 180;
    every.quarter_turns = false;
    const CoarseResult m = search_at_scales(design, mirror_columns(scan), every, {1.0});
    if (!m.rejected && !m.ambiguous) {
      result.mirrored = true;
      result.reason += fmt::format(
          "; the scan mirrored left to right holds it ({} scores {:.3f}): a print scanned from its back, or a "
          "transfer paper? Mirror the scan and run again (docs/reliability.md, \"A mirrored scan\")",
          describe(m.best), m.best.score);
    }
  }
  result.seconds = now_seconds() - t_start;
  return result;
}

}  // namespace alinify::reg::coarse
