#pragma once
// Files for tests: scratch folders, whole-file reads and writes, and the paths CTest passes.
#include <filesystem>
#include <string>

namespace alinify::test {

// A fresh folder under ALINIFY_TEST_TMP (or the system temp folder), removed by the destructor
// unless ALINIFY_KEEP_TEST_FILES is set.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name);
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The whole file, byte for byte; empty when it cannot be opened (tests then fail on the content).
std::string read_file(const std::string& path);
// Writes the bytes to path, creating its parent folders.
void write_file(const std::string& path, const std::string& bytes);

// Paths set by CTest, with the build's defaults for running a test binary by hand.
std::string env_or(const char* name, const std::string& fallback);
std::string fixtures_dir();
std::string configs_dir();
// A file under tests/fixtures/elastix, e.g. "bspline/TransformParameters.1.txt".
std::string elastix_fixture(const std::string& relative);

}  // namespace alinify::test
