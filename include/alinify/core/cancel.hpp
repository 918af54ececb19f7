#pragma once
// Cancelling a single-job command (run, register, warp) on SIGTERM/SIGINT: the signal only sets a
// flag; the work loops check it at safe points (between strips, while waiting for elastix) and
// throw, so every cleanup path that already runs on an error (temporary files removed, the other
// ranks told) runs on a cancel too. The exit code is 128 + the signal, like a shell's.
// `alinify batch` drains instead of cancelling (batch/drain.hpp: running jobs finish, no new ones
// start) and does not install these.

#include <exception>
#include <string>

namespace alinify::cancel {

// SIGTERM and SIGINT set the flag (no SA_RESTART: a blocking call returns EINTR and its loop looks).
void install_handlers();

// Every command: SIGXFSZ ignored, so a write past RLIMIT_FSIZE fails with EFBIG and is reported
// like a full disk instead of killing the process with a partial file left behind.
void ignore_file_size_signal();

// The signal that asked for a stop, or 0.
int requested_signal();

// Throws Error(128 + signal, "stopped by SIG...") when a stop was asked for, or the runtime error
// of a passed deadline.
void throw_if_requested();

// For an error caught while a stop signal is pending: throws the stop's Error instead (exit 128 +
// signal) and returns when no signal was received. The stop may have caused the error (the handler
// removes the temporary output, which a step about to reopen it then misses; a library's read
// returns EINTR), and the user asked for the stop, so the stop is what is reported, as if its check
// had come first. The caught error is logged as a warning unless another rank reports it (then the
// stop is marked reported elsewhere too: one error line per job); a caught stop is left as it is.
void throw_if_signalled(const std::exception& caught);

// For tests: as if `sig` had arrived (0 clears).
void simulate(int sig);

// As if `sig` had arrived; async-signal-safe. batch/drain.hpp calls it when a stop abandons the
// running jobs (a second stop signal, or --on-stop abandon).
void request(int sig);

// A time limit for the work in progress (batch --job-timeout): past `deadline` (now_seconds()'s
// clock) the same checks throw a runtime error (exit 3) naming the limit, and a waiting elastix is
// stopped, so a hung job ends like a cancelled one. `limit_seconds` is only for the message.
void set_deadline(double deadline, double limit_seconds);
void clear_deadline();

// A signal was received or the deadline has passed: the work in progress must stop.
bool stop_requested();

// A file the signal handler itself removes (unlink() is async-signal-safe) as soon as a stop
// arrives: rank 0's output under its temporary name. Under mpirun the rank that stops first makes
// mpirun kill the others, and the one holding the file may be killed before its cleanup runs
// (fault_injection's SIGTERM under mpirun -np 2 left `out.tif.partial` behind at random). Empty:
// none. Paths longer than 4095 bytes are not registered (the normal cleanup still runs).
void remove_on_stop(const std::string& path);

}  // namespace alinify::cancel
