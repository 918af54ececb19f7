#include "support/files.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string fixtures_dir() { return env_or("ALINIFY_FIXTURES", ALINIFY_DEFAULT_FIXTURES); }
std::string configs_dir() { return env_or("ALINIFY_CONFIGS", ALINIFY_DEFAULT_CONFIGS); }
std::string elastix_fixture(const std::string& relative) { return fixtures_dir() + "/elastix/" + relative; }

}  // namespace alinify::test
