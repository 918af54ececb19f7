#include "alinify/reg/elastix_runner.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alinify/core/error.hpp"
#include "alinify/core/resources.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace alinify::reg {
namespace {

bool is_executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0;
}

std::string log_tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += (out.empty() ? "" : " | ") + l;
  return out;
}

bool log_contains(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (!is_executable(name)) fail_usage("--elastix: " + name + " is not an executable file");
    return name;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && is_executable(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  fail_usage(name + " not found on PATH: install it (Debian: apt-get install elastix) or pass --elastix PATH");
}

int spawn_and_wait(const std::vector<std::string>& argv, const std::string& log_path, uint64_t* peak_rss) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) fail_runtime("cannot start " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) fail_runtime("waiting for " + argv[0] + " failed: " + std::strerror(errno));
  }
  if (peak_rss) *peak_rss = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

ElastixResult run_elastix(const ElastixJob& job) {
  fs::create_directories(job.out_dir);
  std::vector<std::string> argv{job.executable, "-f", job.fixed, "-m", job.moving, "-out", job.out_dir};
  for (const auto& p : job.parameter_files) {
    argv.push_back("-p");
    argv.push_back(p);
  }
  if (!job.initial_transform.empty()) {
    argv.push_back("-t0");
    argv.push_back(job.initial_transform);
  }
  if (job.threads > 0) {
    argv.push_back("-threads");
    argv.push_back(std::to_string(job.threads));
  }
  ElastixResult r;
  r.log_path = (fs::path(job.out_dir) / "elastix.log").string();
  const std::string console = (fs::path(job.out_dir) / "elastix.console.log").string();
  const double t0 = now_seconds();
  int status = spawn_and_wait(argv, console, &r.peak_rss_bytes);
  r.seconds = now_seconds() - t0;
  const std::string log = fs::exists(r.log_path) ? r.log_path : console;
  if (status != 0) {
    if (log_contains(log, "Too many samples map outside moving image buffer"))
      fail_input(job.moving, "does not overlap the design enough to register (elastix: too many samples map "
                             "outside the moving image); log: " + log);
    fail_runtime("elastix failed (" + (status > 128 ? "killed by signal " + std::to_string(status - 128)
                                                    : "exit " + std::to_string(status)) +
                 "), log " + log + ": " + log_tail(log, 3));
  }
  for (size_t k = 0; k < job.parameter_files.size(); ++k) {
    fs::path tp = fs::path(job.out_dir) / ("TransformParameters." + std::to_string(k) + ".txt");
    if (!fs::exists(tp)) fail_runtime("elastix exited 0 but wrote no " + tp.string() + "; log " + log);
    r.transform_files.push_back(tp.string());
  }
  return r;
}

}  // namespace alinify::reg
