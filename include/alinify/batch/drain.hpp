#pragma once
// Draining a batch on SIGTERM/SIGUSR1: no new jobs are handed out, running jobs finish and are
// journaled, and the batch exits 3 so that a rerun with --resume continues.
//
// The single-job commands have the other mechanism, core/cancel.hpp, which abandons the work in
// progress at the next safe point. A batch must not do that: a job that is half done when Slurm
// warns of the end of the allocation is worth finishing, and its journal record is what lets
// --resume skip it. So `alinify batch` installs these handlers instead of cancel's.
namespace alinify::batch {

// Also blocks both signals in the calling thread (so in the threads and elastix children it starts)
// and takes them on a watcher thread: a running elastix child must not die with its rank.
void install_drain_signal_handlers();
void request_drain();
bool drain_requested();
void clear_drain_request();  // tests

}  // namespace alinify::batch
