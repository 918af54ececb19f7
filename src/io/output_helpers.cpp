#include "output_helpers.hpp"

#include <cpl_conv.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "alinify/core/error.hpp"
#include "alinify/io/tile_codec.hpp"

namespace alinify::io {

void pwrite_all(int fd, const uint8_t* data, size_t n, uint64_t at, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::pwrite(fd, data + done, n - done, static_cast<off_t>(at + done));
    if (k < 0) {
      if (errno == EINTR) continue;
      fail_runtime("write to " + path + " failed: " + std::strerror(errno));
    }
    done += static_cast<size_t>(k);
  }
}

void pread_all(int fd, uint8_t* data, size_t n, uint64_t at, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::pread(fd, data + done, n - done, static_cast<off_t>(at + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) fail_runtime("read from " + path + " failed: " + (k < 0 ? std::strerror(errno) : "it ends early"));
    done += static_cast<size_t>(k);
  }
}

OverviewEncodingLevel::OverviewEncodingLevel(const OutputSpec& spec) {
  const Codec codec = codec_from_name(spec.compress);
  const std::string level = std::to_string(checked_level(codec, spec.compress_level));
  if (codec == Codec::kZstd) CPLSetThreadLocalConfigOption("ZSTD_LEVEL_OVERVIEW", level.c_str());
  if (codec == Codec::kDeflate) CPLSetThreadLocalConfigOption("ZLEVEL_OVERVIEW", level.c_str());
}

OverviewEncodingLevel::~OverviewEncodingLevel() {
  CPLSetThreadLocalConfigOption("ZSTD_LEVEL_OVERVIEW", nullptr);
  CPLSetThreadLocalConfigOption("ZLEVEL_OVERVIEW", nullptr);
}

}  // namespace alinify::io
