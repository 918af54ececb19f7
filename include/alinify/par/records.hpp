#pragma once
// Vectors of plain records (trivially copyable structs of numbers) as the byte strings a
// Communicator moves, and back: the colour samples, the fit points and the defects' boxes and
// centroids travel this way. Both ends are the same binary, so the layout is the same.
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "alinify/core/error.hpp"

namespace alinify::par {

template <class T>
std::string bytes_of(const std::vector<T>& records) {
  static_assert(std::is_trivially_copyable_v<T>, "only plain records travel as bytes");
  return std::string(reinterpret_cast<const char*>(records.data()), records.size() * sizeof(T));
}

// Appends the records of `bytes` to `into`; a size that is not a whole number of records fails
// with `malformed` as the error line.
template <class T>
void append_records(const std::string& bytes, std::vector<T>& into, const std::string& malformed) {
  static_assert(std::is_trivially_copyable_v<T>, "only plain records travel as bytes");
  if (bytes.size() % sizeof(T) != 0) fail_runtime(malformed);
  const size_t at = into.size();
  into.resize(at + bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(into.data() + at, bytes.data(), bytes.size());
}

template <class T>
std::vector<T> records_of(const std::string& bytes, const std::string& malformed) {
  std::vector<T> out;
  append_records(bytes, out, malformed);
  return out;
}

}  // namespace alinify::par
