#pragma once
// Stopping a batch on SIGTERM/SIGUSR1. The first signal drains: no new jobs are handed out, running
// jobs finish and are journaled, and the batch exits 3 so that a rerun with --resume continues. A
// second signal (or the first, with --on-stop abandon) abandons the running jobs at once: it sets
// core/cancel's flag, so every job stops at its next safe point through the same clean-up as a
// failure (no output under a final name, elastix ended) and is journaled as to be redone. Slurm
// sends SIGTERM, waits KillWait, then SIGKILL: when that grace is shorter than a job, abandon.
//
// The single-job commands have only core/cancel.hpp, which abandons at the first signal. A batch
// drains first: a job that is half done when Slurm warns of the end of the allocation is worth
// finishing, and its journal record is what lets --resume skip it.
namespace alinify::batch {

enum class StopMode { kDrain, kAbandon };  // what the first stop signal does

// Also blocks both signals in the calling thread (so in the threads and elastix children it starts)
// and takes them on a watcher thread: a running elastix child must not die with its rank.
void install_drain_signal_handlers(StopMode first_signal = StopMode::kDrain);
void request_drain();
bool drain_requested();
// The running jobs are being abandoned (a second stop signal, or --on-stop abandon).
void request_abandon();
bool abandon_requested();
void clear_drain_request();  // tests

}  // namespace alinify::batch
