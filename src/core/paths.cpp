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

namespace {

// 0 when a file can be created in `dir` (tried for real: a probe created with O_EXCL and removed),
// else the errno of the attempt.
int create_probe(const fs::path& dir) {
  const fs::path probe = dir / (".alinify-write-probe-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST ? 0 : errno;  // EEXIST: our own earlier probe, the folder is writable
  ::close(fd);
  ::unlink(probe.c_str());
  return 0;
}

// Why creating the probe failed, in words: ENOENT in a folder that exists is a file system that
// takes no new files (/proc), which strerror alone ("No such file or directory") does not say.
std::string probe_failure(int e) {
  if (e == ENOENT) return "no file can be created in it";
  return std::strerror(e);
}

}  // namespace

void require_writable_folder(const std::string& path) {
  const fs::path dir = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_input(path, "output folder " + dir.string() + " does not exist");
  if (const int e = create_probe(dir))
    fail_input(path, "output folder " + dir.string() + " is not writable (" + probe_failure(e) + ")");
}

void require_creatable_folder(const std::string& dir, const std::string& option) {
  const fs::path absolute = fs::absolute(dir).lexically_normal();
  fs::path existing = absolute;
  std::error_code ec;
  while (!fs::exists(existing, ec) && existing.has_relative_path()) existing = existing.parent_path();
  if (!fs::is_directory(existing, ec))
    fail_input(dir, option + ": " + existing.string() + " is not a folder, so the folder cannot be made there");
  if (const int e = create_probe(existing))
    fail_input(dir, option + ": " + (existing == absolute ? "the folder" : existing.string()) + " is not writable (" +
                        probe_failure(e) + ")");
}

}  // namespace alinify::paths
