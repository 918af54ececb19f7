#pragma once
// Small helpers shared by the tests: scratch folders, running the real binary, environment.
#include <filesystem>
#include <string>

namespace alinify::test {

// A fresh folder under ALINIFY_TEST_TMP (or the system temp folder), removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name);
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line (tests only; the product never uses a shell), capturing its output.
CommandResult run_command(const std::string& command_line);

// The alinify binary under test (ALINIFY_BIN) and other paths set by CTest.
std::string alinify_bin();
std::string fixtures_dir();
std::string configs_dir();
std::string env_or(const char* name, const std::string& fallback);

}  // namespace alinify::test
