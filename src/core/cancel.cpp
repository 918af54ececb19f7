#include "alinify/core/cancel.hpp"

#include <signal.h>

#include <atomic>
#include <cstring>
#include <string>

#include "alinify/core/error.hpp"

namespace alinify::cancel {
namespace {

// sig_atomic_t semantics through a lock-free atomic: safe to store from a signal handler.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

void on_stop_signal(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);  // the first signal names the stop
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
  if (sig == 0) return;
  const char* name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
  throw Error(static_cast<ExitCode>(128 + sig),
              std::string("stopped by ") + name + ": temporary files removed, no output written");
}

void simulate(int sig) { g_signal.store(sig); }

}  // namespace alinify::cancel
