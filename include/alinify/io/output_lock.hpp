#pragma once
// One writer per output. Two jobs writing the same <out> at once would interleave tiles in the same
// <out>.partial; instead the first takes an exclusive flock on <out>.partial (created empty, then
// laid out by GDAL in place: same inode) and holds it until the file has its final name. A second
// job fails at once (exit 3) and touches nothing. A .partial left by a killed job holds no lock
// (the kernel drops flocks with the process), so a rerun takes it over, and removes what else the
// killed writer left of <out> (files::remove_leftovers_of).
#include <string>

namespace alinify::io {

class OutputLock {
 public:
  // Rank 0 of the job, before anything is written. Throws Error (exit 3) when another process
  // holds the lock, naming the output.
  explicit OutputLock(const std::string& final_path);
  // Removes <out>.partial if it is still the file this lock created (the job did not finish):
  // every way out of a job, error or stop, leaves no temporary file.
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string partial_;
  int fd_ = -1;
};

}  // namespace alinify::io
