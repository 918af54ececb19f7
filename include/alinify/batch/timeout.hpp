#pragma once
// A batch job's time limit (--job-timeout, the manifest's job-timeout column): a job past it is
// stopped (its elastix killed, its temporary files removed) and recorded failed with exit 3, and its
// group takes the next job. docs/batch.md, "Hung jobs", gives the measurements behind the default.
#include <cstdint>

#include "alinify/batch/manifest.hpp"

namespace alinify::batch {

// The default for a pair of `input_bytes` (design + scan file sizes):
//   kTimeoutBaseSeconds + kTimeoutSecondsPerMiB * input MiB.
// The base covers the registration, whose size the planner caps (elastix 26-118 s at 1-284 MP in
// docs/performance.md; a 256x192 job takes 11 s in the soak); the per-MiB part covers decimation and
// warp, which read every input byte (a 18960x14960 run: 200 s for about 1.7 GB, 0.12 s/MiB). Both
// with a wide margin for a loaded node and a slow shared disk.
constexpr double kTimeoutBaseSeconds = 600;
constexpr double kTimeoutSecondsPerMiB = 2;
double default_job_timeout(uint64_t input_bytes);

// The job's limit in seconds (0: none): its manifest column, else `option` (the command line's
// --job-timeout; < 0: the default from the pair's size).
double job_timeout(const BatchJob& job, double option);

}  // namespace alinify::batch
