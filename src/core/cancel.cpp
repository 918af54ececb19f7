#include "alinify/core/cancel.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <sstream>
#include <string>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"

namespace alinify::cancel {
namespace {

// sig_atomic_t semantics through a lock-free atomic: safe to store from a signal handler.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
// The job's deadline (0: none) and its limit for the message; set and read by the same process.
std::atomic<double> g_deadline{0};
std::atomic<double> g_limit{0};

std::string seconds_text(double s) {
  std::ostringstream o;
  o << s;  // 600, 0.05
  return o.str();
}

bool past_deadline() {
  const double d = g_deadline.load();
  return d > 0 && now_seconds() > d;
}

// remove_on_stop's file: written only while g_has_path is false, read by the handler when true.
char g_path[4096];
std::atomic<bool> g_has_path{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_stop_signal(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);  // the first signal names the stop
  if (g_has_path.load()) unlink(g_path);
}

Error stop_error(int sig) {
  const char* name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
  return Error(static_cast<ExitCode>(128 + sig),
               std::string("stopped by ") + name + ": temporary files removed, no output written");
}

}  // namespace

void install_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

void ignore_file_size_signal() { signal(SIGXFSZ, SIG_IGN); }

int requested_signal() { return g_signal.load(); }

void throw_if_requested() {
  const int sig = g_signal.load();
  if (sig == 0) {
    if (past_deadline())
      fail_runtime("the job ran past its time limit of " + seconds_text(g_limit.load()) +
                   " s (--job-timeout) and was stopped");
    return;
  }
  throw stop_error(sig);
}

void throw_if_signalled(const std::exception& caught) {
  const int sig = g_signal.load();
  if (sig == 0) return;
  const auto* error = dynamic_cast<const Error*>(&caught);
  if (error && static_cast<int>(error->code()) == 128 + sig) return;  // the stop itself
  Error stop = stop_error(sig);
  if (error && error->reported_elsewhere())
    stop.mark_reported_elsewhere();
  else
    spdlog::warn("while stopping: {}", caught.what());
  throw stop;
}

void simulate(int sig) { g_signal.store(sig); }

void request(int sig) { on_stop_signal(sig); }

void set_deadline(double deadline, double limit_seconds) {
  g_limit.store(limit_seconds);
  g_deadline.store(deadline);
}

void clear_deadline() { g_deadline.store(0); }

bool stop_requested() { return g_signal.load() != 0 || past_deadline(); }

void remove_on_stop(const std::string& path) {
  g_has_path.store(false);
  if (path.empty() || path.size() >= sizeof g_path) return;
  std::memcpy(g_path, path.c_str(), path.size() + 1);
  g_has_path.store(true);
}

}  // namespace alinify::cancel
