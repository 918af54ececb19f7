#pragma once
// Pieces the output writers share (tiled_output.cpp, overview_staging.cpp): whole positioned reads
// and writes of a file descriptor, and GDAL's encoding level for the overviews it encodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "alinify/io/tiled_output.hpp"

namespace alinify::io {

// All `n` bytes at offset `at`, retried after EINTR; a runtime error naming `path` otherwise
// (a read that ends early too).
void pwrite_all(int fd, const uint8_t* data, size_t n, uint64_t at, const std::string& path);
void pread_all(int fd, uint8_t* data, size_t n, uint64_t at, const std::string& path);

// While it lives, GDAL encodes the overview tiles it computes at the output's own level
// (ZSTD_LEVEL_OVERVIEW / ZLEVEL_OVERVIEW, thread-local: nothing else in the process sees them).
class OverviewEncodingLevel {
 public:
  explicit OverviewEncodingLevel(const OutputSpec& spec);
  ~OverviewEncodingLevel();
  OverviewEncodingLevel(const OverviewEncodingLevel&) = delete;
  OverviewEncodingLevel& operator=(const OverviewEncodingLevel&) = delete;
};

}  // namespace alinify::io
