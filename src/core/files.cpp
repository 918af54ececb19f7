#include "alinify/core/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "alinify/core/error.hpp"

namespace alinify::files {
namespace {

// fsync through a descriptor of its own: std::ofstream does not expose the one it wrote through,
// and fsync flushes the file's data whichever descriptor asks.
bool sync_to_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool synced = ::fsync(fd) == 0;
  return ::close(fd) == 0 && synced;
}

// The rename itself reaches the disk only with its folder; some file systems refuse to fsync a
// folder, and the file is complete either way, so this is best effort.
void sync_folder_of(const std::string& path) {
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

enum class ReadOutcome { kRead, kCannotOpen, kCannotRead };

ReadOutcome read_into(const std::string& path, std::string& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ReadOutcome::kCannotOpen;
  std::array<char, 1 << 16> chunk;
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) bytes.append(chunk.data(), in.gcount());
  return in.bad() ? ReadOutcome::kCannotRead : ReadOutcome::kRead;
}

}  // namespace

std::string temporary_name(const std::string& path) { return path + ".partial." + std::to_string(::getpid()); }

namespace {

// Removes the regular files in `folder` whose names `is_leftover` accepts; best effort (a file
// another step removed meanwhile, or a folder that cannot be read, is no error).
template <class Pred>
void remove_files_in(const std::filesystem::path& folder, Pred is_leftover) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ignored;
    if (it->is_regular_file(ignored) && is_leftover(it->path().filename().string()))
      std::filesystem::remove(it->path(), ignored);
  }
}

}  // namespace

void remove_leftovers_of(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string prefix = p.filename().string() + ".partial";
  const std::filesystem::path folder = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  remove_files_in(folder, [&](const std::string& name) {
    return name.size() > prefix.size() + 1 && name.compare(0, prefix.size(), prefix) == 0 &&
           (name[prefix.size()] == '.' || name[prefix.size()] == '-');
  });
}

void remove_leftovers_in(const std::string& folder) {
  remove_files_in(folder, [](const std::string& name) {
    return name.find(".partial.") != std::string::npos || name.find(".partial-") != std::string::npos;
  });
}

void move_into_place(const std::string& temporary, const std::string& path, const std::string& failure) {
  std::error_code ec;
  if (sync_to_disk(temporary))
    std::filesystem::rename(temporary, path, ec);
  else
    ec = std::make_error_code(std::errc::io_error);
  if (ec) {
    std::filesystem::remove(temporary, ec);
    fail_runtime(failure);
  }
  sync_folder_of(path);
}

void write_atomically(const std::string& path, std::string_view text, const std::string& failure) {
  write_atomically(
      path, [&](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); }, failure);
}

void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                      const std::string& failure) {
  const std::string message = failure.empty() ? "cannot write " + path + " (disk full?)" : failure;
  const std::string temporary = temporary_name(path);
  std::error_code ec;
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    try {
      write(out);
    } catch (...) {
      out.close();
      std::filesystem::remove(temporary, ec);
      throw;
    }
    out.close();
    if (!out) {
      std::filesystem::remove(temporary, ec);
      fail_runtime(message);
    }
  }
  move_into_place(temporary, path, message);
}

std::string read_file(const std::string& path, const std::string& what) {
  std::string bytes;
  const ReadOutcome outcome = read_into(path, bytes);
  if (outcome == ReadOutcome::kRead) return bytes;
  if (what.empty()) fail_input(path, "cannot be read");
  fail_input(path, (outcome == ReadOutcome::kCannotOpen ? "cannot open " : "cannot read ") + what);
}

std::optional<std::string> try_read_file(const std::string& path) {
  std::string bytes;
  if (read_into(path, bytes) != ReadOutcome::kRead) return std::nullopt;
  return bytes;
}

}  // namespace alinify::files
