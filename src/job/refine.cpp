#include "alinify/job/refine.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/core/quantile.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/par/agree.hpp"
#include "alinify/par/records.hpp"
#include "alinify/plan/memory_budget.hpp"
#include "alinify/plan/planner.hpp"
#include "alinify/reg/bspline_fit.hpp"
#include "alinify/transform/elastix_params.hpp"
#include "rank_plan.hpp"
#include "refine_blocks.hpp"

namespace alinify::job {
namespace {

using detail::BlockRecord;
using detail::BlockSite;

// The blocks' search radius: 8 px, above the few px elastix leaves of synth's fine waves and under
// a quarter of the shortest period synth's periodic prints have at 2000 px (width / 12 ≈ 166 px);
// smaller where the coarse stage saw a shorter repeat (search_radius below).
constexpr double kMaxShift = 8;
// Control points every two block steps (64 px; 128 px where blocks lie side by side): about four
// blocks per control cell pin every coefficient down, and at 64 px waves of 256 px period are
// represented.
double control_spacing(int block_step) { return 2.0 * block_step; }
// Halves of a block may disagree by up to 2 x this before the block is refused: synth's fine
// waves (periods from 256 px, a few px) shear a 128 px block by up to a pixel, and at the
// measurement's 0.25 px default 135 of 165 blocks of a 2000x1500 fine-wave pair were refused.
constexpr double kAgreementPx = 1.0;
// How smooth the correction is, and whether there is one, is decided by cross-validation on
// held-out blocks (reg::choose_smoothness): a correction that does not predict blocks it was not
// fitted to better than no correction is not made. It replaced a fixed gate (keep elastix's
// transform below 0.25 px median / 1 px p95) and a fixed bending weight, which followed the
// blocks' noise: on a 3000x2250 synth pair without fine waves the refinement made eval worse
// (mean 0.062 -> 0.073 px) and at 283 MP as well (0.123 -> 0.153 px) while the blocks' own
// residual fell.
// Rounds of measure-and-fit at most: the second, measured through the first's correction, takes
// the measured residual of a 2000x1500 fine-wave pair from 0.46 to 0.32 px median (eval mean
// 0.84 -> 0.73 px) (docs/registration.md, "Refinement"). A round whose cross-validation finds
// nothing to correct ends the refinement.
constexpr int kRounds = 2;

// The rows the warp gives this rank: the same strip plan the warp agrees on (same budget rule).
std::vector<plan::RowRange> my_strips(par::Communicator& comm, const RefineJob& job, Size design) {
  const plan::Budget budget = detail::rank_budget(comm, job.mem_budget);
  const plan::StripPlan strips = plan::plan_strips(design, job.tile, budget.bytes, comm.size());
  const int rows = detail::agreed_strip_rows(comm, strips.strip_rows);
  return plan::strips_for_rank(design.height, rows, comm.rank(), comm.size());
}

// This rank's blocks: those whose centre row lies in one of its strips.
std::vector<BlockSite> my_sites(const std::vector<BlockSite>& all, const std::vector<plan::RowRange>& strips) {
  std::vector<BlockSite> mine;
  for (const BlockSite& s : all) {
    const double cy = s.centre().y;
    for (const plan::RowRange& r : strips)
      if (cy >= r.y0 && cy < r.y0 + r.rows) mine.push_back(s);
  }
  return mine;
}

// Every rank measures its blocks through `t`, on its share of the node's cores (as the warp's CPU
// backend shares them); rank 0 returns all records in global order. GDAL handles are not shared
// between threads: each thread opens the pair once per pass. Each block's record depends on the
// block alone, so the records are the same for any thread or rank count.
std::vector<BlockRecord> measure_all(par::Communicator& comm, const RefineJob& job, const transform::Transform& t,
                                     const std::vector<BlockSite>& mine, double radius) {
  std::string message;
  const double t0 = now_seconds();
  par::on_every_rank(comm, "refinement: measuring blocks", [&] {
    reg::block::MatchOptions options;
    options.max_shift = radius;
    options.agreement_px = kAgreementPx;
    std::vector<BlockRecord> records(mine.size());
    const int threads =
        std::max(1, std::min<int>(omp_get_num_procs() / std::max(1, comm.local_size()), static_cast<int>(mine.size())));
    // No exception may leave an OpenMP region or skip its barrier: the first one is kept and
    // rethrown after the loop.
    std::exception_ptr failure;
    auto keep = [&failure] {
#pragma omp critical(alinify_refine_failure)
      if (!failure) failure = std::current_exception();
    };
#pragma omp parallel num_threads(threads)
    {
      std::optional<io::Raster> design, scan;
      try {
        design.emplace(io::Raster::open(job.design));
        scan.emplace(io::Raster::open(job.scan));
      } catch (...) {
        keep();
      }
#pragma omp for schedule(dynamic, 4)
      for (size_t k = 0; k < mine.size(); ++k) {
        if (!design || !scan) continue;
        try {
          records[k] = detail::measure_site(mine[k], *design, *scan, t, options);
        } catch (...) {
          keep();
        }
      }
    }
    if (failure) std::rethrow_exception(failure);
    message = detail::to_message(records);
    // Per rank: how even the ranks' shares are, and on how many threads (mpirun binds a rank of
    // -np 1 or 2 to one core: docs/cli.md).
    spdlog::debug("refinement: {} blocks measured on this rank in {:.2f} s on {} thread(s)", mine.size(),
                  now_seconds() - t0, threads);
  });
  std::vector<BlockRecord> all;
  for (const std::string& part : comm.gather(message, 0))
    for (const BlockRecord& r : detail::records_from_message(part)) all.push_back(r);
  std::sort(all.begin(), all.end(), [](const BlockRecord& a, const BlockRecord& b) { return a.index < b.index; });
  return all;
}

// Median and p95 of the measured displacement magnitude over the blocks the fit may use.
nlohmann::json residual(const std::vector<BlockRecord>& records) {
  std::vector<double> m;
  for (const BlockRecord& r : records)
    if (detail::counted(r)) m.push_back(std::hypot(r.m.dx, r.m.dy));
  return {{"blocks", m.size()}, {"median_px", lower_quantile(m, 0.5)}, {"p95_px", lower_quantile(m, 0.95)}};
}

// The fit's data: the measured design-space shift d at a block's centre c becomes the scan-space
// displacement T(c + d) - T(c), which an "Add" stage adds to T: T'(c) = T(c + d) exactly at c.
std::vector<reg::FitPoint> fit_points(const std::vector<BlockRecord>& records, const std::vector<BlockSite>& sites,
                                      const transform::Transform& t) {
  std::vector<reg::FitPoint> points;
  for (const BlockRecord& r : records) {
    const Vec2 c = r.centre(sites[static_cast<size_t>(r.index)]);  // where the block was measured
    reg::FitPoint p{c.x, c.y, 0, 0, 0};
    if (detail::counted(r)) {
      const Vec2 a = t.apply(c), b = t.apply({c.x + r.m.dx, c.y + r.m.dy});
      p = {c.x, c.y, b.x - a.x, b.y - a.y, detail::fit_weight(r)};
    }
    points.push_back(p);
  }
  return points;
}

// Counts by verdict, for metrics.json: why blocks were not used.
nlohmann::json verdict_counts(const std::vector<BlockRecord>& records) {
  nlohmann::json verdicts = nlohmann::json::object();
  for (const BlockRecord& r : records) {
    const std::string v = r.inside ? reg::block::describe(r.m.verdict) : "outside the scan";
    verdicts[v] = verdicts.value(v, 0) + 1;
  }
  return verdicts;
}

reg::CrossValidation cross_validation() {
  reg::CrossValidation cv;
  cv.cell_px = 2.0 * detail::kBlockSize;
  return cv;
}

// Collective: the cross-validation of the bending weight on rank 0's `records` (every rank
// calls it; only rank 0's records count). The candidates are shared out among the ranks (k mod
// ranks): each fit is three rounds of two factorisations (fine and coarse grid) of the normal
// equations, 0.28 s a candidate on all 283 MP blocks with CHOLMOD on one thread (1.7 s a
// factorisation with Eigen's SimplicialLDLT before), and 7 candidates on rank 0 alone kept the
// others waiting (the first version: 19 s). Each candidate's score depends on the points alone,
// so the choice is the same for any rank count.
// Rank 0 gets the choice and writes it into `out` (metrics.json); the other ranks get no choice.
reg::SmoothnessChoice choose(par::Communicator& comm, const transform::TransformFile& t,
                             const std::vector<BlockRecord>& records, const std::vector<BlockSite>& sites,
                             double spacing, nlohmann::json& out) {
  const double t0 = now_seconds();
  const std::vector<reg::FitPoint> points = par::records_of<reg::FitPoint>(
      par::on_root_then_broadcast(comm, "refinement: cross-validation points",
                                  [&] { return par::bytes_of(fit_points(records, sites, t.transform)); }),
      "refinement: malformed fit points message");
  reg::FitOptions options;
  options.spacing = spacing;
  const reg::CrossValidation cv = cross_validation();
  const reg::CrossValidationSplit split = reg::split_for_cross_validation(points, cv);
  std::string mine;
  par::on_every_rank(comm, "refinement: cross-validation", [&] {
    std::vector<int> candidates;
    for (int k = comm.rank(); k < static_cast<int>(cv.smoothness.size()); k += comm.size()) candidates.push_back(k);
    const std::vector<double> scores = reg::held_out_scores(split, t.design, options, cv, candidates);
    for (size_t i = 0; i < scores.size(); ++i) mine += fmt::format("{} {:.17g}\n", candidates[i], scores[i]);
  });
  const std::vector<std::string> parts = comm.gather(mine, 0);
  reg::SmoothnessChoice c;
  if (!comm.is_root()) return c;
  // With too few points to hold out no rank sent a score, and decide_smoothness makes no choice.
  std::vector<double> scores(cv.smoothness.size(), std::numeric_limits<double>::quiet_NaN());
  for (const std::string& part : parts) {
    std::istringstream in(part);
    int k = 0;
    double v = 0;
    while (in >> k >> v) scores.at(static_cast<size_t>(k)) = v;
  }
  c = reg::decide_smoothness(split, scores, cv);
  nlohmann::json rms = nlohmann::json::array();
  for (size_t k = 0; k < c.scores.size(); ++k)
    rms.push_back({{"smoothness", cv.smoothness[k]}, {"rms_px", std::sqrt(c.scores[k])}});
  const double seconds = now_seconds() - t0;
  spdlog::info(
      "refinement: cross-validation on {} held-out of {} blocks: {} (held-out rms {:.3f} px, {:.3f} px without a "
      "correction; {} candidates on {} rank(s), {:.2f} s)",
      c.held_out, c.held_out + c.training,
      c.correct ? fmt::format("bending weight {:g}", c.smoothness) : std::string("no correction"), std::sqrt(c.score),
      std::sqrt(c.zero_score), cv.smoothness.size(), std::min<size_t>(comm.size(), cv.smoothness.size()), seconds);
  out["cross_validation"] = {{"held_out", c.held_out},
                             {"training", c.training},
                             {"no_correction_rms_px", std::sqrt(c.zero_score)},
                             {"candidates", rms},
                             {"chosen", c.correct ? nlohmann::json(c.smoothness) : nlohmann::json("no correction")},
                             {"seconds", seconds}};
  return c;
}

// Rank 0: the fit of one round and the corrected transform, as the text every rank gets, or ""
// when the round makes no correction (the reason is in round["skipped"]). The first round appends
// an "Add" B-spline stage; later rounds add their field's coefficients to it (same grid, and Add
// stages sum), so the transform keeps one correction stage.
std::string correct(const transform::TransformFile& t, bool has_correction, const std::vector<BlockRecord>& records,
                    const std::vector<BlockSite>& sites, double spacing, const reg::SmoothnessChoice& choice,
                    nlohmann::json& round) {
  const std::vector<reg::FitPoint> points = fit_points(records, sites, t.transform);
  int usable = 0;
  for (const reg::FitPoint& p : points) usable += p.weight > 0 ? 1 : 0;
  round["blocks_measured"] = records.size();
  round["blocks_usable"] = usable;
  round["verdicts"] = verdict_counts(records);
  round["blocks_moved_inward"] = std::count_if(records.begin(), records.end(), [](const BlockRecord& r) {
    return r.inside && (r.shift_x != 0 || r.shift_y != 0);
  });
  if (usable < 4 || (!has_correction && t.transform.stages.size() >= transform::kMaxStages)) {
    round["skipped"] = usable < 4 ? "fewer than 4 usable blocks" : "the transform has no room for a stage";
    spdlog::warn("refinement round skipped: {}", round["skipped"].get<std::string>());
    return "";
  }
  if (!choice.correct) {
    round["skipped"] = "no correction predicts the held-out blocks as well (cross-validation)";
    return "";
  }
  reg::FitOptions options;
  options.spacing = spacing;
  options.smoothness = choice.smoothness;
  const reg::FitResult fit = reg::fit_bspline(points, t.design, options);
  round["blocks_used"] = fit.used_count;
  round["blocks_rejected"] = fit.rejected;
  transform::TransformFile out = t;
  if (has_correction) {
    reg::add_field(out.transform.stages.back().bspline, fit.field);
  } else {
    transform::Stage stage;
    stage.kind = transform::StageKind::kBSpline;
    stage.combine = transform::Combine::kAdd;
    stage.bspline = fit.field;
    out.transform.stages.push_back(stage);
  }
  return transform::to_json_text(out);
}

// The correction also goes to the full-resolution elastix chain beside transform.json (the
// registration's <stem>.elastix/TransformParameters.full.K.txt), so that transformix reproduces it.
void append_to_elastix_chain(const std::string& transform_out, const transform::TransformFile& t,
                             nlohmann::json& stats) {
  namespace fs = std::filesystem;
  const fs::path p(transform_out);
  const fs::path dir = p.parent_path() / (p.stem().string() + ".elastix");
  int last = -1;
  std::error_code ec;
  while (fs::exists(dir / ("TransformParameters.full." + std::to_string(last + 1) + ".txt"), ec)) ++last;
  if (last < 0 || t.transform.stages.back().kind != transform::StageKind::kBSpline) return;
  const std::string last_full = (dir / ("TransformParameters.full." + std::to_string(last) + ".txt")).string();
  stats["elastix_chain"] = transform::append_full_resolution_stage(last_full, last, t.transform.stages.back());
}

void log_summary(const nlohmann::json& stats) {
  const nlohmann::json& before = stats["residual_before"];
  const double period = stats["repeat_period_px"].get<double>();
  spdlog::info(
      "refinement: search radius {:.2f} px ({}), every {} block(s) checked", stats["max_shift_px"].get<double>(),
      period > 0 ? fmt::format("a quarter of the repeat period of {:.1f} px the coarse stage saw, at most 8", period)
                 : std::string("no repeat period seen by the coarse stage"),
      stats["checked_every"].get<int>());
  if (stats.contains("kept")) {
    spdlog::info("refinement: {} blocks counted; the elastix transform is kept: {} ({:.2f} s)",
                 before["blocks"].get<size_t>(), stats["kept"].get<std::string>(), stats["seconds"].get<double>());
    return;
  }
  const nlohmann::json& first = stats["per_round"].front();
  spdlog::info(
      "refinement: {} blocks measured, {} used, {} rejected; residual median {:.3f} px p95 {:.3f} px before, "
      "{:.3f} px / {:.3f} px after; {} round(s), {:.2f} s",
      first.value("blocks_measured", 0), first.value("blocks_used", 0), first.value("blocks_rejected", 0),
      before["median_px"].get<double>(), before["p95_px"].get<double>(),
      stats["residual_after"]["median_px"].get<double>(), stats["residual_after"]["p95_px"].get<double>(),
      stats["rounds"].get<int>(), stats["seconds"].get<double>());
  spdlog::info("refinement verdicts (first round): {}", first["verdicts"].dump());
}

// A block must not jump to the next repeat of a periodic print: its search radius stays at or
// under a quarter of the repeat period the coarse stage saw. transform.json's "initial" keeps the
// placement and its runner-up; when the runner-up has the same linear part (within 1 %) it is the
// print shifted by one repeat, and the distance between the two at the design's centre is the
// period. Otherwise (no runner-up, or a different rotation or scale) no period is known: 8 px.
double search_radius(const transform::TransformFile& t, double* period) {
  *period = 0;
  if (!t.has_initial || !t.initial.has_runner_up) return kMaxShift;
  const transform::Affine& a = t.initial.affine;
  const transform::Affine& b = t.initial.runner_up;
  for (int k = 0; k < 4; ++k)
    if (std::abs(a.m[k] - b.m[k]) > 0.01) return kMaxShift;
  const double cx = (t.design.width - 1) / 2.0, cy = (t.design.height - 1) / 2.0;
  const double dx = (a.m[0] - b.m[0]) * cx + (a.m[1] - b.m[1]) * cy + a.offset[0] - b.offset[0];
  const double dy = (a.m[2] - b.m[2]) * cx + (a.m[3] - b.m[3]) * cy + a.offset[1] - b.offset[1];
  *period = std::hypot(dx, dy);
  return std::clamp(*period / 4, 1.0, kMaxShift);
}

// The check before any fit measures every n-th block in both directions, n the smallest that
// keeps it to about kCheckBlocks: on a 283 MP design the grid has ~270,000 blocks (about 150 s
// of a pass on 2 cores at ~1.1 ms a block), and a job whose residual is already small must not
// pay for them all. 4000 blocks still put a few dozen in every region of the print.
constexpr double kCheckBlocks = 4000;
int check_step(size_t blocks) {
  return std::max(1, static_cast<int>(std::ceil(std::sqrt(static_cast<double>(blocks) / kCheckBlocks))));
}

// The blocks in every n-th column and row of the grid (cols blocks a row).
std::vector<BlockSite> every_nth(const std::vector<BlockSite>& sites, int cols, int n) {
  std::vector<BlockSite> out;
  for (const BlockSite& s : sites)
    if ((s.index % cols) % n == 0 && (s.index / cols) % n == 0) out.push_back(s);
  return out;
}

qa::ResidualGrid grid_of(const std::vector<BlockSite>& sites, int block_step) {
  qa::ResidualGrid g;
  g.block_size = detail::kBlockSize;
  g.block_step = block_step;
  g.cols =
      static_cast<int>(std::count_if(sites.begin(), sites.end(), [](const BlockSite& s) { return s.window.y0 == 0; }));
  g.rows = g.cols > 0 ? static_cast<int>(sites.size()) / g.cols : 0;
  return g;
}

// The residual magnitude of every block of the grid (NaN: does not count), in grid order; with
// every n-th block measured, each block shows the one measured at the top left of its n x n cell.
std::vector<float> magnitudes(const std::vector<BlockRecord>& records, const qa::ResidualGrid& g, int n) {
  std::vector<float> measured(static_cast<size_t>(g.cols) * g.rows, std::numeric_limits<float>::quiet_NaN());
  for (const BlockRecord& r : records)
    if (detail::counted(r)) measured[static_cast<size_t>(r.index)] = static_cast<float>(std::hypot(r.m.dx, r.m.dy));
  if (n == 1) return measured;
  std::vector<float> m(measured.size());
  for (int j = 0; j < g.rows; ++j)
    for (int i = 0; i < g.cols; ++i)
      m[static_cast<size_t>(j) * g.cols + i] = measured[static_cast<size_t>(j - j % n) * g.cols + (i - i % n)];
  return m;
}

// The first measurement was made through a transform so far off that the blocks themselves were
// sheared by what is left (median residual above half a pixel): then the second round measures
// every block again whatever the check's blocks say, since they lie too far apart to see waves
// shorter than their spacing. On the 283 MP fine-wave pair (check every 320 px, waves from 256 px)
// their cross-validation found nothing more to correct after a round that left eval at 0.92 px;
// the pairs without fine waves start at 0.08 px (3000x2250) and 0.23 px (283 MP, registered at
// f = 5) and need no second pass.
constexpr double kShearedMedianPx = 0.5;
bool sheared(const nlohmann::json& stats) {
  return stats["residual_before"]["median_px"].get<double>() > kShearedMedianPx;
}

// A design large enough that its blocks lie side by side (every 64 px, control points 128 px
// apart) is measured on the dense grid (every 32 px, 64 px) when the check finds the blocks
// sheared: the side-by-side grid cannot represent waves from 256 px, which left the 283 MP
// fine-wave pair at an eval mean of 0.91 px (docs/registration.md). Only then is the dense grid's
// price paid (four times the blocks, four times the control points). Rank 0 (which holds the
// records) decides.
bool dense_instead(const nlohmann::json& stats, int block_step) {
  return block_step != detail::kDenseBlockStep && sheared(stats);
}

// Rank 0: why the elastix transform is kept as it is, or "" when the refinement is to run: the
// check's blocks are cross-validated as the rounds' are, and when no correction predicts their
// held-out blocks better than none, measuring every block would not change that.
std::string keep_reason(const reg::SmoothnessChoice& c, const nlohmann::json& check, nlohmann::json& stats) {
  if (stats["residual_before"]["blocks"].get<size_t>() == 0) return "no block could be measured";
  stats["check_cross_validation"] = check["cross_validation"];
  if (c.correct) return "";
  // The check's blocks lie every n-th block apart and cannot predict one another across waves
  // shorter than that: a large residual is measured directly, and every block is then measured
  // (the 283 MP fine-wave pair: check every 320 px, median 2.6 px, and no correction predicted
  // the held-out check blocks).
  if (sheared(stats)) return "";
  if (c.held_out < 4 || c.training < 4)
    return fmt::format("too few blocks to cross-validate a correction ({} usable)", c.held_out + c.training);
  return fmt::format(
      "no correction predicts the check's held-out blocks as well as none (rms {:.3f} px without a correction)",
      std::sqrt(c.zero_score));
}

// Rank 0, as soon as the check is done: what it measured and what follows (the summary comes only
// at the end of the stage, which on a large design is minutes later).
void log_check(const nlohmann::json& stats, const std::string& kept, size_t blocks, double seconds) {
  const nlohmann::json& b = stats["residual_before"];
  spdlog::info(
      "refinement check: {} blocks (every {}-th in each direction of the {}-block grid) in {:.2f} s, residual median "
      "{:.3f} px, "
      "p95 {:.3f} px: {}",
      b["blocks"].get<size_t>(), stats["checked_every"].get<int>(), blocks, seconds, b["median_px"].get<double>(),
      b["p95_px"].get<double>(), kept.empty() ? "refining, every block measured" : "the elastix transform is kept");
}

// A later round fits no stiffer than the first (rank 0; the other ranks hold no choice). Its
// measurements are what the first fit left: mostly the finest part of the field, which the
// first weight already smoothed, and noise. The cross-validation's held-out cells (128 px)
// cannot see that finest part under the noise and chose a tenfold stiffer weight, which cannot
// represent it either. Fitting the residual with the first round's smoother again is Tukey's
// "twicing": on a 6000x4500 window of the 283 MP fine-wave pair eval went 0.329 -> 0.294 px
// (docs/registration.md, "A second round no stiffer than the first").
void at_most_first_weight(reg::SmoothnessChoice& choice, double first_weight, nlohmann::json& round) {
  if (!choice.correct || choice.smoothness <= first_weight) return;
  round["cross_validation"]["chosen_before_cap"] = choice.smoothness;
  round["cross_validation"]["chosen"] = first_weight;
  spdlog::info("refinement: bending weight {:g} instead of {:g}: no stiffer than the first round's", first_weight,
               choice.smoothness);
  choice.smoothness = first_weight;
}

// kRounds of fit (rank 0) and measurement (every rank) through the corrected transform; `records`
// holds every block's data on entry and the check's blocks' after the last round on return. After
// each fit only the check's blocks (`checked`) are measured first, and cross-validation on them
// decides whether another round is worth a pass over every block: at 283 MP such a pass took 31 s
// of the stage's 78 s, and the second round's pass found nothing to correct.
transform::TransformFile refine_rounds(par::Communicator& comm, const RefineJob& job, const transform::TransformFile& t,
                                       const std::vector<BlockSite>& sites, const std::vector<BlockSite>& mine,
                                       const std::vector<BlockSite>& checked, std::vector<BlockRecord>& records,
                                       nlohmann::json& stats) {
  const double spacing = stats["control_spacing"].get<double>();
  const double radius = stats["max_shift_px"].get<double>();
  transform::TransformFile current = t;
  double first_weight = 0;  // the first round's bending weight, once it has made a correction
  for (int r = 0; r < kRounds; ++r) {
    nlohmann::json round;
    reg::SmoothnessChoice choice = choose(comm, current, records, sites, spacing, round);
    if (first_weight > 0) at_most_first_weight(choice, first_weight, round);
    if (r == 0 && choice.correct) first_weight = choice.smoothness;
    const std::string text = par::on_root_then_broadcast(
        comm, "refinement: fitting", [&] { return correct(current, r > 0, records, sites, spacing, choice, round); });
    if (text.empty()) {  // nothing to correct: `records` already measure `current`
      stats["per_round"].push_back(round);
      break;
    }
    current = transform::from_json_text(text, "broadcast refined transform");
    records = measure_all(comm, job, current.transform, checked, radius);
    round["residual_after"] = residual(records);
    stats["rounds"] = r + 1;
    bool more = false;
    if (r + 1 < kRounds) {
      nlohmann::json next;
      const bool again = choose(comm, current, records, sites, spacing, next).correct;
      more = par::on_root_then_broadcast(comm, "refinement: deciding", [&] {
               round["check_after"] = next["cross_validation"];
               return std::string(again || sheared(stats) ? "1" : "");
             }) == "1";
    }
    stats["per_round"].push_back(round);
    if (!more) break;
    records = measure_all(comm, job, current.transform, mine, radius);
  }
  return current;
}

}  // namespace

transform::TransformFile refine_transform(par::Communicator& comm, const transform::TransformFile& t,
                                          const RefineJob& job, nlohmann::json* facts, qa::ResidualGrid* residuals) {
  if (job.mode == RefineMode::kNone) return t;
  const double t0 = now_seconds();
  int block_step = detail::block_step(t.design);
  std::vector<BlockSite> sites = detail::block_grid(t.design, block_step);
  const std::vector<plan::RowRange> strips = my_strips(comm, job, t.design);
  qa::ResidualGrid grid = grid_of(sites, block_step);
  int step = check_step(sites.size());
  double period = 0;
  const double radius = search_radius(t, &period);
  nlohmann::json stats = {{"rounds", 0},
                          {"block_size", detail::kBlockSize},
                          {"block_step", block_step},
                          {"control_spacing", control_spacing(block_step)},
                          {"max_shift_px", radius},
                          {"repeat_period_px", period},
                          {"checked_every", step},
                          {"per_round", nlohmann::json::array()}};
  // The check: every step-th block; the residual before and the decision come from it.
  std::vector<BlockSite> checked = my_sites(every_nth(sites, grid.cols, step), strips);
  std::vector<BlockRecord> records = measure_all(comm, job, t.transform, checked, radius);
  stats["residual_before"] = residual(records);
  if (comm.is_root()) grid.before = magnitudes(records, grid, step);
  nlohmann::json check;
  const reg::SmoothnessChoice check_choice =
      choose(comm, t, records, sites, stats["control_spacing"].get<double>(), check);
  const std::string kept = par::on_root_then_broadcast(comm, "refinement: deciding", [&] {
    std::string reason = keep_reason(check_choice, check, stats);
    log_check(stats, reason, sites.size(), now_seconds() - t0);
    return reason;
  });
  transform::TransformFile current = t;
  if (!kept.empty()) {
    stats["kept"] = kept;
    stats["residual_after"] = stats["residual_before"];
    if (comm.is_root()) grid.after = grid.before;
  } else {
    // Rank 0 holds the records (and so the residual): it decides for every rank.
    const bool dense = par::on_root_then_broadcast(comm, "refinement: choosing the grid", [&] {
                         return std::string(dense_instead(stats, block_step) ? "1" : "");
                       }) == "1";
    if (dense) {
      // Blocks sheared by what elastix left on a design whose grid lies side by side: the fit
      // needs the dense grid's blocks and control points to follow it (docs/registration.md).
      block_step = detail::kDenseBlockStep;
      sites = detail::block_grid(t.design, block_step);
      grid = grid_of(sites, block_step);
      step = check_step(sites.size());
      checked = my_sites(every_nth(sites, grid.cols, step), strips);
      stats["block_step"] = block_step;
      stats["control_spacing"] = control_spacing(block_step);
      stats["checked_every"] = step;
      stats["dense_because_sheared"] = true;
      if (comm.is_root())
        spdlog::info(
            "refinement: the blocks are sheared (check median above {} px): the dense grid, {} blocks every "
            "{} px, control points every {} px",
            kShearedMedianPx, sites.size(), block_step, control_spacing(block_step));
    }
    const std::vector<BlockSite> mine = my_sites(sites, strips);
    if (step > 1 || dense) {  // the fit needs every block
      records = measure_all(comm, job, t.transform, mine, radius);
      stats["residual_before"] = residual(records);
      if (comm.is_root()) grid.before = magnitudes(records, grid, 1);
    }
    current = refine_rounds(comm, job, t, sites, mine, checked, records, stats);
    stats["residual_after"] = residual(records);
    if (comm.is_root()) grid.after = magnitudes(records, grid, step);
  }
  stats["seconds"] = now_seconds() - t0;
  par::on_every_rank(comm, "refinement: writing the transform", [&] {
    if (!comm.is_root()) return;
    if (!job.transform_out.empty() && current.transform.stages.size() > t.transform.stages.size()) {
      append_to_elastix_chain(job.transform_out, current, stats);
      files::write_atomically(job.transform_out, transform::to_json_text(current));
    }
    log_summary(stats);
    if (facts) (*facts)["refinement"] = stats;
    if (residuals) *residuals = std::move(grid);
  });
  return current;
}

}  // namespace alinify::job
