#include "support/test_support.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace alinify::test {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

ScratchDir::ScratchDir(const std::string& name) {
  std::filesystem::path base = env_or("ALINIFY_TEST_TMP", std::filesystem::temp_directory_path().string());
  std::random_device rd;
  path_ = base / (name + "-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 1000000));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  if (env_or("ALINIFY_KEEP_TEST_FILES", "").empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

CommandResult run_command(const std::string& command_line) {
  CommandResult r;
  std::string cmd = command_line + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string alinify_bin() { return env_or("ALINIFY_BIN", ALINIFY_DEFAULT_BIN); }
std::string fixtures_dir() { return env_or("ALINIFY_FIXTURES", ALINIFY_DEFAULT_FIXTURES); }
std::string configs_dir() { return env_or("ALINIFY_CONFIGS", ALINIFY_DEFAULT_CONFIGS); }

}  // namespace alinify::test
