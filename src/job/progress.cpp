#include "alinify/job/progress.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"

namespace alinify::job {
namespace {

constexpr int kTag = 71;                // the progress communicator carries nothing else
constexpr double kSendInterval = 0.25;  // seconds between a rank's reports
constexpr double kLineInterval = 0.2;   // seconds between redraws of the terminal line

std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 99 * 3600) return "--:--";
  const int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

ProgressMode parse_progress_mode(const std::string& text) {
  if (text == "auto") return ProgressMode::kAuto;
  if (text == "line") return ProgressMode::kLine;
  if (text == "log") return ProgressMode::kLog;
  if (text == "off") return ProgressMode::kOff;
  fail_usage("--progress: '" + text + "' is not one of auto, line, log, off");
}

WarpProgress::WarpProgress(par::Communicator& comm, ProgressMode mode, int64_t total_strips, int64_t total_pixels,
                           double log_interval_seconds)
    : comm_(comm.duplicate()),
      mode_(mode),
      total_strips_(total_strips),
      total_pixels_(total_pixels),
      log_interval_(log_interval_seconds),
      start_(now_seconds()) {
  if (mode_ == ProgressMode::kAuto) mode_ = isatty(STDERR_FILENO) ? ProgressMode::kLine : ProgressMode::kLog;
  if (comm_->is_root()) {
    strips_.assign(comm_->size(), 0);
    pixels_.assign(comm_->size(), 0);
    final_.assign(comm_->size(), false);
  }
  last_draw_ = start_;
}

WarpProgress::~WarpProgress() {
  if (line_open_) std::fputs("\n", stderr);
}

void WarpProgress::send_counts(bool final, bool failed) {
  std::ostringstream m;
  m << my_strips_ << ' ' << my_pixels_ << ' ' << final << ' ' << failed;
  comm_->send(m.str(), 0, kTag);
  last_send_ = now_seconds();
}

void WarpProgress::strip_done(int64_t pixels) {
  ++my_strips_;
  my_pixels_ += pixels;
  if (comm_->is_root()) {
    strips_[0] = my_strips_;
    pixels_[0] = my_pixels_;
    poll();
  } else if (now_seconds() - last_send_ >= kSendInterval) {
    send_counts(false, false);
  }
}

void WarpProgress::poll() {
  if (!comm_->is_root()) return;
  while (auto m = comm_->try_receive(par::Communicator::kAnySource, kTag)) {
    std::istringstream in(m->text);
    int64_t s = 0, p = 0;
    int fin = 0, failed = 0;
    in >> s >> p >> fin >> failed;
    strips_[m->source] = std::max(strips_[m->source], s);
    pixels_[m->source] = std::max(pixels_[m->source], p);
    if (fin) final_[m->source] = true;
  }
  draw(false);
}

void WarpProgress::draw(bool force) {
  if (mode_ == ProgressMode::kOff) return;
  const double now = now_seconds();
  const double since = now - last_draw_;
  if (!force && since < (mode_ == ProgressMode::kLine ? kLineInterval : log_interval_)) return;
  last_draw_ = now;
  int64_t s = 0, p = 0;
  for (size_t r = 0; r < strips_.size(); ++r) {
    s += strips_[r];
    p += pixels_[r];
  }
  const double elapsed = std::max(1e-6, now - start_);
  const double rate = p / elapsed;  // pixels per second
  const double eta = rate > 0 ? (total_pixels_ - p) / rate : -1;
  const std::string text = fmt::format("warp: {}/{} strips ({:.0f}%), {:.1f} MP/s, elapsed {}, ETA {}", s,
                                       total_strips_, total_pixels_ > 0 ? 100.0 * p / total_pixels_ : 100.0, rate / 1e6,
                                       clock_text(elapsed), clock_text(eta));
  if (mode_ == ProgressMode::kLine) {
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    line_open_ = true;
  } else {
    spdlog::info("{}", text);
  }
}

void WarpProgress::finish(bool failed) {
  if (finished_) return;
  finished_ = true;
  if (!comm_->is_root()) {
    send_counts(true, failed);
    return;
  }
  final_[0] = true;
  // The others' final counts are on their way (or they failed and said so): wait for them,
  // unless rank 0 itself failed, in which case the job is over anyway.
  while (!failed && !std::all_of(final_.begin(), final_.end(), [](bool f) { return f; })) {
    poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  poll();
  if (mode_ == ProgressMode::kLine && !failed) {  // the final state, even when the warp outran the first redraw
    draw(true);
    std::fputs("\n", stderr);
    line_open_ = false;
  }
  int64_t s = 0, p = 0;
  for (size_t r = 0; r < strips_.size(); ++r) {
    s += strips_[r];
    p += pixels_[r];
  }
  const double elapsed = std::max(1e-6, now_seconds() - start_);
  if (!failed)
    spdlog::info("warp progress: {}/{} strips from {} ranks, {:.1f} MP in {:.2f} s ({:.1f} MP/s)", s, total_strips_,
                 strips_.size(), p / 1e6, elapsed, p / 1e6 / elapsed);
}

}  // namespace alinify::job
