#include "alinify/batch/drain.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "alinify/core/cancel.hpp"

namespace alinify::batch {
namespace {

std::atomic<bool> g_drain{false};
std::atomic<bool> g_abandon{false};
std::atomic<int> g_signals{0};
std::atomic<bool> g_abandon_first{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the drain flag is set from a signal handler");
static_assert(std::atomic<int>::is_always_lock_free, "the signal count is kept in a signal handler");

// Async-signal-safe: atomics only (cancel::request stores one too).
void abandon(int sig) {
  g_drain.store(true);
  g_abandon.store(true);
  cancel::request(sig);
}

extern "C" void on_drain_signal(int sig) {
  const int n = g_signals.fetch_add(1) + 1;
  if (n >= 2 || g_abandon_first.load())
    abandon(sig);
  else
    g_drain.store(true);
}

}  // namespace

void install_drain_signal_handlers(StopMode first_signal) {
  g_abandon_first.store(first_signal == StopMode::kAbandon);
  struct sigaction sa {};
  sa.sa_handler = on_drain_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  // Block both in this thread, hence in the threads it starts (dispatcher, OpenMP) and in the
  // elastix children (a spawned process inherits the mask): mpirun and srun signal a rank's whole
  // process tree, and a running elastix must finish its job rather than die. One watcher thread
  // takes the signals (as may threads that MPI started earlier: the handler is the same).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    for (;;) pause();
  }).detach();
}

void request_drain() { g_drain.store(true); }
bool drain_requested() { return g_drain.load(); }
void request_abandon() { abandon(SIGTERM); }
bool abandon_requested() { return g_abandon.load(); }
void clear_drain_request() {
  g_drain.store(false);
  g_abandon.store(false);
  g_signals.store(0);
  cancel::simulate(0);
}

}  // namespace alinify::batch
