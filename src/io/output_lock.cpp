#include "alinify/io/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "alinify/core/error.hpp"
#include "alinify/core/files.hpp"
#include "alinify/io/tiled_output.hpp"

namespace alinify::io {

OutputLock::OutputLock(const std::string& final_path) : partial_(partial_path(final_path)) {
  fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_runtime("cannot create " + partial_ + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK)
      fail_runtime(final_path + ": another alinify process is writing this output now (" + partial_ +
                   " is locked); refusing to write it at the same time");
    fail_runtime("cannot lock " + partial_ + ": " + std::strerror(e));
  }
  files::remove_leftovers_of(final_path);
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  struct stat mine {
  }, now{};
  if (::fstat(fd_, &mine) == 0 && ::stat(partial_.c_str(), &now) == 0 && mine.st_ino == now.st_ino &&
      mine.st_dev == now.st_dev)
    ::unlink(partial_.c_str());
  ::close(fd_);  // releases the flock
}

}  // namespace alinify::io
