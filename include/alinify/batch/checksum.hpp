#pragma once
// XXH64 (seed 0) of a file: the journal's proof that an output is the one that was finished.
// libxxhash (several GB/s); the same value as `xxhsum -H1 FILE` (Debian package xxhash).
#include <cstddef>
#include <cstdint>
#include <string>

namespace alinify::batch {

uint64_t xxh64(const void* data, size_t size, uint64_t seed = 0);
// Streams the file; throws a bad-input error naming it when it cannot be read.
uint64_t xxh64_file(const std::string& path);
std::string hex64(uint64_t v);  // 16 lower-case hex digits

}  // namespace alinify::batch
