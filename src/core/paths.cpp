#include "alinify/core/paths.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "alinify/core/error.hpp"

namespace fs = std::filesystem;

namespace alinify::paths {

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    const bool eq = fs::equivalent(a, b, ec);
    if (!ec) return eq;
  }
  return fs::weakly_canonical(fs::absolute(a), ec) == fs::weakly_canonical(fs::absolute(b), ec);
}

void refuse_overwriting_inputs(const std::vector<Named>& outputs, const std::vector<Named>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& [oopt, out] = outputs[i];
    for (const auto& [iopt, in] : inputs)
      if (!in.empty() && same_file(out, in))
        fail_input(out, oopt + " is the same file as the input " + iopt + "; refusing to overwrite an input");
    for (size_t j = 0; j < i; ++j)
      if (same_file(out, outputs[j].second)) fail_input(out, oopt + " and " + outputs[j].first + " are the same file");
  }
}

void require_input_file(const std::string& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) fail_input(path, "no such file");
  if (fs::is_directory(st)) fail_input(path, "is a directory, not a file");
  if (fs::is_regular_file(st) && fs::file_size(path, ec) == 0) fail_input(path, "is empty (0 bytes)");
}

void require_writable_folder(const std::string& path) {
  const fs::path dir = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_input(path, "output folder " + dir.string() + " does not exist");
  const fs::path probe = dir / (".alinify-write-probe-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int e = errno;
    if (e == EEXIST) return;  // our own earlier probe: the folder is writable
    fail_input(path, "output folder " + dir.string() + " is not writable (" + std::strerror(e) + ")");
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace alinify::paths
