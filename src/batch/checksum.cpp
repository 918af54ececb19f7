#include "alinify/batch/checksum.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "alinify/core/error.hpp"

namespace alinify::batch {
namespace {

struct StateDeleter {
  void operator()(XXH64_state_t* s) const { XXH64_freeState(s); }
};

// Closes the file on every way out of xxh64_file, errors included.
struct FileCloser {
  int fd;
  ~FileCloser() { ::close(fd); }
};

}  // namespace

uint64_t xxh64(const void* data, size_t size, uint64_t seed) { return XXH64(data, size, seed); }

uint64_t xxh64_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_input(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  const FileCloser closer{fd};
  std::unique_ptr<XXH64_state_t, StateDeleter> state(XXH64_createState());
  if (!state || XXH64_reset(state.get(), 0) == XXH_ERROR) throw std::bad_alloc();
  std::vector<uint8_t> buf(4u << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_input(path, std::string("read error: ") + std::strerror(errno));
    }
    if (n == 0) break;
    XXH64_update(state.get(), buf.data(), static_cast<size_t>(n));
  }
  return XXH64_digest(state.get());
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

}  // namespace alinify::batch
