#include "alinify/batch/timeout.hpp"

namespace alinify::batch {

double default_job_timeout(uint64_t input_bytes) {
  return kTimeoutBaseSeconds + kTimeoutSecondsPerMiB * static_cast<double>(input_bytes) / (1024.0 * 1024.0);
}

double job_timeout(const BatchJob& job, double option) {
  if (job.timeout_seconds >= 0) return job.timeout_seconds;
  if (option >= 0) return option;
  return default_job_timeout(job.input_bytes);
}

}  // namespace alinify::batch
