#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "alinify/core/files.hpp"
#include "alinify/core/resources.hpp"
#include "alinify/job/progress.hpp"
#include "alinify/reg/elastix_log.hpp"

namespace alinify::job {

struct RegistrationTicker::State {
  ProgressMode mode;
  std::string log;
  double interval;
  double start = now_seconds();
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  bool line_open = false;
  std::thread thread;

  // "elastix: parameter file 1, resolution 2, iteration 350, metric -1.23, elapsed 41 s", or
  // empty before elastix has printed its first iteration.
  std::string describe() const {
    const std::optional<std::string> text = files::try_read_file(log);
    if (!text) return "";
    const auto res = reg::parse_elastix_log_text(*text);
    if (res.empty()) return "";
    const reg::ElastixResolutionLog& r = res.back();
    return fmt::format(
        "register: elastix parameter file {}, resolution {}, iteration {}, metric {:.5f}, elapsed {:.0f} s",
        r.parameter_file, r.resolution, r.iterations, r.final_metric, now_seconds() - start);
  }

  void run() {
    const double period = mode == ProgressMode::kLine ? 0.5 : interval;
    std::unique_lock<std::mutex> lock(m);
    while (!cv.wait_for(lock, std::chrono::duration<double>(period), [this] { return stop; })) show();
    if (mode == ProgressMode::kLine) show();  // the line ends on elastix's final state
  }

  void show() {
    const std::string text = describe();
    if (text.empty()) return;
    if (mode == ProgressMode::kLine) {
      std::fprintf(stderr, "\r\033[K%s", text.c_str());
      std::fflush(stderr);
      line_open = true;
    } else {
      spdlog::info("{}", text);
    }
  }
};

RegistrationTicker::RegistrationTicker(ProgressMode mode, std::string elastix_log, double log_interval_seconds)
    : state_(std::make_unique<State>()) {
  if (mode == ProgressMode::kAuto) mode = isatty(STDERR_FILENO) ? ProgressMode::kLine : ProgressMode::kLog;
  state_->mode = mode;
  state_->log = std::move(elastix_log);
  state_->interval = log_interval_seconds;
  if (mode != ProgressMode::kOff) state_->thread = std::thread([s = state_.get()] { s->run(); });
}

RegistrationTicker::~RegistrationTicker() {
  {
    std::lock_guard<std::mutex> lock(state_->m);
    state_->stop = true;
  }
  state_->cv.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
  if (state_->line_open) std::fputs("\n", stderr);
}

}  // namespace alinify::job
